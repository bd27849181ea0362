"""Field-level diffs of config_dump JSON: Envoy's list semantics, readable paths, noise, bounded depth."""

from __future__ import annotations

import copy
import json
from typing import Any

from xdsspy import configdiff as cd
from xdsspy.decode import resources
from xdsspy.decode import tree
from xdsspy.testing import istio_files
from xdsspy.testing import xds

V3_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
HCM_V3 = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)
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


def listener(vhosts: list[dict[str, Any]], http_filters: list[str]) -> dict[str, Any]:
    hcm = {
        "@type": HCM_V3,
        "stat_prefix": "outbound_0.0.0.0_9080",
        "route_config": {"name": "9080", "virtual_hosts": vhosts},
        "http_filters": [{"name": name} for name in http_filters],
    }
    return {
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
        "name": "0.0.0.0_9080",
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


# -- realistic changes ---------------------------------------------------------------------------


def test_a_circuit_breaker_change_is_one_field() -> None:
    old, new = cluster(), cluster()
    new["circuit_breakers"]["thresholds"][0]["max_requests"] = 2048
    old["circuit_breakers"]["thresholds"][0]["max_requests"] = 1024
    changes = cd.diff(old, new)
    assert lines(changes) == ["circuit_breakers.thresholds[0].max_requests: 1024 → 2048"]
    assert changes[0].kind == cd.ChangeKind.CHANGED and (changes[0].old, changes[0].new) == (1024, 2048)
    assert tree.follow(new, changes[0].location) == 2048
    assert cd.diff(cluster(), cluster()) == []


def test_diff_named_reports_added_removed_and_changed_resources() -> None:
    old = {c["name"]: c for c in (cluster(1), cluster(2), cluster(3))}
    new = {c["name"]: c for c in (cluster(2), cluster(3), cluster(4))}
    changed_name = cluster(3)["name"]
    new[changed_name] = copy.deepcopy(new[changed_name])
    new[changed_name]["connect_timeout"] = "1s"
    result = cd.diff_named(old, new)
    assert result.added == (cluster(4)["name"],) and result.removed == (cluster(1)["name"],)
    assert list(result.changed) == [changed_name]
    assert lines(result.changed[changed_name]) == ['connect_timeout: "10s" → "1s"']
    assert result.unchanged == 1 and not result.is_empty
    assert cd.diff_named(old, old).is_empty


def test_a_route_change_inside_a_nested_typed_config_has_a_readable_path() -> None:
    old = listener([virtual_host(REVIEWS, route("/"))], ["envoy.filters.http.router"])
    new = listener(
        [virtual_host(REVIEWS, route("/", "outbound|9080|v2|reviews"))], ["envoy.filters.http.router"]
    )
    [change] = cd.diff(old, new)
    assert change.path == (
        "filter_chains[0].filters[0].typed_config.route_config"
        f".virtual_hosts[{REVIEWS}].routes[0].route.cluster"
    )
    assert change.new == "outbound|9080|v2|reviews"
    assert tree.follow(new, change.location) == change.new


def test_an_inserted_http_filter_is_one_addition_and_a_swapped_typed_config_one_change() -> None:
    old = listener([], ["istio.metadata_exchange", "envoy.filters.http.router"])
    new = listener([], ["istio.metadata_exchange", "envoy.filters.http.rbac", "envoy.filters.http.router"])
    hcm = "filter_chains[0].filters[0].typed_config"
    assert lines(cd.diff(old, new)) == [f'+ {hcm}.http_filters[1]: {{"name": "envoy.filters.http.rbac"}}']

    v2 = copy.deepcopy(old)
    v2_hcm = (
        "type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"
    )
    v2["filter_chains"][0]["filters"][0]["typed_config"]["@type"] = v2_hcm
    [change] = cd.diff(v2, old)
    assert change.path == f'{hcm}["@type"]' and (change.old, change.new) == (v2_hcm, HCM_V3)


def test_duplicate_or_missing_keys_fall_back_to_positions() -> None:
    duplicated = {"virtual_hosts": [virtual_host("a", route("/")), virtual_host("a", route("/x"))]}
    new = copy.deepcopy(duplicated)
    new["virtual_hosts"][1]["domains"] = ["b"]
    assert lines(cd.diff(duplicated, new)) == ['virtual_hosts[1].domains[0]: "a" → "b"']

    unnamed = {"virtual_hosts": [{"domains": ["a"]}, {"domains": ["b"]}]}
    assert lines(cd.diff(unnamed, {"virtual_hosts": [{"domains": ["b"]}, {"domains": ["a"]}]})) == [
        "~ virtual_hosts[0]: position 1 → 0"
    ]
    # Not dicts at all: positions, and no crash.
    assert lines(cd.diff({"virtual_hosts": [1, "x"]}, {"virtual_hosts": ["x", 2]})) == [
        "- virtual_hosts[0]: 1",
        "+ virtual_hosts[1]: 2",
    ]


def test_v2_and_v3_type_urls_of_the_same_message_are_equal_when_asked() -> None:
    raw = xds.tcluster(1).SerializeToString()
    v2 = resources.decode("type.googleapis.com/envoy.api.v2.Cluster", raw).body
    v3 = resources.decode(V3_CLUSTER, raw).body
    [change] = cd.diff(v2, v3)
    assert change.path == '["@type"]' and (change.old, change.new) == (v2["@type"], V3_CLUSTER)
    assert cd.diff(v2, v3, normalize_type_url=cd.upgrade_type_url) == []
    v3["lb_policy"] = "ROUND_ROBIN"
    assert [c.path for c in cd.diff(v2, v3, normalize_type_url=cd.upgrade_type_url)] == ["lb_policy"]

    wasm_v2 = {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct"}
    wasm_v2["type_url"] = "type.googleapis.com/envoy.config.filter.http.wasm.v2.Wasm"
    wasm_v3 = {**wasm_v2, "type_url": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}
    assert cd.diff(wasm_v2, wasm_v3, normalize_type_url=cd.upgrade_type_url) == []
    assert (
        cd.upgrade_type_url("type.googleapis.com/stats.PluginConfig")
        == "type.googleapis.com/stats.PluginConfig"
    )


def test_ignored_keys_are_skipped_at_any_depth_and_when_aligning_lists() -> None:
    old = {"version_info": "1", "resources": [{"name": "a", "version": "1", "value": 1}]}
    new = {"version_info": "2", "resources": [{"name": "a", "version": "2", "value": 1}]}
    assert [c.path for c in cd.diff(old, new)] == ["version_info", "resources[a].version"]
    assert cd.diff(old, new, ignore=cd.SNAPSHOT_NOISE) == []

    filters_old = {"http_filters": [{"name": "a", "last_updated": "t1"}, {"name": "b"}]}
    filters_new = {"http_filters": [{"name": "x"}, {"name": "a", "last_updated": "t2"}, {"name": "b"}]}
    assert lines(cd.diff(filters_old, filters_new, ignore={"last_updated"})) == [
        '+ http_filters[0]: {"name": "x"}'
    ]


def test_map_keys_that_are_not_identifiers_are_quoted() -> None:
    old, new = cluster(), cluster()
    options = new["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    options["common_http_protocol_options"]["idle_timeout"] = "60s"
    new["metadata"]["filter_metadata"]["istio"]["services"][0]["namespace"] = "ns-2"
    new["metadata"]["filter_metadata"]["envoy.lb"] = {"canary": True}
    assert [c.path for c in cd.diff(old, new)] == [
        "metadata.filter_metadata.istio.services[0].namespace",
        'metadata.filter_metadata["envoy.lb"]',
        'typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]'
        ".common_http_protocol_options.idle_timeout",
    ]


def test_scalar_type_changes_are_changes_but_equal_numbers_are_not() -> None:
    [change] = cd.diff({"port": 1}, {"port": "1"})
    assert cd.format_change(change) == 'port: 1 → "1"' and change.type_changed
    assert cd.diff({"port": 8000}, {"port": 8000.0}) == []  # one JSON number
    [other] = cd.diff({"a": 1}, {"a": 2})
    assert not other.type_changed
    assert lines(cd.diff({"a": {"b": 1}}, {"a": [1]})) == ['a: {"b": 1} → [1]']
    assert lines(cd.diff(1, 2)) == ["(root): 1 → 2"]


def test_missing_is_not_null_and_removals_stay_where_they_were() -> None:
    [added] = cd.diff({}, {"a": None})
    assert added.kind == cd.ChangeKind.ADDED and added.old is cd.MISSING and added.new is None
    old = {"a": 1, "b": 2, "c": 3, "d": 4}
    new = {"x": 0, "a": 1, "c": 30, "e": 5}
    assert [(c.kind.value, c.path) for c in cd.diff(old, new)] == [
        ("added", "x"),
        ("removed", "b"),
        ("changed", "c"),
        ("removed", "d"),
        ("added", "e"),
    ]
    [removed] = cd.diff({"a": [1, 2]}, {"a": [1]})
    assert removed.new is cd.MISSING and removed.location == ("a", 1) and repr(cd.MISSING) == "MISSING"


def test_deep_nesting_is_compared_whole_past_the_bound() -> None:
    def nested(depth: int, leaf: Any) -> Any:
        value = leaf
        for n in range(depth):
            value = {"a": value} if n % 2 else [value]
        return value

    old, new = nested(5000, 1), nested(5000, 2)
    [change] = cd.diff(old, new)
    assert len(change.location) == cd.MAX_DEPTH == 100 and change.kind == cd.ChangeKind.CHANGED
    assert cd.diff(old, nested(5000, 1)) == []
    assert len(cd.format_value(change.new, 40)) <= 40
    # Inside an ordered list too (elements too deep to fingerprint are still compared).
    assert len(cd.diff({"routes": [old]}, {"routes": [new]}, ignore={"x"})) == 1


def test_format_value_is_one_short_line() -> None:
    name = "outbound|9080||reviews.default.svc.cluster.local"
    assert cd.format_value(name, 30) == '"outbound|9080|…cluster.local"'
    assert cd.format_value(name, 100) == json.dumps(name)
    assert cd.format_value({"a": True, "b": None, "c": [1.5]}) == '{"a": true, "b": null, "c": [1.5]}'
    long = cd.format_value({"hosts": [f"10.0.0.{n}" for n in range(100)]}, 40)
    assert len(long) == 40 and long.endswith("…") and long.startswith('{"hosts": ["10.0.0.0"')
    assert cd.format_value("line\nbreak") == '"line\\nbreak"'
    assert cd.format_value(cd.MISSING) == "(missing)"


def test_a_ten_thousand_cluster_snapshot_pair() -> None:
    # Old and new share no nested objects, so equal clusters are compared, not skipped by identity.
    old_base, new_base = cluster(1), cluster(1)
    names = [f"outbound|8000||svc-{n}.ns.svc.cluster.local" for n in range(10_000)]
    old = {name: {**old_base, "name": name} for name in names}
    new = {name: {**new_base, "name": name} for name in names if name != names[7]}
    for name in names[::1000]:
        new[name] = copy.deepcopy(new[name])
        new[name]["circuit_breakers"]["thresholds"][0]["max_requests"] = 2048
    result = cd.diff_named(old, new)
    assert result.removed == (names[7],) and list(result.changed) == names[::1000]
    assert result.unchanged == 9989 and result.added == ()
    as_lists = cd.diff(list(old.values()), list(reversed(new.values())))
    # In the order of new (reversed), the removed cluster right after its old predecessor, names[6].
    assert [c.path.split("]")[0] + "]" for c in as_lists] == [
        *(f"[{name}]" for name in reversed(names[1000::1000])),
        f"[{names[7]}]",
        f"[{names[0]}]",
    ]
    assert as_lists[-2].kind == cd.ChangeKind.REMOVED


# -- Istio config dumps (../shared/fixtures/istio) -------------------------------------------------


def _fixture(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(istio_files.path(relative).read_text())
    return loaded


def _section(dump: dict[str, Any], kind: str) -> dict[str, Any]:
    [section] = [c for c in dump["configs"] if c["@type"].endswith("." + kind)]
    found: dict[str, Any] = section
    return found


def test_istio_waypoint_dump_reordered_and_restamped_shows_only_the_real_change() -> None:
    old = _fixture("modern-v3/waypoint-istio1.21.config_dump.json")
    new = copy.deepcopy(old)
    new["configs"].reverse()
    clusters = _section(new, "ClustersConfigDump")["static_clusters"]
    clusters.reverse()
    [agent] = [c for c in clusters if c["cluster"]["name"] == "agent"]
    agent["cluster"]["connect_timeout"] = "1s"
    agent["last_updated"] = "2030-01-01T00:00:00Z"
    _section(new, "SecretsConfigDump")["dynamic_active_secrets"].reverse()
    assert cd.diff(old, copy.deepcopy(old)) == []
    assert lines(cd.diff(old, new, ignore=cd.SNAPSHOT_NOISE)) == [
        'configs[ClustersConfigDump].static_clusters[agent].cluster.connect_timeout: "0.250s" → "1s"'
    ]
    assert len(cd.diff(old, new)) == 2  # last_updated too


def test_istio_endpoints_dump_matches_endpoints_by_address() -> None:
    old = _fixture("modern-v3/sidecar-endpoints-eds.config_dump.json")
    new = copy.deepcopy(old)
    entries = _section(new, "EndpointsConfigDump")["dynamic_endpoint_configs"]
    entries.reverse()
    two = next(
        e for e in entries if len(e["endpoint_config"].get("endpoints", [{}])[0].get("lb_endpoints", [])) == 2
    )
    group = two["endpoint_config"]["endpoints"][0]
    group["lb_endpoints"].reverse()
    group["lb_endpoints"][0]["health_status"] = "UNHEALTHY"
    socket = group["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    [change] = cd.diff(old, new)
    assert change.path == (
        f"configs[EndpointsConfigDump].dynamic_endpoint_configs[{two['endpoint_config']['cluster_name']}]"
        f".endpoint_config.endpoints[(no locality)].lb_endpoints[{socket['address']}:{socket['port_value']}]"
        ".health_status"
    )
    assert tree.follow(new, change.location) == "UNHEALTHY"


def test_istio_legacy_v2_resources_equal_their_v3_spelling() -> None:
    dump = _fixture("legacy-v2/sidecar-details-istio1.5.envoy.config_dump.json")
    renames = {
        "envoy.api.v2.Cluster": "envoy.config.cluster.v3.Cluster",
        "envoy.api.v2.Listener": "envoy.config.listener.v3.Listener",
        "envoy.api.v2.RouteConfiguration": "envoy.config.route.v3.RouteConfiguration",
        "envoy.api.v2.auth.DownstreamTlsContext": (
            "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
        ),
        "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager": HCM_V3.split("/")[1],
        "envoy.config.filter.http.wasm.v2.Wasm": "envoy.extensions.filters.http.wasm.v3.Wasm",
    }
    text = json.dumps(dump)
    for v2, v3 in renames.items():
        text = text.replace(f'/{v2}"', f'/{v3}"')
    upgraded = json.loads(text)
    assert len(cd.diff(dump, upgraded)) > 3
    assert cd.diff(dump, upgraded, normalize_type_url=cd.upgrade_type_url) == []
