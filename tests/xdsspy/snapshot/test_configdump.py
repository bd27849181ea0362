"""Tests of xdsspy.snapshot.configdump: Envoy's and istiod's config dumps, read and written."""

from __future__ import annotations

import collections
import json
import pathlib
from typing import Any

import pytest

from xdsspy.snapshot import configdump
from xdsspy.snapshot import files
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.testing import istio_files

FIXTURES, ABSENT = istio_files.ROOT, istio_files.ABSENT
S = model.State
ADMIN = "type.googleapis.com/envoy.admin.v3."
V2 = "type.googleapis.com/envoy.api.v2."
CLUSTER_V3 = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LISTENER_V3 = "type.googleapis.com/envoy.config.listener.v3.Listener"


def _fixture(relative: str) -> model.Snapshot:
    return configdump.load(files.read_document(str(istio_files.path(relative))), relative)


def _counts(snapshot: model.Snapshot) -> dict[tuple[str, str], int]:
    return dict(collections.Counter((model.plural(i.type_url), str(i.state)) for i in snapshot.items))


def _same(items: tuple[model.Item, ...]) -> list[tuple[Any, ...]]:
    """The items as a multiset: `dump` writes them in Envoy's section order, not the document's."""
    return sorted(
        (
            i.type_url,
            i.name,
            i.state,
            i.version,
            i.last_updated,
            i.error,
            i.problem,
            json.dumps(i.body, sort_keys=True),
        )
        for i in items
    )


def _doc(*configs: dict[str, Any]) -> dict[str, Any]:
    return {"configs": list(configs)}


def _cluster(name: str, **fields: Any) -> dict[str, Any]:
    return {"@type": CLUSTER_V3, "name": name, **fields}


def _listener(name: str, port: int = 80) -> dict[str, Any]:
    return {"@type": LISTENER_V3, "name": name, "address": {"socket_address": {"port_value": port}}}


# -- every fixture -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", istio_files.dump_params())
def test_every_istio_fixture_loads_and_round_trips_through_dump(path: pathlib.Path) -> None:
    snapshot = configdump.load(files.read_document(str(path)), path.name)
    assert snapshot.items and not snapshot.notes
    for item in snapshot.items:
        assert item.type_url in model.PLURALS, item.type_url
        assert isinstance(item.body, dict) and isinstance(item.body["@type"], str)
    dumped = configdump.dump(snapshot)
    assert "xdsspy" not in dumped, "every fixture item fits Envoy's sections"
    again = configdump.load(json.loads(json.dumps(dumped)), "again")
    assert _same(again.items) == _same(snapshot.items)
    assert (again.kind, again.node, again.envoy_version, again.istio_version, again.has_endpoints) == (
        snapshot.kind,
        snapshot.node,
        snapshot.envoy_version,
        snapshot.istio_version,
        snapshot.has_endpoints,
    )


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (  # README: L 3, C 125, R 2, bootstrap static 1/3 (already in the static_* lists)
            "legacy-v2/gateway-ingressgateway-istio1.3.config_dump.json",
            {("clusters", "static"): 3, ("clusters", "active"): 122, ("listeners", "static"): 1}
            | {("listeners", "active"): 2, ("routes", "static"): 1, ("routes", "active"): 1},
        ),
        (
            "legacy-v2/gateway-ingressgateway-istio1.3.envoy1.12-v2alpha.config_dump.json",
            {("clusters", "static"): 3, ("clusters", "active"): 122, ("listeners", "static"): 1}
            | {("listeners", "active"): 2, ("routes", "static"): 1, ("routes", "active"): 1},
        ),
        (  # L 52, C 83, R 33
            "legacy-v2/sidecar-productpage-istio1.3.config_dump.json",
            {("clusters", "static"): 3, ("clusters", "active"): 80, ("listeners", "static"): 1}
            | {("listeners", "active"): 51, ("routes", "static"): 7, ("routes", "active"): 26},
        ),
        (  # S 4
            "legacy-v2/sidecar-details-sds-secrets.config_dump.json",
            {("clusters", "static"): 1, ("clusters", "active"): 1, ("listeners", "active"): 2}
            | {("routes", "static"): 1, ("routes", "active"): 1, ("secrets", "active"): 4},
        ),
        (
            "modern-v3/sidecar-endpoints-eds.config_dump.json",
            {("endpoints", "static"): 5, ("endpoints", "active"): 32},
        ),
        (
            "modern-v3/secrets-istio-ca.config_dump.json",
            {("secrets", "active"): 2, ("secrets", "warming"): 1},
        ),
        ("modern-v3/ecds-wasm.config_dump.json", {("extension_configs", "active"): 6}),
        (
            "modern-v3/sidecar-listeners-authz.config_dump.yaml",
            {("listeners", "static"): 2, ("listeners", "active"): 27},
        ),
        (  # L 2, C 3, R 1, E 2, S 2
            "modern-v3/waypoint-istio1.21.config_dump.json",
            {("clusters", "static"): 2, ("clusters", "active"): 1, ("endpoints", "static"): 1}
            | {("endpoints", "active"): 1, ("listeners", "static"): 1, ("listeners", "active"): 1}
            | {("routes", "static"): 1, ("secrets", "active"): 2},
        ),
    ],
)
def test_counts_by_type_and_state_match_the_fixtures_readme(
    relative: str, expected: dict[tuple[str, str], int]
) -> None:
    assert _counts(_fixture(relative)) == expected


