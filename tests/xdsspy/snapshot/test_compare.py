"""Comparing snapshots: what counts as a change, what is left out and why, and that a diff carries it all."""

from __future__ import annotations

import base64
import re
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import configdiff
from xdsspy import redact
from xdsspy.snapshot import compare
from xdsspy.snapshot import model

K = configdiff.ChangeKind
CLUSTER_V3 = model.CLUSTER
CLUSTER_V2 = "type.googleapis.com/envoy.api.v2.Cluster"


def snap(
    *items: model.Item, kind: model.SourceKind = model.SourceKind.RECORDING, **kw: Any
) -> model.Snapshot:
    return model.Snapshot(source=str(kind), kind=kind, items=items, **kw)


def cluster(name: str, timeout: str = "1s", **extra: Any) -> model.Item:
    body = {"@type": CLUSTER_V3, "name": name, "connect_timeout": timeout, **extra}
    return model.Item(model.CLUSTER, name, body)


def route(name: str, *prefixes: str) -> model.Item:
    vhost = {"name": "vh", "domains": ["*"], "routes": [{"match": {"prefix": p}} for p in prefixes]}
    body = {"@type": model.ROUTE, "name": name, "virtual_hosts": [vhost]}
    return model.Item(model.ROUTE, name, body)


def test_a_changed_field_is_named_by_its_full_path() -> None:
    thresholds = {"thresholds": [{"max_requests": 1024}]}
    a = snap(cluster("outbound|9080||reviews", circuit_breakers=thresholds))
    b = snap(cluster("outbound|9080||reviews", circuit_breakers={"thresholds": [{"max_requests": 2048}]}))
    c = compare.compare(a, b)
    [change] = c.changes
    [field] = change.fields
    assert (
        change.path(field) == "clusters[outbound|9080||reviews].circuit_breakers.thresholds[0].max_requests"
    )
    assert (field.old, field.new) == (1024, 2048)


def test_resources_added_removed_and_the_same_are_counted_per_type() -> None:
    c = compare.compare(snap(cluster("a"), cluster("b")), snap(cluster("b"), cluster("c")))
    assert [(x.name, x.kind) for x in c.changes] == [("a", K.REMOVED), ("c", K.ADDED)]
    assert c.unchanged == {model.CLUSTER: 1}
    assert c.counts() == {model.CLUSTER: {K.REMOVED: 1, K.ADDED: 1}}


def test_version_and_update_times_are_noise() -> None:
    a = snap(
        model.Item(model.CLUSTER, "a", {"@type": CLUSTER_V3, "name": "a"}, version="1", last_updated="x")
    )
    b = snap(
        model.Item(model.CLUSTER, "a", {"@type": CLUSTER_V3, "name": "a"}, version="2", last_updated="y")
    )
    assert compare.compare(a, b).same


def test_v2_and_v3_type_urls_of_one_message_are_the_same() -> None:
    v2 = model.Item(model.CLUSTER, "a", {"@type": CLUSTER_V2, "name": "a", "connect_timeout": "1s"})
    assert compare.compare(snap(v2), snap(cluster("a"))).same


def test_jsonpb_camel_case_equals_proto_field_names() -> None:
    camel = model.Item(model.CLUSTER, "a", {"@type": CLUSTER_V3, "name": "a", "connectTimeout": "1.000s"})
    assert compare.compare(snap(camel, kind=model.SourceKind.ISTIOD), snap(cluster("a"))).same


def test_envoys_endpoint_defaults_equal_a_recorded_assignment_without_them() -> None:
    address = {"socket_address": {"address": "10.0.0.1", "port_value": 80}}
    recorded = {
        "@type": model.ENDPOINT,
        "cluster_name": "x",
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
    }
    dumped = {
        "@type": model.ENDPOINT,
        "cluster_name": "x",
        "endpoints": [
            {
                "locality": {},
                "lb_endpoints": [
                    {
                        "endpoint": {"address": address, "health_check_config": {}},
                        "health_status": "HEALTHY",
                        "load_balancing_weight": 1,
                    }
                ],
                "load_balancing_weight": 0,
            }
        ],
        "policy": {"overprovisioning_factor": 140},
    }
    a = snap(model.Item(model.ENDPOINT, "x", recorded))
    b = snap(model.Item(model.ENDPOINT, "x", dumped), kind=model.SourceKind.CONFIG_DUMP, has_static=True)
    assert compare.compare(a, b).same
    dumped["endpoints"][0]["lb_endpoints"][0]["load_balancing_weight"] = 3
    [change] = compare.compare(a, b).changes
    [field] = change.fields
    assert field.path == "endpoints[(no locality)].lb_endpoints[10.0.0.1:80].load_balancing_weight"
    assert (field.old, field.new) == (1, 3)  # read as a change of the default, not an addition


