"""What the demo's control plane serves, step by step: Istio-shaped resources that keep changing.

A small Bookinfo-like mesh as one sidecar (`productpage`) sees it: an
outbound listener on 9080 whose routes (RDS `9080`) go to `details`,
`ratings` and `reviews` (three versions, weighted); an inbound listener;
EDS clusters with Istio's mTLS transport-socket match (`tlsMode-istio`,
certificates from SDS `default` and `ROOTCA`), BlackHole and Passthrough
clusters; endpoints with localities. `state(step)` is the whole
configuration at a step: every step changes one thing (scale an endpoint
set, shift the reviews weights, add or remove a cluster), and from
`FIRST_BAD_STEP`, every `BAD_EVERY` steps, one cluster gets a negative
connect_timeout, which Envoy NACKs ("Invalid duration"); the next step
fixes it. `rest=True` gives the same mesh for a REST Envoy, which polls
only CDS and LDS: endpoints and routes inline, no SDS. Pure: messages out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.raw_buffer.v3 import raw_buffer_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import struct_pb2
from google.protobuf import wrappers_pb2

from xdsspy.controlplane import resources as res
from xdsspy.demo import material

SECRET = res.TYPE_PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"
NAMESPACE = "default"
DOMAIN = f"{NAMESPACE}.svc.cluster.local"
PORT = 9080
FIRST_BAD_STEP = 4
"""With a step every 3 s, the first rejected push comes about 12 s in."""
BAD_EVERY = 20
"""A rejected push every 20 steps: once a minute at the default interval."""
BAD_CLUSTER = f"outbound|{PORT}||ratings.{DOMAIN}"
WEIGHTS = ((80, 20, 0), (50, 50, 0), (0, 50, 50), (0, 0, 100), (100, 0, 0))
TYPES = (res.CLUSTER, res.ENDPOINT, res.LISTENER, res.ROUTE, SECRET)
REST_TYPES = (res.CLUSTER, res.LISTENER)


def host(service: str) -> str:
    return f"{service}.{DOMAIN}"


def cluster_name(service: str, subset: str = "") -> str:
    return f"outbound|{PORT}|{subset}|{host(service)}"


def is_bad(step: int) -> bool:
    return step >= FIRST_BAD_STEP and (step - FIRST_BAD_STEP) % BAD_EVERY == 0


def what_changes(step: int) -> str:
    """One line for the step's change, as the demo prints it."""
    if step == 0:
        return "first configuration"
    if is_bad(step):
        return f"{BAD_CLUSTER}: connect_timeout -1s (Envoy will reject it)"
    if is_bad(step - 1):
        return f"{BAD_CLUSTER}: connect_timeout fixed"
    return ("scale reviews-v2 endpoints", "shift reviews weights", "add or remove ratings-v2")[step % 3]


def _changes_so_far(step: int, kind: int) -> int:
    """How many of the steps up to `step` made change `kind` (0 scale, 1 weights, 2 ratings-v2)."""
    return sum(1 for s in range(1, step + 1) if s % 3 == kind and not is_bad(s) and not is_bad(s - 1))


def state(step: int, *, rest: bool = False) -> dict[str, list[Any]]:
    """The whole configuration at `step`: type URL -> resources."""
    reviews_v2_endpoints = 2 + _changes_so_far(step, 0) % 2
    weights = WEIGHTS[_changes_so_far(step, 1) % len(WEIGHTS)]
    ratings_v2 = _changes_so_far(step, 2) % 2 == 1
    endpoints = {
        cluster_name("details"): [("127.0.0.1", 19081)],
        cluster_name("ratings"): [("127.0.0.1", 19082)],
        cluster_name("reviews", "v1"): [("127.0.0.1", 19083)],
        cluster_name("reviews", "v2"): [("127.0.0.1", 19084 + i) for i in range(reviews_v2_endpoints)],
        cluster_name("reviews", "v3"): [("127.0.0.1", 19087)],
    }
    if ratings_v2:
        endpoints[cluster_name("ratings", "v2")] = [("127.0.0.1", 19088)]
    clusters = [
        _outbound(name, eds=not rest, endpoints=[] if not rest else addrs)
        for name, addrs in endpoints.items()
    ]
    if is_bad(step):
        bad = next(c for c in clusters if c.name == BAD_CLUSTER)
        bad.connect_timeout.seconds = -1
    clusters += [_inbound(), _black_hole(), _passthrough()]
    routes = _routes(weights, ratings_v2)
    if rest:
        return {res.CLUSTER: clusters, res.LISTENER: [_outbound_listener(inline=routes), _inbound_listener()]}
    return {
        res.CLUSTER: clusters,
        res.ENDPOINT: [_assignment(name, addrs) for name, addrs in endpoints.items()],
        res.LISTENER: [_outbound_listener(), _inbound_listener()],
        res.ROUTE: [routes],
        SECRET: _secrets(),
    }