def test_v2alpha_dump_gets_the_v2_types_its_sections_imply() -> None:
    old = _fixture("legacy-v2/gateway-ingressgateway-istio1.3.envoy1.12-v2alpha.config_dump.json")
    newer = _fixture("legacy-v2/gateway-ingressgateway-istio1.3.config_dump.json")
    expected = {
        model.CLUSTER: V2 + "Cluster",
        model.LISTENER: V2 + "Listener",
        model.ROUTE: V2 + "RouteConfiguration",
    }
    assert {(i.type_url, i.body["@type"]) for i in old.items} == set(expected.items())
    assert [(i.type_url, i.name, i.state) for i in old.items] == [
        (i.type_url, i.name, i.state) for i in newer.items
    ]
    assert next(iter(old.items[0].body)) == "@type", "the type comes first, as Envoy prints an Any"


def test_bodies_with_a_type_are_the_documents_own_objects() -> None:
    document = _doc(
        {"@type": ADMIN + "ClustersConfigDump", "dynamic_active_clusters": [{"cluster": _cluster("a")}]}
    )
    [item] = configdump.load(document, "d").items
    assert item.body is document["configs"][0]["dynamic_active_clusters"][0]["cluster"]
    assert (
        configdump.dump(configdump.load(document, "d"))["configs"][1]["dynamic_active_clusters"][0]["cluster"]
        is item.body
    )


def test_sds_secrets_keep_the_private_key_envoy_already_redacted() -> None:
    legacy = _fixture("legacy-v2/sidecar-details-sds-secrets.config_dump.json")
    keys = [
        i.body.get("tls_certificate", {}).get("private_key")
        for i in legacy.items
        if i.type_url == model.SECRET
    ]
    assert keys.count({"inline_string": "[redacted]"}) == 2 and keys.count(None) == 2
    modern = _fixture("modern-v3/secrets-istio-ca.config_dump.json")
    [default] = [i for i in modern.items if i.name == "default"]
    assert default.body["tls_certificate"]["private_key"] == {
        "inline_bytes": "W3JlZGFjdGVkXQ=="
    }  # [redacted]


def test_warming_secret_is_warming() -> None:
    snapshot = _fixture("modern-v3/secrets-istio-ca.config_dump.json")
    [warming] = [i for i in snapshot.items if i.state == S.WARMING]
    assert (warming.name, warming.version, warming.last_updated) == (
        "configmap://some/thing",
        "uninitialized",
        "2025-04-11T14:59:35.648Z",
    )


def test_node_and_versions_come_from_the_bootstrap() -> None:
    sidecar = _fixture("legacy-v2/sidecar-details-istio1.5.envoy.config_dump.json")
    assert (
        sidecar.node == "sidecar~172.30.150.195~details-v1-78d78fbddf-xb9kw.default~default.svc.cluster.local"
    )
    assert (sidecar.envoy_version, sidecar.istio_version) == (
        "1.13.1",
        "1.5.0-beta.5",
    )  # user_agent_build_version
    gateway = _fixture("legacy-v2/gateway-ingressgateway-istio1.3.config_dump.json")
    assert (gateway.envoy_version, gateway.istio_version) == ("1.12.0-dev", "1.3.0")  # v2 build_version
    camel = _fixture("legacy-v2/sidecar-details-sds-secrets.config_dump.json")  # jsonpb: buildVersion
    assert camel.envoy_version == "1.7.0-dev" and camel.node.startswith("sidecar~172.30.77.243~")
    waypoint = _fixture("modern-v3/waypoint-istio1.21.config_dump.json")
    assert (waypoint.envoy_version, waypoint.istio_version) == ("", "1.21.0-1226")