def test_static_resources_are_left_out_when_only_one_side_can_know_them() -> None:
    static = model.Item(model.CLUSTER, "xds-grpc", {"name": "xds-grpc"}, state=model.State.STATIC)
    dump = snap(static, cluster("a"), kind=model.SourceKind.CONFIG_DUMP, has_static=True)
    c = compare.compare(snap(cluster("a")), dump)
    assert c.same
    assert len(c.notes) == 1 and "left out 1 static (bootstrap) resource(s) of B" in c.notes[0]
    both = compare.compare(dump, snap(cluster("a"), kind=model.SourceKind.CONFIG_DUMP, has_static=True))
    assert [(x.name, x.kind) for x in both.changes] == [("xds-grpc", K.REMOVED)]


def test_endpoints_are_left_out_when_one_side_has_none() -> None:
    eds = model.Item(model.ENDPOINT, "a", {"cluster_name": "a"})
    c = compare.compare(snap(eds, cluster("a")), snap(cluster("a"), has_endpoints=False))
    assert c.same and "endpoints not compared" in c.notes[0]


def test_a_secret_envoy_redacted_is_not_compared_but_a_masked_one_is() -> None:
    def secret(form: str, value: str) -> model.Item:
        body = {"@type": model.SECRET, "name": "s", "tls_certificate": {"private_key": {form: value}}}
        return model.Item(model.SECRET, "s", body)

    envoy = snap(
        secret("inline_bytes", base64.b64encode(b"[redacted]").decode()), kind=model.SourceKind.CONFIG_DUMP
    )
    pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    recording = snap(secret("inline_string", pem))
    c = compare.compare(recording, envoy, redactor=redact.Redactor())
    assert c.same and "not compared" in c.notes[0]
    other = snap(secret("inline_string", pem.replace("AAAA", "BBBB")))
    [change] = compare.compare(recording, other, redactor=redact.Redactor()).changes
    [field] = change.fields
    assert "[redacted:" in field.old and "[redacted:" in field.new and field.old != field.new
    assert "AAAA" not in repr(change) and "BBBB" not in repr(change)


def test_rejected_versions_are_compared_only_when_asked() -> None:
    nacked = model.Item(
        model.CLUSTER, "a", {"name": "a", "connect_timeout": "-1s"}, state=model.State.REJECTED
    )
    a, b = snap(cluster("a")), snap(cluster("a"), nacked)
    assert compare.compare(a, b).same
    [change] = compare.compare(a, b, with_rejected=True).changes
    assert change.kind == K.ADDED and change.label == "clusters[a] (NACKED)"


def test_types_and_names_narrow_the_comparison() -> None:
    a = snap(cluster("a"), cluster("b"), route("r", "/"))
    b = snap(cluster("a", "2s"), cluster("b", "2s"), route("r", "/x"))
    narrowed = compare.compare(a, b, types=lambda t: t == model.CLUSTER, name=re.compile("^b$"))
    assert [x.name for x in narrowed.changes] == ["b"]


def test_routes_reordered_is_a_change_resources_reordered_is_not() -> None:
    a, b = snap(cluster("a"), cluster("b")), snap(cluster("b"), cluster("a"))
    assert compare.compare(a, b).same
    [change] = compare.compare(snap(route("r", "/a", "/b")), snap(route("r", "/b", "/a"))).changes
    assert K.MOVED in {f.kind for f in change.fields}


# -- properties ------------------------------------------------------------------------------------

_scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "1s", ""]), st.booleans())
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "name"]), inner, max_size=3),
    ),
    max_leaves=12,
)
_route_lists = st.lists(
    st.fixed_dictionaries({"match": st.fixed_dictionaries({"prefix": st.sampled_from(["/a", "/b", "/c"])})}),
    max_size=4,
)
_vhosts = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["v1", "v2", "v3"]), "routes": _route_lists}), max_size=3
)


@st.composite
def _items(draw: st.DrawFn) -> list[model.Item]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4))
    out = []
    for name in names:
        body = {
            "name": name,
            "connect_timeout": draw(st.sampled_from(["1s", "2s"])),
            "extra": draw(_json),
            "virtual_hosts": draw(_vhosts),
        }
        out.append(model.Item(model.ROUTE, name, body))
    return out


@settings(max_examples=150, deadline=None)
@given(_items())
def test_a_snapshot_against_itself_has_no_differences(items: list[model.Item]) -> None:
    assert compare.compare(snap(*items), snap(*items)).same


@settings(max_examples=300, deadline=None)
@given(_items(), _items())
def test_applying_the_diff_of_a_and_b_to_a_gives_b(a: list[model.Item], b: list[model.Item]) -> None:
    comparison = compare.compare(snap(*a), snap(*b))
    rebuilt = compare.patched(a, comparison)
    assert sorted(rebuilt) == sorted(i.key for i in b)
    again = [model.Item(t, n, body) for (t, n, _), body in rebuilt.items()]
    assert compare.compare(snap(*again), snap(*b)).same


@settings(max_examples=100, deadline=None)
@given(_items(), st.randoms(use_true_random=False))
def test_reordering_resources_gives_no_diff(items: list[model.Item], rnd: Any) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert compare.compare(snap(*items), snap(*shuffled)).same
