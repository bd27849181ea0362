"""The method table matches Envoy's own service definitions, and classification covers every form."""

from __future__ import annotations

import pytest

from xdsspy.decode import methods
from xdsspy.decode import schemas


def test_table_matches_the_service_definitions_in_xds_protos() -> None:
    schemas.load_envoy_api()
    pool = schemas.default().pool
    for info in methods.known_methods():
        if info.rest:
            continue
        service_name, rpc = info.method[1:].split("/")
        method = pool.FindServiceByName(service_name).methods_by_name[rpc]
        assert (method.input_type.full_name, method.output_type.full_name) == (
            info.request_type,
            info.response_type,
        ), info.method
        assert method.server_streaming == info.streaming, info.method
        if info.implied_type_url:
            assert pool.FindMessageTypeByName(info.implied_type_url.split("/")[-1])


def test_every_discovery_service_in_the_api_is_in_the_table() -> None:
    files = schemas.load_envoy_api()
    known = {info.method for info in methods.known_methods()}
    discovery_messages = {"DiscoveryRequest", "DeltaDiscoveryRequest"}
    missing = [
        f"/{service.full_name}/{method.name}"
        for file_descriptor in files
        for service in file_descriptor.services_by_name.values()
        for method in service.methods
        if method.input_type.name in discovery_messages and f"/{service.full_name}/{method.name}" not in known
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("method", "family", "service", "version", "type_url"),
    [
        (
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
            "sotw",
            "ADS",
            "v3",
            "",
        ),
        (
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
            "delta",
            "ADS",
            "v3",
            "",
        ),
        (
            "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources",
            "sotw",
            "ADS",
            "v2",
            "",
        ),
        ("/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters", "sotw", "CDS", "v3", "Cluster"),
        (
            "/envoy.api.v2.ListenerDiscoveryService/DeltaListeners",
            "delta",
            "LDS",
            "v2",
            "envoy.api.v2.Listener",
        ),
        (
            "/envoy.service.discovery.v2.SecretDiscoveryService/StreamSecrets",
            "sotw",
            "SDS",
            "v2",
            "auth.Secret",
        ),
        (
            "envoy.service.endpoint.v3.LocalityEndpointDiscoveryService/DeltaLocalityEndpoints",
            "delta",
            "LEDS",
            "v3",
            "LbEndpoint",
        ),
        ("/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats", "other", "LRS", "v3", ""),
        (
            "/envoy.service.status.v2.ClientStatusDiscoveryService/FetchClientStatus",
            "other",
            "CSDS",
            "v2",
            "",
        ),
        ("/envoy.service.discovery.v2.HealthDiscoveryService/StreamHealthCheck", "other", "HDS", "v2", ""),
        ("/v3/discovery:clusters", "sotw", "CDS", "v3", "envoy.config.cluster.v3.Cluster"),
        ("/v2/discovery:scoped-routes?x=1", "sotw", "SRDS", "v2", "ScopedRouteConfiguration"),
        ("/v3/discovery:client_status", "other", "CSDS", "v3", ""),
        ("/grpc.health.v1.Health/Check", "unknown", "", "", ""),
        ("", "unknown", "", "", ""),
    ],
)
def test_classify(method: str, family: str, service: str, version: str, type_url: str) -> None:
    info = methods.classify(method)
    assert (info.family, info.service, info.api_version) == (family, service, version)
    assert info.implied_type_url.endswith(type_url)
    assert info.method == method
    assert info.is_discovery == (family in ("sotw", "delta"))


def test_fetch_and_rest_are_unary() -> None:
    assert not methods.classify("/envoy.service.route.v3.RouteDiscoveryService/FetchRoutes").streaming
    assert methods.classify("/v3/discovery:routes").rest