def test_version_and_last_updated_come_from_each_entry() -> None:
    gateway = _fixture("legacy-v2/gateway-ingressgateway-istio1.3.config_dump.json")
    [static, *_] = [i for i in gateway.items if i.state == S.STATIC]
    assert (static.version, static.last_updated) == ("", "2019-09-20T20:10:15.861Z")
    assert gateway.has_static and not gateway.has_endpoints
    camel = _fixture(
        "legacy-v2/sidecar-details-sds-secrets.config_dump.json"
    )  # versionInfo, camelCase wrappers
    [cluster] = [i for i in camel.items if i.type_url == model.CLUSTER and i.state == S.ACTIVE]
    assert cluster.version.startswith("2018-05-29 20:34:37")


# -- istiod or Envoy -----------------------------------------------------------------------------------


def test_istiods_dump_is_told_from_envoys() -> None:
    pilot = _fixture("legacy-v2/sidecar-details-istio1.5.pilot.config_dump.json")
    envoy = _fixture("legacy-v2/sidecar-details-istio1.5.envoy.config_dump.json")
    assert (pilot.kind, pilot.has_static, pilot.node) == (model.SourceKind.ISTIOD, False, "")
    assert (envoy.kind, envoy.has_static) == (model.SourceKind.CONFIG_DUMP, True)
    assert {(i.type_url, i.name) for i in pilot.items} == {(i.type_url, i.name) for i in envoy.items}


def test_the_kind_given_wins() -> None:
    path = FIXTURES / "legacy-v2/sidecar-details-istio1.5.pilot.config_dump.json"
    if not path.is_file():
        pytest.skip(ABSENT)
    told = configdump.load(files.read_document(str(path)), "p", kind=model.SourceKind.CONFIG_DUMP)
    assert (told.kind, told.has_static) == (model.SourceKind.CONFIG_DUMP, True)
    empty = _doc({"@type": ADMIN + "BootstrapConfigDump"})
    assert configdump.load(empty, "e").kind == model.SourceKind.ISTIOD
    assert configdump.load(empty, "e", kind=model.SourceKind.CONFIG_DUMP).kind == model.SourceKind.CONFIG_DUMP


def test_an_empty_bootstrap_beside_envoys_timestamps_is_still_envoys() -> None:
    document = _doc(
        {"@type": ADMIN + "BootstrapConfigDump"},
        {
            "@type": ADMIN + "ClustersConfigDump",
            "dynamic_active_clusters": [{"cluster": _cluster("a"), "last_updated": "2026-01-01T00:00:00Z"}],
        },
    )
    assert configdump.load(document, "d").kind == model.SourceKind.CONFIG_DUMP


# -- states, rejections, shapes ------------------------------------------------------------------------


def test_listener_states_and_a_rejected_version() -> None:
    bad = {**_listener("l1", 81), "bogus": 1}
    document = _doc(
        {
            "@type": ADMIN + "ListenersConfigDump",
            "version_info": "7",
            "dynamic_listeners": [
                {
                    "name": "l1",
                    "active_state": {"version_info": "5", "listener": _listener("l1"), "last_updated": "T1"},
                    "warming_state": {"version_info": "6", "listener": _listener("l1", 82)},
                    "error_state": {
                        "failed_configuration": bad,
                        "last_update_attempt": "T3",
                        "details": "Proto constraint validation failed",
                        "version_info": "7",
                    },
                },
                {"name": "old", "draining_state": {"version_info": "4", "listener": _listener("old")}},
                {"name": "never", "error_state": {"details": "no", "version_info": "7"}},
            ],
        }
    )
    snapshot = configdump.load(document, "d")
    assert [(i.name, i.state, i.version, i.last_updated, i.error) for i in snapshot.items] == [
        ("l1", S.ACTIVE, "5", "T1", ""),
        ("l1", S.WARMING, "6", "", ""),
        ("l1", S.REJECTED, "7", "T3", "Proto constraint validation failed"),
        ("old", S.DRAINING, "4", "", ""),
        ("never", S.REJECTED, "7", "", "no"),
    ]
    assert snapshot.items[2].body is bad
    assert snapshot.items[4].body is None and snapshot.items[4].problem == configdump.NOT_SHOWN
    dumped = configdump.dump(snapshot)
    [listeners] = [c for c in dumped["configs"] if c["@type"] == ADMIN + "ListenersConfigDump"]
    assert [sorted(e) for e in listeners["dynamic_listeners"]] == [
        ["active_state", "error_state", "name", "warming_state"],
        ["draining_state", "name"],
        ["error_state", "name"],
    ]
    assert _same(configdump.load(dumped, "again").items) == _same(snapshot.items)


