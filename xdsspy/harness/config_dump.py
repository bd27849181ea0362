"""Pick the dynamic (xDS-served) resources out of Envoy's /config_dump JSON, keyed by name.

A config dump is a list of per-type dumps with different shapes (active and
warming clusters, listener states, route and endpoint configs); these helpers
give each type one shape, {name: entry}, so callers compare names and fields
instead of walking the dump. Each entry keeps Envoy's own fields, such as
version_info and last_updated, next to the resource.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]

_ADMIN = "type.googleapis.com/envoy.admin.v3."


def _section(dump: JsonObject, kind: str) -> JsonObject:
    for config in dump.get("configs", []):
        if config.get("@type") == _ADMIN + kind:
            section: JsonObject = config
            return section
    return {}


def version_info(dump: JsonObject, kind: str) -> str:
    """The type-wide version_info of a section, e.g. kind="ClustersConfigDump" ("" if absent)."""
    return str(_section(dump, kind).get("version_info", ""))


def clusters(dump: JsonObject, *, warming: bool = False) -> dict[str, JsonObject]:
    """Dynamic active (or warming) clusters: {name: {"version_info", "cluster", "last_updated"}}."""
    key = "dynamic_warming_clusters" if warming else "dynamic_active_clusters"
    return {e["cluster"]["name"]: e for e in _section(dump, "ClustersConfigDump").get(key, [])}


def listeners(dump: JsonObject, *, state: str = "active_state") -> dict[str, JsonObject]:
    """Dynamic listeners in one state (active_state, warming_state, draining_state): {name: state}."""
    return {
        e["name"]: e[state]
        for e in _section(dump, "ListenersConfigDump").get("dynamic_listeners", [])
        if state in e
    }


def route_configs(dump: JsonObject) -> dict[str, JsonObject]:
    """Dynamic route configurations: {name: {"version_info", "route_config", "last_updated"}}."""
    return {
        e["route_config"]["name"]: e
        for e in _section(dump, "RoutesConfigDump").get("dynamic_route_configs", [])
    }


def endpoint_configs(dump: JsonObject) -> dict[str, JsonObject]:
    """Dynamic endpoint configs (needs /config_dump?include_eds): {cluster_name: {"endpoint_config", ...}}.

    Envoy lists here the endpoints of every dynamic cluster, including STATIC
    clusters that came over CDS, not only those served by EDS.
    """
    return {
        e["endpoint_config"]["cluster_name"]: e
        for e in _section(dump, "EndpointsConfigDump").get("dynamic_endpoint_configs", [])
    }


def endpoint_addresses(config: JsonObject) -> list[tuple[str, int]]:
    """(host, port) of every endpoint in a ClusterLoadAssignment's JSON, in order."""
    found = []
    for locality in config.get("endpoints", []):
        for lb_endpoint in locality.get("lb_endpoints", []):
            socket_address = lb_endpoint.get("endpoint", {}).get("address", {}).get("socket_address", {})
            if socket_address:
                found.append(
                    (str(socket_address.get("address", "")), int(socket_address.get("port_value", 0)))
                )
    return found
