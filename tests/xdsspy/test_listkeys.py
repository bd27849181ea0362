"""List keys: Envoy's lists matched by name, address, locality or dump type, and where order still counts."""

from __future__ import annotations

import copy
from typing import Any

from xdsspy import configdiff as cd
from xdsspy.decode import resources
from xdsspy.testing import xds

V3_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
REVIEWS = "reviews.default.svc.cluster.local:9080"


def lines(changes: list[cd.FieldChange], width: int = 60) -> list[str]:
    return [cd.format_change(change, width) for change in changes]


def cluster(index: int = 1) -> dict[str, Any]:
    """An istiod-style outbound cluster, decoded to config_dump JSON the way xdsspy shows it."""
    body: dict[str, Any] = resources.decode(V3_CLUSTER, xds.tcluster(index).SerializeToString()).body
    return body


def route(prefix: str, target: str = "outbound|9080|v1|reviews.default.svc.cluster.local") -> dict[str, Any]:
    return {"match": {"prefix": prefix}, "route": {"cluster": target, "timeout": "0s"}}


def virtual_host(name: str, *routes: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "domains": [name.split(":")[0]], "routes": list(routes)}


def lb_endpoint(address: str, port: int, health: str = "HEALTHY") -> dict[str, Any]:
    socket = {"socket_address": {"address": address, "port_value": port}}
    return {"endpoint": {"address": socket}, "health_status": health, "load_balancing_weight": 1}


# -- keyed lists ---------------------------------------------------------------------------------


def test_reordered_routes_are_changes_but_reordered_virtual_hosts_are_not() -> None:
    reviews = virtual_host(REVIEWS, route("/api"), route("/"))
    ratings = virtual_host("ratings.default.svc.cluster.local:9080", route("/"))
    old = {"name": "9080", "virtual_hosts": [reviews, ratings]}
    assert cd.diff(old, {"name": "9080", "virtual_hosts": [ratings, reviews]}) == []

    swapped = virtual_host(REVIEWS, route("/"), route("/api"))
    changes = cd.diff(old, {"name": "9080", "virtual_hosts": [swapped, ratings]})
    assert [c.kind for c in changes] == [cd.ChangeKind.MOVED]
    assert lines(changes) == [f"~ virtual_hosts[{REVIEWS}].routes[0]: position 1 → 0"]


def test_endpoints_are_matched_by_address_and_locality_groups_by_locality_and_priority() -> None:
    def cla(*groups: dict[str, Any]) -> dict[str, Any]:
        return {"cluster_name": "outbound|9080||reviews.default.svc.cluster.local", "endpoints": list(groups)}

    zone_a = {"region": "us-east1", "zone": "us-east1-b"}
    old = cla(
        {"locality": zone_a, "lb_endpoints": [lb_endpoint("10.0.0.1", 9080), lb_endpoint("10.0.0.2", 9080)]},
        {"locality": zone_a, "priority": 1, "lb_endpoints": [lb_endpoint("10.1.0.1", 9080)]},
    )
    new = cla(
        {"locality": zone_a, "priority": 1, "lb_endpoints": [lb_endpoint("10.1.0.1", 9080)]},
        {
            "locality": zone_a,
            "lb_endpoints": [lb_endpoint("10.0.0.2", 9080, "UNHEALTHY"), lb_endpoint("10.0.0.3", 9080)],
        },
    )
    assert lines(cd.diff(old, new), 30) == [
        '- endpoints[us-east1/us-east1-b].lb_endpoints[10.0.0.1:9080]: {"endpoint": {"address": {"so…',
        'endpoints[us-east1/us-east1-b].lb_endpoints[10.0.0.2:9080].health_status: "HEALTHY" → "UNHEALTHY"',
        '+ endpoints[us-east1/us-east1-b].lb_endpoints[10.0.0.3:9080]: {"endpoint": {"address": {"so…',
    ]
    reordered = cla(*reversed(old["endpoints"]))
    assert cd.diff(old, reordered) == []