# -- clusters -------------------------------------------------------------------------------------


def _ads_source() -> config_source_pb2.ConfigSource:
    source = config_source_pb2.ConfigSource(resource_api_version=config_source_pb2.V3)
    source.ads.SetInParent()
    return source


def _istio_metadata(target: base_pb2.Metadata, service: str) -> None:
    istio = struct_pb2.Struct()
    istio.update({"services": [{"host": host(service), "name": service, "namespace": NAMESPACE}]})
    target.filter_metadata["istio"].CopyFrom(istio)


def _mtls(name: str) -> tls_pb2.UpstreamTlsContext:
    service = name.rsplit("|", 1)[1]
    subset = name.split("|")[2]
    context = tls_pb2.UpstreamTlsContext(sni=f"outbound_.{PORT}_.{subset}_.{service}")
    common = context.common_tls_context
    common.alpn_protocols.extend(["istio-peer-exchange", "istio"])
    common.tls_params.tls_minimum_protocol_version = common_pb2.TlsParameters.TLSv1_2
    common.tls_params.tls_maximum_protocol_version = common_pb2.TlsParameters.TLSv1_3
    common.tls_certificate_sds_secret_configs.add(name="default", sds_config=_ads_source())
    combined = common.combined_validation_context
    combined.default_validation_context.match_subject_alt_names.add(
        exact=f"spiffe://cluster.local/ns/{NAMESPACE}/sa/bookinfo-{service.split('.')[0]}"
    )
    combined.validation_context_sds_secret_config.name = "ROOTCA"
    combined.validation_context_sds_secret_config.sds_config.CopyFrom(_ads_source())
    return context


def _outbound(name: str, *, eds: bool, endpoints: Sequence[tuple[str, int]]) -> cluster_pb2.Cluster:
    service = name.rsplit("|", 1)[1].split(".")[0]
    if eds:
        cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
        cluster.eds_cluster_config.eds_config.CopyFrom(_ads_source())
        cluster.eds_cluster_config.service_name = name
    else:
        cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.STATIC)
        cluster.load_assignment.CopyFrom(_assignment(name, endpoints))
    cluster.connect_timeout.seconds = 10
    cluster.lb_policy = cluster_pb2.Cluster.LEAST_REQUEST
    thresholds = cluster.circuit_breakers.thresholds.add()
    for field in ("max_connections", "max_pending_requests", "max_requests", "max_retries"):
        getattr(thresholds, field).value = 4294967295
    thresholds.track_remaining = True
    _istio_metadata(cluster.metadata, service)
    if eds:
        istio = cluster.transport_socket_matches.add(name="tlsMode-istio")
        istio.match.update({"tlsMode": "istio"})
        istio.transport_socket.name = "envoy.transport_sockets.tls"
        istio.transport_socket.typed_config.Pack(_mtls(name))
    plain = cluster.transport_socket_matches.add(name="tlsMode-disabled")
    plain.match.SetInParent()
    plain.transport_socket.name = "envoy.transport_sockets.raw_buffer"
    plain.transport_socket.typed_config.Pack(raw_buffer_pb2.RawBuffer())
    return cluster


def _inbound() -> cluster_pb2.Cluster:
    cluster = res.static_cluster(f"inbound|{PORT}||", [("127.0.0.1", PORT)], connect_timeout_s=10.0)
    return cluster


def _black_hole() -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(name="BlackHoleCluster", type=cluster_pb2.Cluster.STATIC)
    cluster.connect_timeout.seconds = 10
    return cluster


def _passthrough() -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(name="PassthroughCluster", type=cluster_pb2.Cluster.ORIGINAL_DST)
    cluster.connect_timeout.seconds = 10
    cluster.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
    return cluster


def _assignment(name: str, endpoints: Sequence[tuple[str, int]]) -> endpoint_pb2.ClusterLoadAssignment:
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    locality = cla.endpoints.add()
    locality.locality.region, locality.locality.zone = "us-central1", "us-central1-a"
    for address, port in endpoints:
        lb = locality.lb_endpoints.add()
        socket = lb.endpoint.address.socket_address
        socket.address, socket.port_value = address, port
        lb.metadata.filter_metadata["envoy.transport_socket_match"].update({"tlsMode": "istio"})
        lb.load_balancing_weight.value = 1
    return cla