def test_a_rejected_cluster_sits_beside_its_accepted_version_and_is_named_by_it() -> None:
    document = _doc(
        {
            "@type": ADMIN + "ClustersConfigDump",
            "dynamicActiveClusters": [
                {
                    "versionInfo": "1",
                    "cluster": _cluster("c"),
                    "errorState": {"details": "bad cluster", "versionInfo": "2", "lastUpdateAttempt": "T"},
                }
            ],
            "dynamicWarmingClusters": [{"cluster": _cluster("w")}],
        }
    )
    snapshot = configdump.load(document, "d")
    assert [(i.name, i.state, i.version, i.error, i.body is None) for i in snapshot.items] == [
        ("c", S.ACTIVE, "1", "", False),
        ("c", S.REJECTED, "2", "bad cluster", True),
        ("w", S.WARMING, "", "", False),
    ]
    dumped = configdump.dump(snapshot)
    [entry] = dumped["configs"][1]["dynamic_active_clusters"]
    assert entry["error_state"] == {"last_update_attempt": "T", "details": "bad cluster", "version_info": "2"}
    assert _same(configdump.load(dumped, "again").items) == _same(snapshot.items)


def test_v2alpha_listener_lists_by_state() -> None:
    document = _doc(
        {
            "@type": "type.googleapis.com/envoy.admin.v2alpha.ListenersConfigDump",
            "dynamic_active_listeners": [{"version_info": "1", "listener": {"name": "a"}}],
            "dynamic_warming_listeners": [{"version_info": "2", "listener": {"name": "a"}}],
            "dynamic_draining_listeners": [{"version_info": "0", "listener": {"name": "b"}}],
        }
    )
    items = configdump.load(document, "d").items
    assert [(i.name, i.state, i.body) for i in items] == [
        ("a", S.ACTIVE, {"@type": V2 + "Listener", "name": "a"}),
        ("a", S.WARMING, {"@type": V2 + "Listener", "name": "a"}),
        ("b", S.DRAINING, {"@type": V2 + "Listener", "name": "b"}),
    ]


def test_names_of_every_type() -> None:
    document = _doc(
        {
            "@type": ADMIN + "EndpointsConfigDump",
            "dynamic_endpoint_configs": [
                {"endpoint_config": {"@type": "x.CLA", "clusterName": "by-cluster-name"}}
            ],
        },
        {
            "@type": ADMIN + "SecretsConfigDump",
            "static_secrets": [{"name": "by-wrapper", "secret": {"@type": "x.Secret"}}],
        },
        {
            "@type": ADMIN + "ScopedRoutesConfigDump",
            "dynamic_scoped_route_configs": [
                {
                    "name": "group",
                    "version_info": "3",
                    "scoped_route_configs": [{"@type": "x.S", "name": "s1"}],
                }
            ],
        },
        {"@type": ADMIN + "EcdsConfigDump", "ecds_filters": [{"ecds_filter": {"@type": "x.T", "name": "f"}}]},
    )
    snapshot = configdump.load(document, "d")
    assert [(i.type_url, i.name, i.state, i.version) for i in snapshot.items] == [
        (model.ENDPOINT, "by-cluster-name", S.ACTIVE, ""),
        (model.SECRET, "by-wrapper", S.STATIC, ""),
        (model.SCOPED_ROUTE, "s1", S.ACTIVE, "3"),
        (model.EXTENSION, "f", S.ACTIVE, ""),
    ]
    assert snapshot.has_endpoints
    assert _same(configdump.load(configdump.dump(snapshot), "again").items) == _same(snapshot.items)


def test_single_entries_of_a_resource_query() -> None:
    document = _doc(
        {"@type": ADMIN + "ClustersConfigDump.DynamicCluster", "version_info": "1", "cluster": _cluster("a")},
        {"@type": ADMIN + "ClustersConfigDump.StaticCluster", "cluster": _cluster("s")},
        {
            "@type": ADMIN + "ListenersConfigDump.DynamicListener",
            "name": "l",
            "warming_state": {"listener": _listener("l")},
        },
    )
    snapshot = configdump.load(document, "d")
    assert [(i.name, i.state) for i in snapshot.items] == [("a", S.ACTIVE), ("s", S.STATIC), ("l", S.WARMING)]
    assert len(snapshot.notes) == 1 and "?resource=" in snapshot.notes[0]


