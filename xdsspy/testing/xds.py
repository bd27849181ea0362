"""t-prefixed factories for xDS messages: realistic Istio-style pushes for tests and benchmarks.

The clusters look like what istiod sends a sidecar (EDS over ADS, Istio mTLS
through SDS, circuit breakers, Istio metadata, HTTP protocol options, a
TypedStruct-wrapped metadata-exchange filter), so decoding figures measured on
them carry over to real pushes.
"""

from __future__ import annotations

from envoy.config.cluster.v3 import circuit_breaker_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.core.v3 import grpc_service_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.extensions.transport_sockets.raw_buffer.v3 import raw_buffer_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from envoy.service.discovery.v3 import discovery_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import any_pb2
from google.protobuf import struct_pb2
from udpa.type.v1 import typed_struct_pb2

CLUSTER_TYPE_URL = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def _any(message: object, type_url: str | None = None) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    if type_url is not None:
        packed.type_url = type_url
    return packed


def _sds(name: str) -> secret_pb2.SdsSecretConfig:
    config = secret_pb2.SdsSecretConfig(name=name)
    source = config.sds_config
    source.resource_api_version = config_source_pb2.V3
    source.initial_fetch_timeout.FromSeconds(0)
    api = source.api_config_source
    api.api_type = config_source_pb2.ApiConfigSource.GRPC
    api.transport_api_version = config_source_pb2.V3
    api.set_node_on_first_message_only = True
    api.grpc_services.append(grpc_service_pb2.GrpcService(envoy_grpc={"cluster_name": "sds-grpc"}))
    return config


def tcluster(index: int) -> cluster_pb2.Cluster:
    """One outbound cluster as istiod renders it for a sidecar (~1.3 KB on the wire)."""
    ns = f"ns-{index % 97}"
    host = f"svc-{index}.{ns}.svc.cluster.local"
    port = 8000 + index % 1000
    name = f"outbound|{port}||{host}"
    cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
    cluster.connect_timeout.FromMilliseconds(10_000)
    cluster.lb_policy = cluster_pb2.Cluster.LEAST_REQUEST
    eds = cluster.eds_cluster_config
    eds.service_name = name
    eds.eds_config.ads.SetInParent()
    eds.eds_config.initial_fetch_timeout.FromSeconds(0)
    eds.eds_config.resource_api_version = config_source_pb2.V3
    thresholds = circuit_breaker_pb2.CircuitBreakers.Thresholds(track_remaining=True)
    thresholds.max_connections.value = 4294967295
    thresholds.max_pending_requests.value = 4294967295
    thresholds.max_requests.value = 4294967295
    thresholds.max_retries.value = 4294967295
    cluster.circuit_breakers.thresholds.append(thresholds)
    cluster.common_lb_config.locality_weighted_lb_config.SetInParent()
    outlier = cluster.outlier_detection
    outlier.consecutive_5xx.value = 5
    outlier.interval.FromSeconds(10)
    outlier.base_ejection_time.FromSeconds(30)
    outlier.max_ejection_percent.value = 100

    istio = struct_pb2.Struct()
    istio.update(
        {
            "default_original_port": port,
            "services": [{"host": host, "name": f"svc-{index}", "namespace": ns}],
        }
    )
    cluster.metadata.filter_metadata["istio"].CopyFrom(istio)

    options = http_protocol_options_pb2.HttpProtocolOptions()
    options.common_http_protocol_options.idle_timeout.FromSeconds(3600)
    options.common_http_protocol_options.max_requests_per_connection.value = 1024
    options.use_downstream_protocol_config.http_protocol_options.SetInParent()
    options.use_downstream_protocol_config.http2_protocol_options.CopyFrom(
        protocol_pb2.Http2ProtocolOptions(max_concurrent_streams={"value": 1073741824})
    )
    cluster.typed_extension_protocol_options[
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ].CopyFrom(_any(options))

    tls = tls_pb2.UpstreamTlsContext(sni=f"outbound_.{port}_._.{host}")
    common = tls.common_tls_context
    common.alpn_protocols.extend(["istio-peer-exchange", "istio"])
    common.tls_params.tls_minimum_protocol_version = common_pb2.TlsParameters.TLSv1_2
    common.tls_certificate_sds_secret_configs.append(_sds("default"))
    validation = common.combined_validation_context
    validation.default_validation_context.match_typed_subject_alt_names.append(
        common_pb2.SubjectAltNameMatcher(
            san_type=common_pb2.SubjectAltNameMatcher.URI,
            matcher=string_pb2.StringMatcher(exact=f"spiffe://cluster.local/ns/{ns}/sa/svc-{index}"),
        )
    )
    validation.validation_context_sds_secret_config.CopyFrom(_sds("ROOTCA"))
    istio_match = struct_pb2.Struct()
    istio_match.update({"tlsMode": "istio"})
    cluster.transport_socket_matches.add(
        name="tlsMode-istio",
        match=istio_match,
        transport_socket=base_pb2.TransportSocket(name="envoy.transport_sockets.tls", typed_config=_any(tls)),
    )
    cluster.transport_socket_matches.add(
        name="tlsMode-disabled",
        match=struct_pb2.Struct(),
        transport_socket=base_pb2.TransportSocket(
            name="envoy.transport_sockets.raw_buffer", typed_config=_any(raw_buffer_pb2.RawBuffer())
        ),
    )
    exchange = typed_struct_pb2.TypedStruct(
        type_url="type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange"
    )
    exchange.value.update({"protocol": "istio-peer-exchange"})
    cluster.filters.add(name="istio.metadata_exchange", typed_config=_any(exchange))
    return cluster


def tcds_response(count: int, version: str = "2024-01-01T00:00:00Z/1") -> discovery_pb2.DiscoveryResponse:
    """A SotW CDS push of `count` realistic clusters, as istiod sends it on ADS."""
    response = discovery_pb2.DiscoveryResponse(
        version_info=version, type_url=CLUSTER_TYPE_URL, nonce=f"{version}-nonce"
    )
    response.control_plane.identifier = '{"Component":"istiod","ID":"istiod-0","Info":{"version":"1.2x"}}'
    response.resources.extend(_any(tcluster(i)) for i in range(count))
    return response
