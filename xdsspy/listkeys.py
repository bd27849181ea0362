"""How Envoy's lists are matched element by element for diffs: the key of each element, field by field.

`LIST_RULES` follows Envoy's semantics: where order carries no meaning
elements are matched by a key (virtual hosts by name, endpoints by address),
so a reorder is no change; where order is behaviour (routes: first match wins)
a field maps to None and `configdiff` aligns elements by position. A key
function returns None for an element without a key, and `configdiff` then
falls back to positions for the whole list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

ROOT = ""  # the field name LIST_RULES uses for a list handed to diff() itself (a list in a list has None)


KeyOf = Callable[[Any], str | None]
"""A list element's key, or None when it has none (the list is then matched by position)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ListRule:
    """Match a list's elements by `key`; with `ordered`, also report elements whose relative order changed."""

    key: KeyOf
    ordered: bool = False


def _name(element: Any) -> str | None:
    """What a resource is known by: `name`, or `cluster_name` for a ClusterLoadAssignment."""
    if not isinstance(element, dict):
        return None
    name = element.get("name") or element.get("cluster_name")
    return name if isinstance(name, str) and name else None


def _typed_name(element: Any) -> str | None:
    """The name of a whole resource (an Any: it has "@type"), as decode_entries gives them."""
    return _name(element) if isinstance(element, dict) and "@type" in element else None


_DUMP_WRAPPED = ("cluster", "listener", "route_config", "endpoint_config", "secret", "ecds_filter")


def _wrapped_name(element: Any) -> str | None:
    """A config_dump entry's resource name: its own `name` (listeners, secrets) or its resource's."""
    if not isinstance(element, dict):
        return None
    if (own := _name(element)) is not None:
        return own
    for field in _DUMP_WRAPPED:
        if field in element:
            return _name(element[field])
    return None


def _dump_type(element: Any) -> str | None:
    """`ClustersConfigDump` for either `envoy.admin.v3.` or `envoy.admin.v2alpha.ClustersConfigDump`."""
    type_url = element.get("@type") if isinstance(element, dict) else None
    if not isinstance(type_url, str):
        return None
    return type_url.rpartition("/")[2].rpartition(".")[2] or None


def _endpoint_address(element: Any) -> str | None:
    """An LbEndpoint's `host:port`, pipe path or internal listener#endpoint_id (else its endpoint_name)."""
    if not isinstance(element, dict):
        return None
    endpoint = element.get("endpoint")
    address = endpoint.get("address") if isinstance(endpoint, dict) else None
    if isinstance(address, dict):
        socket = address.get("socket_address")
        if isinstance(socket, dict):
            host = str(socket.get("address", ""))
            port = socket.get("port_value", socket.get("named_port", 0))
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        pipe = address.get("pipe")
        if isinstance(pipe, dict) and pipe.get("path"):
            return str(pipe["path"])
        internal = address.get("envoy_internal_address")
        if isinstance(internal, dict) and internal.get("server_listener_name"):
            endpoint_id = internal.get("endpoint_id")
            listener = str(internal["server_listener_name"])
            return f"{listener}#{endpoint_id}" if endpoint_id else listener
    name = element.get("endpoint_name")
    return name if isinstance(name, str) and name else None


def _locality(element: Any) -> str | None:
    """A LocalityLbEndpoints group's `region/zone/sub_zone`, with its priority when not 0."""
    if not isinstance(element, dict):
        return None
    locality = element.get("locality") or {}
    if not isinstance(locality, dict):
        return None
    label = "/".join(str(locality.get(k, "")) for k in ("region", "zone", "sub_zone")).rstrip("/")
    priority = element.get("priority", 0)
    label = label or "(no locality)"
    return f"{label}, priority {priority}" if priority else label


def _field_text(field: str) -> KeyOf:
    def key(element: Any) -> str | None:
        value = element.get(field) if isinstance(element, dict) else None
        return value if isinstance(value, str) and value else None

    return key


_BY_NAME = ListRule(_name)
_BY_WRAPPED_NAME = ListRule(_wrapped_name)

LIST_RULES: Mapping[str | tuple[str, str], ListRule | None] = {
    # A list handed to diff() itself: whole resources (each an Any with "@type"), one per name.
    ROOT: ListRule(_typed_name),
    # DiscoveryResponse.resources (Anys) and delta Resource wrappers: a set of resources, one per name.
    "resources": _BY_NAME,
    # Bootstrap static_resources, and RouteAction.weighted_clusters.clusters: Envoy refuses duplicate
    # names, and neither the order of resources nor that of a weighted split changes behaviour.
    "clusters": _BY_NAME,
    "listeners": _BY_NAME,
    "secrets": _BY_NAME,
    # A request picks its virtual host by the most specific domain, never by position.
    "virtual_hosts": _BY_NAME,
    # Load balancing sees a set of hosts; the address is what makes an endpoint that endpoint.
    "lb_endpoints": ListRule(_endpoint_address),
    # Locality groups: their priority field, not their position, orders failover.
    "endpoints": ListRule(_locality),
    # Matched by name for readable paths, but "the first match is used" (Cluster docs): order is
    # behaviour, so a reorder is reported too.
    "transport_socket_matches": ListRule(_name, ordered=True),
    # config_dump sections: one per type; and their entries, one per resource name, in no meaningful order.
    "configs": ListRule(_dump_type),
    "static_clusters": _BY_WRAPPED_NAME,
    "dynamic_active_clusters": _BY_WRAPPED_NAME,
    "dynamic_warming_clusters": _BY_WRAPPED_NAME,
    "static_listeners": _BY_WRAPPED_NAME,
    "dynamic_listeners": _BY_WRAPPED_NAME,
    "dynamic_active_listeners": _BY_WRAPPED_NAME,  # Envoy <= 1.12 (admin.v2alpha)
    "dynamic_warming_listeners": _BY_WRAPPED_NAME,
    "dynamic_draining_listeners": _BY_WRAPPED_NAME,
    "static_route_configs": _BY_WRAPPED_NAME,
    "dynamic_route_configs": _BY_WRAPPED_NAME,
    "dynamic_scoped_route_configs": _BY_WRAPPED_NAME,
    "static_endpoint_configs": _BY_WRAPPED_NAME,
    "dynamic_endpoint_configs": _BY_WRAPPED_NAME,
    "static_secrets": _BY_WRAPPED_NAME,
    "dynamic_active_secrets": _BY_WRAPPED_NAME,
    "dynamic_warming_secrets": _BY_WRAPPED_NAME,
    "ecds_filters": _BY_WRAPPED_NAME,
    # Order is behaviour (None: by position). Routes: the first match wins.
    "routes": None,
    # Filters run in list order; listener filters too.
    "http_filters": None,
    "filters": None,
    "listener_filters": None,
    # Chains are picked by filter_chain_match specificity, but kept by position as chains need no name.
    "filter_chains": None,
    # Where a name means something else inside one Any, the pair (field, that Any's @type) decides:
    # an aggregate cluster lists cluster names in failover priority order.
    ("clusters", "envoy.extensions.clusters.aggregate.v3.ClusterConfig"): None,
    # Redis prefix routes: the longest prefix wins and Envoy refuses duplicates, so order means nothing.
    ("routes", "envoy.extensions.filters.network.redis_proxy.v3.RedisProxy"): ListRule(_field_text("prefix")),
}
"""How each list field's elements are matched; a field not listed is matched by position."""