def test_unknown_parts_are_notes_not_errors() -> None:
    document = _doc(
        {"@type": "type.googleapis.com/acme.mesh.v1.SidecarConfigDump", "things": [1, 2]},
        {"@type": ADMIN + "FutureConfigDump"},
        {"@type": ADMIN + "ClustersConfigDump", "dynamic_removed_clusters": [{}], "static_clusters": []},
    )
    snapshot = configdump.load(document, "d")
    assert snapshot.items == ()
    assert [n.split(":", 1)[0] for n in snapshot.notes] == [
        "configs[0]",
        "configs[1]",
        "configs[2] (ClustersConfigDump)",
    ]
    assert (
        "acme.mesh.v1.SidecarConfigDump" in snapshot.notes[0]
        and "dynamic_removed_clusters" in snapshot.notes[2]
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], 'not a config dump: expected an object with "configs", found a list'),
        ({"node": {"id": "x"}}, 'no "configs" (it looks like a bootstrap)'),
        ({"configs": {"a": 1}}, "configs: expected a list, found an object"),
        ({"configs": ["x"]}, "configs[0]: expected an object"),
        ({"configs": [{"bootstrap": {}}]}, 'configs[0]: no "@type"'),
        (
            _doc({"@type": ADMIN + "ClustersConfigDump", "static_clusters": {"cluster": {}}}),
            "configs[0] (ClustersConfigDump).static_clusters: expected a list, found an object",
        ),
        (
            _doc({"@type": ADMIN + "RoutesConfigDump", "dynamic_route_configs": [{"route_config": "r"}]}),
            "configs[0] (RoutesConfigDump).dynamic_route_configs[0].route_config: expected an object",
        ),
        (
            _doc({"@type": ADMIN + "ListenersConfigDump", "dynamic_listeners": [{"active_state": []}]}),
            "dynamic_listeners[0].active_state: expected an object, found a list",
        ),
        (
            _doc(
                {
                    "@type": ADMIN + "SecretsConfigDump",
                    "dynamic_active_secrets": [{"name": ["n"], "secret": {}}],
                }
            ),
            "dynamic_active_secrets[0].name: expected a string, found a list",
        ),
        (
            _doc({"@type": ADMIN + "BootstrapConfigDump", "bootstrap": []}),
            "configs[0].bootstrap: expected an object, found a list",
        ),
    ],
)
def test_malformed_structure_says_where(document: Any, message: str) -> None:
    with pytest.raises(problems.SnapshotError) as raised:
        configdump.load(document, "dump.json")
    assert str(raised.value).startswith("dump.json: ") and message in str(raised.value)


# -- dump ---------------------------------------------------------------------------------------------


def _snapshot(*items: model.Item, **fields: Any) -> model.Snapshot:
    return model.Snapshot("s", fields.pop("kind", model.SourceKind.RECORDING), items, **fields)


def test_dump_writes_envoys_sections_in_envoys_order_and_only_those_with_items() -> None:
    snapshot = _snapshot(
        model.Item(model.SECRET, "sec", {"@type": "x.Secret", "name": "sec"}, version="3"),
        model.Item(model.LISTENER, "l", _listener("l"), version="1", last_updated="T"),
        model.Item(model.CLUSTER, "c", _cluster("c"), state=S.STATIC),
        model.Item(model.ENDPOINT, "c", {"@type": "x.CLA", "cluster_name": "c"}),
        node="sidecar~1",
        envoy_version="1.40.0",
        istio_version="1.28.0",
        has_endpoints=True,
    )
    dumped = configdump.dump(snapshot)
    assert [c["@type"].removeprefix(ADMIN) for c in dumped["configs"]] == [
        "BootstrapConfigDump",
        "ClustersConfigDump",
        "EndpointsConfigDump",
        "ListenersConfigDump",
        "SecretsConfigDump",
    ]
    bootstrap, clusters, _, listeners, secrets = dumped["configs"]
    assert bootstrap["bootstrap"]["node"] == {
        "id": "sidecar~1",
        "user_agent_build_version": {"version": {"major_number": 1, "minor_number": 40, "patch": 0}},
        "metadata": {"ISTIO_VERSION": "1.28.0"},
    }
    assert clusters == {
        "@type": ADMIN + "ClustersConfigDump",
        "static_clusters": [{"cluster": _cluster("c")}],
    }
    assert listeners["dynamic_listeners"] == [
        {"name": "l", "active_state": {"version_info": "1", "listener": _listener("l"), "last_updated": "T"}}
    ]
    assert secrets["dynamic_active_secrets"] == [
        {"name": "sec", "version_info": "3", "secret": {"@type": "x.Secret", "name": "sec"}}
    ]
    again = configdump.load(dumped, "again")
    assert (again.node, again.envoy_version, again.istio_version) == ("sidecar~1", "1.40.0", "1.28.0")


