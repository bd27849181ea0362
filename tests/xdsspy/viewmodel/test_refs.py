"""References in one resource body: routes, clusters, endpoints, secrets and ECDS names, with their paths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import message as pb_message

from xdsspy.controlplane import resources as cp
from xdsspy.decode import resources
from xdsspy.testing import xds
from xdsspy.viewmodel import refs

V2 = "type.googleapis.com/envoy.api.v2."


def body(message: pb_message.Message, type_url: str = "") -> dict[str, Any]:
    """The JSON /config_dump would print for a message, as xdsspy decodes it."""
    url = type_url or cp.type_url_of(message)
    decoded: dict[str, Any] = resources.decode(url, message.SerializeToString()).body
    return decoded


def targets(found: Iterable[refs.Ref]) -> list[tuple[str, str]]:
    return [(ref.target_type, ref.target) for ref in found]


def tcp_listener(name: str, proxy: tcp_proxy_pb2.TcpProxy, *, default: bool = False) -> listener_pb2.Listener:
    result = listener_pb2.Listener(name=name)
    chain = result.default_filter_chain if default else result.filter_chains.add()
    chain.filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(proxy)
    return result


def nested(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    node = leaf
    for _ in range(levels):
        node = {"filters": [node]}
    return node


def test_downstream_tls_secrets_and_session_ticket_keys() -> None:
    context = tls_pb2.DownstreamTlsContext()
    context.common_tls_context.tls_certificate_sds_secret_configs.add(name="server-cert")
    context.session_ticket_keys_sds_secret_config.name = "tickets"
    result = tcp_listener("tls", tcp_proxy_pb2.TcpProxy(stat_prefix="t", cluster="backend"))
    result.filter_chains[0].transport_socket.name = "envoy.transport_sockets.tls"
    result.filter_chains[0].transport_socket.typed_config.Pack(context)
    found = refs.refs_of(cp.LISTENER, "tls", body(result))
    assert targets(found) == [
        (refs.CLUSTER, "backend"),
        (refs.SECRET, "server-cert"),
        (refs.SECRET, "tickets"),
    ]
    assert {ref.via for ref in found if ref.target == "tickets"} == {
        "filter_chains[0].transport_socket.typed_config.session_ticket_keys_sds_secret_config.name"
    }


def test_weighted_and_mirror_clusters_but_not_cluster_header() -> None:
    routes = route_pb2.RouteConfiguration(name="routes-1")
    vhost = routes.virtual_hosts.add(name="vh", domains=["*"])
    vhost.request_mirror_policies.add(cluster="vhost-mirror")
    weighted = vhost.routes.add()
    weighted.match.prefix = "/a"
    weighted.route.weighted_clusters.clusters.add(name="v1").weight.value = 90
    weighted.route.weighted_clusters.clusters.add(name="v2").weight.value = 10
    weighted.route.request_mirror_policies.add(cluster="shadow")
    dynamic = vhost.routes.add()
    dynamic.match.prefix = "/b"
    dynamic.route.cluster_header = "x-cluster"
    found = refs.refs_of(cp.ROUTE, "routes-1", body(routes))
    assert {(ref.target, ref.via) for ref in found} == {
        ("v1", "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].name"),
        ("v2", "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name"),
        ("shadow", "virtual_hosts[0].routes[0].route.request_mirror_policies[0].cluster"),
        ("vhost-mirror", "virtual_hosts[0].request_mirror_policies[0].cluster"),
    }
    assert {ref.target_type for ref in found} == {refs.CLUSTER}


def test_istio_1_1_untyped_config_filters() -> None:
    listener = {
        "@type": V2 + "Listener",
        "name": "old",
        "filter_chains": [
            {"filters": [{"name": "envoy.tcp_proxy", "config": {"stat_prefix": "t", "cluster": "db"}}]},
            {
                "filters": [
                    {"name": "mixer", "config": {"cluster": "not-a-reference"}},
                    {"name": "envoy.http_connection_manager", "config": {"rds": {"route_config_name": "80"}}},
                ]
            },
        ],
    }
    found = refs.refs_of(V2 + "Listener", "old", listener)
    assert [(ref.target, ref.via) for ref in found] == [
        ("db", "filter_chains[0].filters[0].config.cluster"),
        ("80", "filter_chains[1].filters[1].config.rds.route_config_name"),
    ]


def test_the_walk_is_bounded_by_depth_and_survives_cycles() -> None:
    tcp = {"@type": cp.type_url_of(tcp_proxy_pb2.TcpProxy()), "cluster": "found"}
    shallow = nested(20, dict(tcp))
    assert targets(refs.refs_of(cp.LISTENER, "l", shallow)) == [(cp.CLUSTER, "found")]
    assert refs.refs_of(cp.LISTENER, "l", nested(refs.MAX_DEPTH, dict(tcp))) == [], "beyond the bound"
    cyclic: dict[str, Any] = {"filters": [dict(tcp)]}
    cyclic["self"] = cyclic
    cyclic["also"] = [cyclic, {"more": cyclic}]
    assert targets(refs.refs_of(cp.LISTENER, "l", cyclic)) == [(cp.CLUSTER, "found")]


def test_an_istio_cluster_names_its_endpoints_and_two_secrets_only() -> None:
    """tcluster is what istiod sends a sidecar; its SDS source (api_config_source -> sds-grpc) is no link."""
    cluster = xds.tcluster(7)
    found = refs.refs_of(cp.CLUSTER, cluster.name, body(cluster))
    assert targets(found) == [
        (cp.ENDPOINT, cluster.name),
        (refs.SECRET, "default"),
        (refs.SECRET, "ROOTCA"),
    ]
    assert found[0].via == "eds_cluster_config.service_name"


def test_refs_are_plain_frozen_values() -> None:
    ref = refs.Ref(cp.LISTENER, "l", cp.ROUTE, "r", "rds.route_config_name")
    with pytest.raises(AttributeError):
        ref.target = "other"  # type: ignore[misc]
    assert ref == refs.Ref(cp.LISTENER, "l", cp.ROUTE, "r", "rds.route_config_name")