def test_endpoint_keys_for_ipv6_pipes_and_internal_addresses() -> None:
    def ep(address: dict[str, Any]) -> dict[str, Any]:
        return {"endpoint": {"address": address}}

    old = {
        "lb_endpoints": [
            ep({"socket_address": {"address": "fd00::1", "port_value": 80}}),
            ep({"pipe": {"path": "/var/run/app.sock"}}),
            ep(
                {
                    "envoy_internal_address": {
                        "server_listener_name": "connect_originate",
                        "endpoint_id": "10.0.0.9:80",
                    }
                }
            ),
        ]
    }
    new = copy.deepcopy(old)
    for element in new["lb_endpoints"]:
        element["load_balancing_weight"] = 2
    new["lb_endpoints"].reverse()
    assert [c.path for c in cd.diff(old, new)] == [
        "lb_endpoints[connect_originate#10.0.0.9:80].load_balancing_weight",
        "lb_endpoints[/var/run/app.sock].load_balancing_weight",
        'lb_endpoints["[fd00::1]:80"].load_balancing_weight',
    ]


def test_transport_socket_matches_go_by_name_but_their_order_still_counts() -> None:
    old = cluster()
    new = copy.deepcopy(old)
    new["transport_socket_matches"].reverse()
    assert lines(cd.diff(old, new)) == ["~ transport_socket_matches[tlsMode-disabled]: position 1 → 0"]
    new["transport_socket_matches"][1]["match"]["tlsMode"] = "mutual"
    assert lines(cd.diff(old, new))[1:] == [
        'transport_socket_matches[tlsMode-istio].match.tlsMode: "istio" → "mutual"'
    ]


def test_a_field_name_can_mean_another_list_inside_a_typed_config() -> None:
    redis: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy",
        "prefix_routes": {"routes": [{"prefix": "ab", "cluster": "a"}, {"prefix": "cd", "cluster": "c"}]},
    }
    shuffled = copy.deepcopy(redis)
    shuffled["prefix_routes"]["routes"].reverse()
    assert cd.diff(redis, shuffled) == []  # longest prefix wins: order means nothing
    shuffled["prefix_routes"]["routes"][0]["cluster"] = "c2"
    assert [c.path for c in cd.diff(redis, shuffled)] == ["prefix_routes.routes[cd].cluster"]

    aggregate: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig",
        "clusters": [{"name": "primary"}, {"name": "fallback"}],
    }
    failover_swapped = {**aggregate, "clusters": [{"name": "fallback"}, {"name": "primary"}]}
    assert [c.kind for c in cd.diff(aggregate, failover_swapped)] == [cd.ChangeKind.MOVED]
    # Outside that Any, a "clusters" list is a set of named clusters (a weighted split here).
    split = {"clusters": aggregate["clusters"]}
    assert cd.diff(split, {"clusters": failover_swapped["clusters"]}) == []


def test_a_list_of_whole_resources_is_matched_by_name() -> None:
    a, b = cluster(1), cluster(2)
    b2 = copy.deepcopy(b)
    b2["connect_timeout"] = "5s"
    assert [c.path for c in cd.diff([a, b], [b2, a])] == [f"[{b['name']}].connect_timeout"]
    # Without "@type" a root list is no set of resources: positions.
    assert [c.path for c in cd.diff([{"name": "a"}, {"name": "b"}], [{"name": "b"}])] == ["[0]"]


def test_config_dump_wrappers_are_matched_by_resource_name() -> None:
    def dump(names: list[str], version: str) -> dict[str, Any]:
        entries = [{"version_info": version, "cluster": {"name": n, "connect_timeout": "1s"}} for n in names]
        listeners = [{"name": "l", "active_state": {"version_info": version, "listener": {"name": "l"}}}]
        return {
            "configs": [
                {
                    "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                    "dynamic_active_clusters": entries,
                },
                {
                    "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
                    "dynamic_listeners": listeners,
                },
            ]
        }

    old, new = dump(["a", "b"], "1"), dump(["b", "a", "c"], "2")
    new["configs"].reverse()
    assert [(c.kind.value, c.path) for c in cd.diff(old, new, ignore=cd.SNAPSHOT_NOISE)] == [
        ("added", "configs[ClustersConfigDump].dynamic_active_clusters[c]"),
    ]
    assert "configs[ListenersConfigDump].dynamic_listeners[l].active_state.version_info" in [
        c.path for c in cd.diff(old, new)
    ]