def test_dump_of_a_snapshot_with_endpoints_but_none_says_so() -> None:
    dumped = configdump.dump(_snapshot(has_endpoints=True))
    assert dumped["configs"][-1] == {"@type": ADMIN + "EndpointsConfigDump"}
    assert configdump.load(dumped, "again").has_endpoints
    assert not configdump.load(configdump.dump(_snapshot(has_endpoints=False)), "again").has_endpoints


def test_dump_of_istiods_snapshot_reads_back_as_istiods() -> None:
    snapshot = _snapshot(model.Item(model.CLUSTER, "c", _cluster("c")), kind=model.SourceKind.ISTIOD)
    dumped = configdump.dump(snapshot)
    assert dumped["configs"][0] == {"@type": ADMIN + "BootstrapConfigDump"}
    assert configdump.load(dumped, "again").kind == model.SourceKind.ISTIOD
    plain = configdump.dump(
        _snapshot(model.Item(model.CLUSTER, "c", _cluster("c")), kind=model.SourceKind.CONFIG_DUMP)
    )
    assert configdump.load(plain, "again").kind == model.SourceKind.CONFIG_DUMP


def test_what_no_section_holds_is_kept_aside_and_read_back() -> None:
    items = (
        model.Item(model.VIRTUAL_HOST, "rc/vh", {"@type": "x.VirtualHost", "name": "vh"}, version="2"),
        model.Item(model.RUNTIME, "rt", None, problem="undecodable"),
        model.Item(model.ROUTE, "r", {"@type": "x.Route", "name": "r"}, state=S.WARMING),
        model.Item(model.CLUSTER, "c", None, state=S.REJECTED, error="bad", problem="truncated"),
        model.Item(model.CLUSTER, "renamed", _cluster("c")),
        model.Item(model.EXTENSION, "e", {"@type": "x.T", "name": "e"}, state=S.STATIC),
        model.Item(
            "type.googleapis.com/acme.v1.Thing", "t", {"@type": "acme.v1.Thing"}, state=S.REJECTED, error="no"
        ),
    )
    dumped = configdump.dump(_snapshot(*items, has_endpoints=False))
    assert [c["@type"] for c in dumped["configs"]] == [ADMIN + "BootstrapConfigDump"]
    assert [o["name"] for o in dumped["xdsspy"]["other_resources"]] == [
        "renamed",
        "c",
        "e",
        "r",
        "rc/vh",
        "rt",
        "t",
    ]
    assert _same(configdump.load(dumped, "again").items) == _same(items)


def test_the_uis_saved_state_reads_too() -> None:
    document = {
        "configs": [
            {"@type": ADMIN + "ClustersConfigDump", "dynamic_active_clusters": [{"cluster": _cluster("c")}]}
        ],
        "xdsspy": {
            "recording": "run.xdsspy",
            "node": "n1",
            "seq": 17,
            "time": "2026-01-01T00:00:00Z",
            "other_resources": [
                {
                    "type_url": model.VIRTUAL_HOST,
                    "name": "v",
                    "status": "ACKED",
                    "version_info": "1",
                    "resource": {},
                },
                {"type_url": model.RUNTIME, "name": "p", "status": "PENDING"},
            ],
        },
    }
    snapshot = configdump.load(document, "state.json")
    assert (snapshot.kind, snapshot.node, snapshot.seq, snapshot.at, snapshot.has_static) == (
        model.SourceKind.RECORDING,
        "n1",
        17,
        "2026-01-01T00:00:00Z",
        False,
    )
    assert [(i.type_url, i.name, i.state) for i in snapshot.items] == [
        (model.CLUSTER, "c", S.ACTIVE),
        (model.VIRTUAL_HOST, "v", S.ACTIVE),
    ]
    assert len(snapshot.notes) == 1 and "PENDING" in snapshot.notes[0]
