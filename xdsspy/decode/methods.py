"""What a gRPC method name or REST path says about the messages on it: protocol, API version, resource type.

The transport version and the protocol (state of the world, delta, unary
fetch) are encoded in the method name (XDS-NOTES 1.1), so a stream can be
classified before its first message. The table is static so that classifying
needs no descriptors; `tests/xdsspy/decode/test_methods.py` checks it against
the service definitions in xds-protos.
"""

from __future__ import annotations

import dataclasses
import enum
import functools

TYPE_PREFIX = "type.googleapis.com/"


class Family(enum.StrEnum):
    """Which message pair a method carries."""

    SOTW = "sotw"  # DiscoveryRequest -> DiscoveryResponse (streamed, or unary Fetch/REST)
    DELTA = "delta"  # DeltaDiscoveryRequest -> DeltaDiscoveryResponse
    OTHER = "other"  # a known non-discovery service: LRS, CSDS, HDS
    UNKNOWN = "unknown"  # not a method xdsspy knows


@dataclasses.dataclass(frozen=True, slots=True)
class MethodInfo:
    """A method classified. `implied_type_url` is set for per-type services (CDS, EDS, ...), not for ADS."""

    method: str
    family: Family
    service: str = ""  # short name: ADS, CDS, LRS, ...
    api_version: str = ""  # "v2" or "v3": the transport version
    streaming: bool = True
    rest: bool = False
    implied_type_url: str = ""
    request_type: str = ""  # message full names as the API names them
    response_type: str = ""

    @property
    def is_discovery(self) -> bool:
        return self.family in (Family.SOTW, Family.DELTA)


@dataclasses.dataclass(frozen=True, slots=True)
class _Service:
    short: str
    v3: str
    v2: str  # "" when the service has no v2 form
    noun: str  # StreamX / DeltaX / FetchX
    v3_type: str
    v2_type: str
    sotw: bool
    delta: bool
    fetch: bool
    rest: str  # the REST path suffix: /v3/discovery:<rest>


_DISCOVERY_SERVICES = (
    _Service(
        "ADS",
        "envoy.service.discovery.v3.AggregatedDiscoveryService",
        "envoy.service.discovery.v2.AggregatedDiscoveryService",
        "AggregatedResources",
        "",
        "",
        True,
        True,
        False,
        "",
    ),
    _Service(
        "CDS",
        "envoy.service.cluster.v3.ClusterDiscoveryService",
        "envoy.api.v2.ClusterDiscoveryService",
        "Clusters",
        "envoy.config.cluster.v3.Cluster",
        "envoy.api.v2.Cluster",
        True,
        True,
        True,
        "clusters",
    ),
    _Service(
        "EDS",
        "envoy.service.endpoint.v3.EndpointDiscoveryService",
        "envoy.api.v2.EndpointDiscoveryService",
        "Endpoints",
        "envoy.config.endpoint.v3.ClusterLoadAssignment",
        "envoy.api.v2.ClusterLoadAssignment",
        True,
        True,
        True,
        "endpoints",
    ),
    _Service(
        "LEDS",
        "envoy.service.endpoint.v3.LocalityEndpointDiscoveryService",
        "",
        "LocalityEndpoints",
        "envoy.config.endpoint.v3.LbEndpoint",
        "",
        False,
        True,
        False,
        "",
    ),
    _Service(
        "LDS",
        "envoy.service.listener.v3.ListenerDiscoveryService",
        "envoy.api.v2.ListenerDiscoveryService",
        "Listeners",
        "envoy.config.listener.v3.Listener",
        "envoy.api.v2.Listener",
        True,
        True,
        True,
        "listeners",
    ),
    _Service(
        "RDS",
        "envoy.service.route.v3.RouteDiscoveryService",
        "envoy.api.v2.RouteDiscoveryService",
        "Routes",
        "envoy.config.route.v3.RouteConfiguration",
        "envoy.api.v2.RouteConfiguration",
        True,
        True,
        True,
        "routes",
    ),
    _Service(
        "VHDS",
        "envoy.service.route.v3.VirtualHostDiscoveryService",
        "envoy.api.v2.VirtualHostDiscoveryService",
        "VirtualHosts",
        "envoy.config.route.v3.VirtualHost",
        "envoy.api.v2.route.VirtualHost",
        False,
        True,
        False,
        "",
    ),
    _Service(
        "SRDS",
        "envoy.service.route.v3.ScopedRoutesDiscoveryService",
        "envoy.api.v2.ScopedRoutesDiscoveryService",
        "ScopedRoutes",
        "envoy.config.route.v3.ScopedRouteConfiguration",
        "envoy.api.v2.ScopedRouteConfiguration",
        True,
        True,
        True,
        "scoped-routes",
    ),
    _Service(
        "SDS",
        "envoy.service.secret.v3.SecretDiscoveryService",
        "envoy.service.discovery.v2.SecretDiscoveryService",
        "Secrets",
        "envoy.extensions.transport_sockets.tls.v3.Secret",
        "envoy.api.v2.auth.Secret",
        True,
        True,
        True,
        "secrets",
    ),
    _Service(
        "RTDS",
        "envoy.service.runtime.v3.RuntimeDiscoveryService",
        "envoy.service.discovery.v2.RuntimeDiscoveryService",
        "Runtime",
        "envoy.service.runtime.v3.Runtime",
        "envoy.service.discovery.v2.Runtime",
        True,
        True,
        True,
        "runtime",
    ),
    _Service(
        "ECDS",
        "envoy.service.extension.v3.ExtensionConfigDiscoveryService",
        "",
        "ExtensionConfigs",
        "envoy.config.core.v3.TypedExtensionConfig",
        "",
        True,
        True,
        True,
        "extension_configs",
    ),
)

