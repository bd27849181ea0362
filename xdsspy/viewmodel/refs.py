"""The names one Envoy resource's body uses for other resources: each reference, its target and its path.

Envoy links resources by name only: a listener's HttpConnectionManager names
a RouteConfiguration, a route or TcpProxy names a Cluster, an EDS cluster
names its ClusterLoadAssignment, a TLS context names Secrets, a filter with
`config_discovery` names an ECDS TypedExtensionConfig, and filters name the
clusters of the services they call (ext_authz, tracers, access log services).
`refs_of` finds those names in one decoded body (the JSON /config_dump
prints); `links` builds the graph of a whole Envoy from them. Every rule sits
in the tables below; typed configs are found by their "@type" anywhere in a
listener, cluster or ECDS body, so every filter chain (the default one
included), TypedStruct wrapper and transport socket is searched.

Deliberately not linked, because the target is not one resource name:
`cluster_header` and cluster specifier plugins (chosen per request), the xDS
transport (`api_config_source` clusters), HCM `scoped_rds` (SRDS is a
wildcard subscription; its ScopedRouteConfigurations link on to routes),
VHDS and LEDS (collections, not names), and other protocols' proxies
(Redis, Thrift, ...).

Type URLs in a `Ref` are always v3 (`canonical_type`), so a v2 route names
the same cluster as a v3 one. Bodies of any shape are accepted; nothing here
raises on them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from xdsspy.decode import methods
from xdsspy.decode import resources as decoded_resources
from xdsspy.decode import tree

_PREFIX = methods.TYPE_PREFIX
LISTENER = _PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = _PREFIX + "envoy.config.route.v3.RouteConfiguration"
SCOPED_ROUTE = _PREFIX + "envoy.config.route.v3.ScopedRouteConfiguration"
VIRTUAL_HOST = _PREFIX + "envoy.config.route.v3.VirtualHost"
CLUSTER = _PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = _PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
SECRET = _PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"
EXTENSION = _PREFIX + "envoy.config.core.v3.TypedExtensionConfig"

MAX_DEPTH = 64
"""Containers deeper than this in a body are not searched (real configs stay under ~30)."""
MAX_CONTAINERS = 1_000_000
"""Containers searched per resource at most: bounds the time an odd body (shared or cyclic dicts) can take."""


# -- type URLs ------------------------------------------------------------------------------------


@functools.cache
def _v3_names() -> dict[str, str]:
    """Resource message name (v2 or v3) -> its v3 name, from the discovery-service table."""
    by_service: dict[str, dict[str, str]] = {}
    for info in methods.known_methods():
        if info.service and info.implied_type_url:
            by_service.setdefault(info.service, {})[info.api_version] = info.implied_type_url
    out: dict[str, str] = {}
    for urls in by_service.values():
        v3 = urls.get("v3")
        if v3:
            for url in urls.values():
                out[url.removeprefix(_PREFIX)] = v3.removeprefix(_PREFIX)
    return out


def _message_name(type_url: str) -> str:
    return type_url[type_url.rfind("/") + 1 :]


@functools.lru_cache(maxsize=256)
def canonical_type(type_url: str) -> str:
    """The v3 type URL of an xDS resource type (v2 or v3, any URL prefix); other type URLs unchanged."""
    v3 = _v3_names().get(_message_name(type_url))
    return _PREFIX + v3 if v3 else type_url


# -- references -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Ref:
    """`source` names `target` at `via` (a path in the source's body). Both types are v3 type URLs."""

    source_type: str
    source: str
    target_type: str
    target: str
    via: str


Path = tuple[tree.Token, ...]
EACH = "[]"
"""In a rule path: every element of the list at this point."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Rule:
    """At `path` sits the name of a `target_type` resource, or a dict to apply the `inner` rules to."""

    path: tuple[str, ...]
    target_type: str = ""
    inner: tuple[_Rule, ...] = ()


# RouteAction (inside a route): the clusters a matched request may go to. Not `cluster_header`:
# that cluster is read from a request header, so no name exists before traffic does.
_ROUTE_ACTION_RULES = (
    _Rule(("cluster",), CLUSTER),
    _Rule(("weighted_clusters", "clusters", EACH, "name"), CLUSTER),
    _Rule(("request_mirror_policies", EACH, "cluster"), CLUSTER),
    _Rule(("request_mirror_policy", "cluster"), CLUSTER),  # v2's single mirror
)
# VirtualHost (inside a RouteConfiguration, or a VHDS resource of its own).
_VIRTUAL_HOST_RULES = (
    _Rule(("routes", EACH, "route"), inner=_ROUTE_ACTION_RULES),
    _Rule(("request_mirror_policies", EACH, "cluster"), CLUSTER),
)
# RouteConfiguration (an RDS resource, or inline in an HCM as `route_config`).
_ROUTE_RULES = (_Rule(("virtual_hosts", EACH), inner=_VIRTUAL_HOST_RULES),)
# ScopedRouteConfiguration (SRDS resource, or inline in an HCM's scoped_route_configurations_list).
_SCOPED_ROUTE_RULES = (
    _Rule(("route_configuration_name",), ROUTE),
    _Rule(("route_configuration",), inner=_ROUTE_RULES),
)
# HttpConnectionManager: its routes by RDS name, inline, or per scope.
_HCM_RULES = (
    _Rule(("rds", "route_config_name"), ROUTE),
    _Rule(("route_config",), inner=_ROUTE_RULES),
    _Rule(
        ("scoped_routes", "scoped_route_configurations_list", "scoped_route_configurations", EACH),
        inner=_SCOPED_ROUTE_RULES,
    ),
)
# TcpProxy: one cluster, or weighted clusters (v2 also had deprecated_v1 routes).
_TCP_PROXY_RULES = (
    _Rule(("cluster",), CLUSTER),
    _Rule(("weighted_clusters", "clusters", EACH, "name"), CLUSTER),
    _Rule(("deprecated_v1", "routes", EACH, "cluster"), CLUSTER),
)
# Upstream/DownstreamTlsContext: certificates and validation contexts fetched by SDS name.
_TLS_RULES = (
    _Rule(("common_tls_context", "tls_certificate_sds_secret_configs", EACH, "name"), SECRET),
    _Rule(("common_tls_context", "validation_context_sds_secret_config", "name"), SECRET),
    _Rule(
        ("common_tls_context", "combined_validation_context", "validation_context_sds_secret_config", "name"),
        SECRET,
    ),
    _Rule(("session_ticket_keys_sds_secret_config", "name"), SECRET),
)
# Aggregate cluster (cluster_type.typed_config): the clusters it fails over between.
_AGGREGATE_RULES = (_Rule(("clusters", EACH), CLUSTER),)

_TYPED_RULES: dict[str, tuple[_Rule, ...]] = {
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": _HCM_RULES,
    "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager": _HCM_RULES,
    "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy": _TCP_PROXY_RULES,
    "envoy.config.filter.network.tcp_proxy.v2.TcpProxy": _TCP_PROXY_RULES,
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext": _TLS_RULES,
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext": _TLS_RULES,
    "envoy.api.v2.auth.UpstreamTlsContext": _TLS_RULES,
    "envoy.api.v2.auth.DownstreamTlsContext": _TLS_RULES,
    "envoy.extensions.clusters.aggregate.v3.ClusterConfig": _AGGREGATE_RULES,
    "envoy.config.cluster.aggregate.v2alpha.ClusterConfig": _AGGREGATE_RULES,
}
"""Typed configs (by the message name in their "@type", v2 and v3) -> the rules for their fields."""

_LEGACY_FILTERS = {
    "envoy.http_connection_manager": _HCM_RULES,
    "envoy.filters.network.http_connection_manager": _HCM_RULES,
    "envoy.tcp_proxy": _TCP_PROXY_RULES,
    "envoy.filters.network.tcp_proxy": _TCP_PROXY_RULES,
}
"""v2 filters configured by an untyped `config` Struct (Istio 1.1): known by the filter's name."""

_KEY_RULES: dict[str, tuple[_Rule, ...]] = {
    # A filter (HTTP, network, listener, upstream) whose config comes over ECDS, by the filter's name.
    "config_discovery": (_Rule(("name",), EXTENSION),),
    # v2 Cluster.tls_context and FilterChain.tls_context: a TLS context without "@type".
    "tls_context": (_Rule(("tls_context",), inner=_TLS_RULES),),
    # Side services a filter calls (ext_authz, access log and metrics services, JWKS, tracers).
    "envoy_grpc": (_Rule(("envoy_grpc", "cluster_name"), CLUSTER),),
    "http_uri": (_Rule(("http_uri", "cluster"), CLUSTER),),
    "server_uri": (_Rule(("server_uri", "cluster"), CLUSTER),),
    "collector_cluster": (_Rule(("collector_cluster",), CLUSTER),),
}
"""Rules any dict gets when it has the key, wherever it sits in a walked body."""

_SKIP_KEYS = frozenset(
    (
        "api_config_source",  # the xDS/SDS transport: how a resource is fetched, not what it uses
        "virtual_hosts",  # routes follow _ROUTE_RULES, not the generic walk
        "metadata",  # Structs of filter metadata: large in Istio, never configuration
        "load_assignment",  # inline endpoints name nothing
        "@fields",  # schema-less wire trees from the decoder
    )
)

_WALKED = frozenset((LISTENER, CLUSTER, EXTENSION))
"""Resource types searched for typed configs and key rules at any depth."""

_RESOURCE_RULES: dict[str, tuple[_Rule, ...]] = {
    ROUTE: _ROUTE_RULES,
    VIRTUAL_HOST: _VIRTUAL_HOST_RULES,
    SCOPED_ROUTE: _SCOPED_ROUTE_RULES,
}
"""Fixed-path rules per resource type. Clusters also get `_eds_refs` (type EDS -> its endpoints)."""


class _Found:
    """The references found in one resource, in body order."""

    __slots__ = ("budget", "open", "refs", "source", "source_type")

    def __init__(self, source_type: str, source: str) -> None:
        self.source_type = source_type
        self.source = source
        self.refs: list[Ref] = []
        self.budget = MAX_CONTAINERS  # containers the walk may still enter
        self.open: set[int] = set()  # ids of the containers the walk is inside

    def add(self, target_type: str, target: str, path: Path) -> None:
        self.refs.append(Ref(self.source_type, self.source, target_type, target, tree.format_path(path)))


def refs_of(type_url: str, name: str, body: Mapping[str, Any]) -> list[Ref]:
    """Every reference one resource makes to another by name; [] for odd bodies, never raising.

    Fixed-path rules come first, then what the walk finds, in body order.
    """
    kind = canonical_type(type_url)
    found = _Found(kind, name)
    if not isinstance(body, Mapping):
        return found.refs
    node = body if isinstance(body, dict) else dict(body)
    if kind == CLUSTER:
        _eds_refs(found, node, name)
    rules = _RESOURCE_RULES.get(kind)
    if rules:
        _apply(found, node, rules, ())
    if kind in _WALKED:
        _walk(found, node, [], 0)
    return found.refs


def _eds_refs(found: _Found, cluster: dict[str, Any], name: str) -> None:
    """An EDS cluster's endpoints: ClusterLoadAssignment `eds_cluster_config.service_name`, else its name."""
    if "EDS" not in (cluster.get("type"), cluster.get("cluster_discovery_type")):
        return
    eds = cluster.get("eds_cluster_config")
    service = eds.get("service_name") if isinstance(eds, dict) else None
    if isinstance(service, str) and service:
        found.add(ENDPOINT, service, ("eds_cluster_config", "service_name"))
    elif name:
        found.add(ENDPOINT, name, ("name",))


def _apply(found: _Found, node: Any, rules: Iterable[_Rule], path: Path) -> None:
    for rule in rules:
        for value, at in _follow(node, rule.path, 0, path):
            if rule.inner:
                if isinstance(value, dict) and len(at) <= MAX_DEPTH:
                    _apply(found, value, rule.inner, at)
            elif isinstance(value, str) and value:
                found.add(rule.target_type, value, at)


def _follow(node: Any, steps: tuple[str, ...], index: int, path: Path) -> Iterable[tuple[Any, Path]]:
    """The values at `steps[index:]` under node, with their paths; EACH fans out over a list."""
    while index < len(steps):
        step = steps[index]
        if step == EACH:
            if not isinstance(node, list):
                return []
            out: list[tuple[Any, Path]] = []
            for position, item in enumerate(node):
                out.extend(_follow(item, steps, index + 1, (*path, position)))
            return out
        if not isinstance(node, dict) or step not in node:
            return []
        node = node[step]
        path = (*path, step)
        index += 1
    return [(node, path)]


def _walk(found: _Found, node: Any, path: list[tree.Token], depth: int) -> None:
    """Apply typed-config and key rules to every dict under node; `path` is node's path.

    Stops at MAX_DEPTH, after MAX_CONTAINERS, and at a container that contains itself.
    """
    found.budget -= 1
    if found.budget < 0 or depth > MAX_DEPTH or id(node) in found.open:
        return
    found.open.add(id(node))
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TRIGGERS:
                _trigger(found, node, key, value, tuple(path))
            if (type(value) is dict or type(value) is list) and key not in _SKIP_KEYS:
                path.append(key)
                _walk(found, value, path, depth + 1)
                path.pop()
    elif isinstance(node, list):
        for position, item in enumerate(node):
            if type(item) is dict or type(item) is list:
                path.append(position)
                _walk(found, item, path, depth + 1)
                path.pop()
    found.open.discard(id(node))


_TRIGGERS = frozenset(("@type", "config", *_KEY_RULES))


def _trigger(found: _Found, node: dict[str, Any], key: str, value: Any, path: Path) -> None:
    if key == "@type":
        _typed(found, node, value, path)
    elif key == "config":
        _legacy(found, node, value, path)
    else:
        _apply(found, node, _KEY_RULES[key], path)


def _typed(found: _Found, node: dict[str, Any], type_url: Any, path: Path) -> None:
    if not isinstance(type_url, str):
        return
    name = _message_name(type_url)
    if name in decoded_resources.TYPED_STRUCTS:  # the wrapped config is under "value"
        inner, value = node.get("type_url"), node.get("value")
        rules = _TYPED_RULES.get(_message_name(inner)) if isinstance(inner, str) else None
        if rules and isinstance(value, dict):
            _apply(found, value, rules, (*path, "value"))
        return
    rules = _TYPED_RULES.get(name)
    if rules:
        _apply(found, node, rules, path)


def _legacy(found: _Found, node: dict[str, Any], config: Any, path: Path) -> None:
    name = node.get("name")
    rules = _LEGACY_FILTERS.get(name) if isinstance(name, str) else None
    if rules and isinstance(config, dict) and "typed_config" not in node:
        _apply(found, config, rules, (*path, "config"))