# -- listeners and routes -------------------------------------------------------------------------


def _manager(
    stat_prefix: str, *, rds: str = "", inline: route_pb2.RouteConfiguration | None = None
) -> hcm_pb2.HttpConnectionManager:
    manager = hcm_pb2.HttpConnectionManager(stat_prefix=stat_prefix)
    if inline is not None:
        manager.route_config.CopyFrom(inline)
    else:
        manager.rds.route_config_name = rds
        manager.rds.config_source.CopyFrom(_ads_source())
    router = manager.http_filters.add(name="envoy.filters.http.router")
    router.typed_config.Pack(router_pb2.Router())
    manager.use_remote_address.value = False
    return manager


def _listener(name: str, direction: int) -> listener_pb2.Listener:
    listener = listener_pb2.Listener(name=name, traffic_direction=direction)
    socket = listener.address.socket_address
    socket.address, socket.port_value = (
        "127.0.0.1",
        0,
    )  # Envoy picks a free port: the demo binds nothing known
    socket.protocol = address_pb2.SocketAddress.TCP
    return listener


def _outbound_listener(inline: route_pb2.RouteConfiguration | None = None) -> listener_pb2.Listener:
    listener = _listener(f"0.0.0.0_{PORT}", base_pb2.OUTBOUND)
    chain = listener.filter_chains.add()
    hcm = chain.filters.add(name="envoy.filters.network.http_connection_manager")
    hcm.typed_config.Pack(_manager(f"outbound_0.0.0.0_{PORT}", rds=str(PORT), inline=inline))
    return listener


def _inbound_listener() -> listener_pb2.Listener:
    listener = _listener("virtualInbound", base_pb2.INBOUND)
    chain = listener.filter_chains.add(name=f"0.0.0.0_{PORT}")
    chain.filter_chain_match.destination_port.value = PORT
    routes = route_pb2.RouteConfiguration(name=f"inbound|{PORT}||")
    vhost = routes.virtual_hosts.add(name=f"inbound|http|{PORT}", domains=["*"])
    route = vhost.routes.add(name="default")
    route.match.prefix = "/"
    route.route.cluster = f"inbound|{PORT}||"
    route.route.timeout.SetInParent()
    hcm = chain.filters.add(name="envoy.filters.network.http_connection_manager")
    hcm.typed_config.Pack(_manager(f"inbound_0.0.0.0_{PORT}", inline=routes))
    return listener


def _routes(weights: tuple[int, int, int], ratings_v2: bool) -> route_pb2.RouteConfiguration:
    routes = route_pb2.RouteConfiguration(name=str(PORT))
    routes.validate_clusters.value = False
    for service in ("details", "ratings", "reviews"):
        vhost = routes.virtual_hosts.add(
            name=f"{host(service)}:{PORT}", domains=[host(service), f"{host(service)}:{PORT}", service]
        )
        route = vhost.routes.add(name="default")
        route.match.prefix = "/"
        action = route.route
        action.timeout.SetInParent()
        action.retry_policy.retry_on = (
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        )
        action.retry_policy.num_retries.value = 2
        if service == "reviews":
            for subset, weight in zip(("v1", "v2", "v3"), weights, strict=True):
                if weight:
                    action.weighted_clusters.clusters.add(
                        name=cluster_name("reviews", subset), weight=_u32(weight)
                    )
        elif service == "ratings" and ratings_v2:
            action.weighted_clusters.clusters.add(name=cluster_name("ratings"), weight=_u32(90))
            action.weighted_clusters.clusters.add(name=cluster_name("ratings", "v2"), weight=_u32(10))
        else:
            action.cluster = cluster_name(service)
    allow_any = routes.virtual_hosts.add(name="allow_any", domains=["*"])
    passthrough = allow_any.routes.add(name="allow_any")
    passthrough.match.prefix = "/"
    passthrough.route.cluster = "PassthroughCluster"
    return routes


def _u32(value: int) -> wrappers_pb2.UInt32Value:
    return wrappers_pb2.UInt32Value(value=value)


def _secrets() -> list[secret_pb2.Secret]:
    workload = secret_pb2.Secret(name="default")
    workload.tls_certificate.certificate_chain.inline_bytes = material.CERT_PEM
    workload.tls_certificate.private_key.inline_bytes = material.KEY_PEM
    root = secret_pb2.Secret(name="ROOTCA")
    root.validation_context.trusted_ca.inline_bytes = material.CERT_PEM
    return [workload, root]