_SOTW_MESSAGES = {
    "v3": ("envoy.service.discovery.v3.DiscoveryRequest", "envoy.service.discovery.v3.DiscoveryResponse"),
    "v2": ("envoy.api.v2.DiscoveryRequest", "envoy.api.v2.DiscoveryResponse"),
}
_DELTA_MESSAGES = {
    "v3": (
        "envoy.service.discovery.v3.DeltaDiscoveryRequest",
        "envoy.service.discovery.v3.DeltaDiscoveryResponse",
    ),
    "v2": ("envoy.api.v2.DeltaDiscoveryRequest", "envoy.api.v2.DeltaDiscoveryResponse"),
}

# Non-discovery services Envoy talks to its management servers with:
# (short, version, service, {rpc: streaming}, request type, response type, REST suffix).
_OTHER_SERVICES = (
    (
        "LRS",
        "v3",
        "envoy.service.load_stats.v3.LoadReportingService",
        {"StreamLoadStats": True},
        "envoy.service.load_stats.v3.LoadStatsRequest",
        "envoy.service.load_stats.v3.LoadStatsResponse",
        "",
    ),
    (
        "LRS",
        "v2",
        "envoy.service.load_stats.v2.LoadReportingService",
        {"StreamLoadStats": True},
        "envoy.service.load_stats.v2.LoadStatsRequest",
        "envoy.service.load_stats.v2.LoadStatsResponse",
        "",
    ),
    (
        "CSDS",
        "v3",
        "envoy.service.status.v3.ClientStatusDiscoveryService",
        {"StreamClientStatus": True, "FetchClientStatus": False},
        "envoy.service.status.v3.ClientStatusRequest",
        "envoy.service.status.v3.ClientStatusResponse",
        "client_status",
    ),
    (
        "CSDS",
        "v2",
        "envoy.service.status.v2.ClientStatusDiscoveryService",
        {"StreamClientStatus": True, "FetchClientStatus": False},
        "envoy.service.status.v2.ClientStatusRequest",
        "envoy.service.status.v2.ClientStatusResponse",
        "client_status",
    ),
    (
        "HDS",
        "v3",
        "envoy.service.health.v3.HealthDiscoveryService",
        {"StreamHealthCheck": True, "FetchHealthCheck": False},
        "envoy.service.health.v3.HealthCheckRequestOrEndpointHealthResponse",
        "envoy.service.health.v3.HealthCheckSpecifier",
        "health_check",
    ),
    (
        "HDS",
        "v2",
        "envoy.service.discovery.v2.HealthDiscoveryService",
        {"StreamHealthCheck": True, "FetchHealthCheck": False},
        "envoy.service.discovery.v2.HealthCheckRequestOrEndpointHealthResponse",
        "envoy.service.discovery.v2.HealthCheckSpecifier",
        "health_check",
    ),
)


def _type_url(name: str) -> str:
    return TYPE_PREFIX + name if name else ""


def _build_tables() -> tuple[dict[str, MethodInfo], dict[str, MethodInfo]]:
    grpc: dict[str, MethodInfo] = {}
    rest: dict[str, MethodInfo] = {}
    for svc in _DISCOVERY_SERVICES:
        for version, service_name, type_name in (("v3", svc.v3, svc.v3_type), ("v2", svc.v2, svc.v2_type)):
            if not service_name:
                continue
            implied = _type_url(type_name)
            sotw_req, sotw_resp = _SOTW_MESSAGES[version]
            delta_req, delta_resp = _DELTA_MESSAGES[version]
            variants = []
            if svc.sotw:
                variants.append(("Stream", Family.SOTW, True, sotw_req, sotw_resp))
            if svc.delta:
                variants.append(("Delta", Family.DELTA, True, delta_req, delta_resp))
            if svc.fetch:
                variants.append(("Fetch", Family.SOTW, False, sotw_req, sotw_resp))
            for prefix, family, streaming, req, resp in variants:
                path = f"/{service_name}/{prefix}{svc.noun}"
                grpc[path] = MethodInfo(
                    path, family, svc.short, version, streaming, False, implied, req, resp
                )
            if svc.rest:
                path = f"/{version}/discovery:{svc.rest}"
                rest[path] = MethodInfo(
                    path, Family.SOTW, svc.short, version, False, True, implied, sotw_req, sotw_resp
                )
    for short, version, service_name, rpcs, req, resp, rest_suffix in _OTHER_SERVICES:
        for rpc, streaming in rpcs.items():
            path = f"/{service_name}/{rpc}"
            grpc[path] = MethodInfo(path, Family.OTHER, short, version, streaming, False, "", req, resp)
        if rest_suffix:
            path = f"/{version}/discovery:{rest_suffix}"
            rest[path] = MethodInfo(path, Family.OTHER, short, version, False, True, "", req, resp)
    return grpc, rest


_GRPC, _REST = _build_tables()


def known_methods() -> tuple[MethodInfo, ...]:
    """Every gRPC method and REST path in the table."""
    return (*_GRPC.values(), *_REST.values())


@functools.lru_cache(maxsize=256)
def classify(method: str) -> MethodInfo:
    """Classify a gRPC method ("/pkg.Service/Method", leading slash optional) or a REST path.

    REST paths may carry a query string. Anything not in the table is
    Family.UNKNOWN rather than an error.
    """
    path = method if method.startswith("/") else "/" + method
    info = _GRPC.get(path)
    if info is not None:
        return info if info.method == method else dataclasses.replace(info, method=method)
    rest_path = path.split("?", 1)[0].rstrip("/")
    info = _REST.get(rest_path)
    if info is not None:
        return dataclasses.replace(info, method=method)
    return MethodInfo(method, Family.UNKNOWN)
