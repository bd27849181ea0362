"""One Envoy's resources at one moment: decoded once per response, NACKs beside, linked, never raising."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from envoy.api.v2 import cluster_pb2 as v2_cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf import any_pb2

from xdsspy import errors
from xdsspy.controlplane import resources as cp
from xdsspy.decode import resources as decoded_resources
from xdsspy.state import tracker
from xdsspy.testing import busy_recording
from xdsspy.testing import conversations as conv
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import links

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS = cp.CLUSTER
EDS = cp.ENDPOINT
LDS = cp.LISTENER
V2_CDS = "type.googleapis.com/envoy.api.v2.Cluster"
ACKED, NACKED = tracker.Status.ACKED, tracker.Status.NACKED


def test_the_final_state_of_a_real_envoy_holds_every_resource_decoded_and_the_nack_beside() -> None:
    ix = conv.indexed(RECORDINGS / "sotw-nack.xdsspy")
    config = conv.final(ix, "sample-sotw")
    names = {
        kind.rsplit(".", 1)[-1]: [(r.name, r.status) for r in held] for kind, held in config.resources.items()
    }
    assert names == {
        "Cluster": [("backend", ACKED), ("payments", ACKED), ("static-svc", ACKED), ("static-svc", NACKED)],
        "ClusterLoadAssignment": [("backend", ACKED), ("payments", ACKED)],
        "Listener": [("ingress", ACKED)],
        "RouteConfiguration": [("ingress-routes", ACKED)],
    }
    accepted, rejected = config.accepted(CDS, "static-svc"), config.rejected(CDS, "static-svc")
    assert accepted is not None and rejected is not None
    assert (accepted.version, accepted.body["connect_timeout"], accepted.error) == ("1", "1s", "")
    assert (rejected.version, rejected.body["connect_timeout"]) == ("3", "-1s")
    assert "Invalid duration" in rejected.error and rejected.seq > accepted.seq
    assert config.versions(CDS, "static-svc") == (accepted, rejected)
    assert config.accepted(CDS, "nope") is None and config.versions(CDS, "nope") == ()
    for held in config.resources.values():
        for r in held:
            row = ix.rows[ix.row_of_seq(r.seq)]  # type: ignore[index]
            assert r.wall_ns == row.step.wall_ns and r.problem == "" and r.notes == ()
            assert r.body["@type"] == r.type_url and r.sent_type_url == r.type_url
    assert config.problems == [] and config.dangling() == []
    last = ix.timeline.steps[-1]
    assert (config.node, config.position, config.seq, config.wall_ns) == (
        "sample-sotw",
        len(ix.timeline.steps) - 1,
        last.seq,
        last.wall_ns,
    )


def test_the_tree_follows_the_graph_with_status_version_and_the_rejected_version_attached() -> None:
    config = conv.final(conv.indexed(RECORDINGS / "sotw-nack.xdsspy"), "sample-sotw")
    tree = config.tree()
    assert [row.item for row in tree] == config.graph.walk()
    shown = [
        (row.item.depth, row.item.name, row.status, row.version, row.rejected is not None) for row in tree
    ]
    assert shown == [
        (0, "ingress", ACKED, "1", False),
        (1, "ingress-routes", ACKED, "1", False),
        (2, "backend", ACKED, "2", False),
        (3, "backend", ACKED, "1", False),
        (0, "payments", ACKED, "2", False),
        (1, "payments", ACKED, "2", False),
        (0, "static-svc", ACKED, "1", True),
    ]
    assert all(row.dangling is None for row in tree)
    assert config.types[0] == LDS and set(config.types) == set(config.resources)


@pytest.mark.parametrize(
    ("name", "node", "culprit"),
    [("delta-nack.xdsspy", "sample-delta", "static-svc"), ("rest-reject.xdsspy", "sample-rest", "rest-bad")],
)
def test_delta_and_rest_envoys_decode_the_same_way(name: str, node: str, culprit: str) -> None:
    config = conv.final(conv.indexed(RECORDINGS / name), node)
    rejected = config.rejected(CDS, culprit)
    assert rejected is not None and rejected.error and rejected.body["name"] == culprit
    assert all(r.body is not None and r.problem == "" for held in config.resources.values() for r in held)


def test_each_response_is_read_and_decoded_once_however_many_resources_it_carries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ix = conv.indexed(RECORDINGS / "sotw-nack.xdsspy")
    read: list[int] = []
    real = ix.message_at_seq

    def counting(seq: int) -> object:
        read.append(seq)
        return real(seq)

    monkeypatch.setattr(ix, "message_at_seq", counting)
    config = conv.final(ix, "sample-sotw")
    carried = {r.seq for held in config.resources.values() for r in held}
    assert sorted(read) == sorted(carried) and len(carried) < sum(len(h) for h in config.resources.values())


def test_v2_and_v3_resources_link_as_one_and_what_was_only_rejected_ends_the_tree(
    tmp_path: pathlib.Path,
) -> None:
    proxy = tcp_proxy_pb2.TcpProxy(stat_prefix="tcp", cluster="legacy")
    listener = listener_pb2.Listener(name="l1")
    listener.filter_chains.add().filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(proxy)
    to_bad = listener_pb2.Listener(name="l2")
    to_bad.filter_chains.add().filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(
        tcp_proxy_pb2.TcpProxy(stat_prefix="tcp", cluster="bad")
    )
    legacy = v2_cluster_pb2.Cluster(name="legacy", type=v2_cluster_pb2.Cluster.STATIC)
    bad = cp.eds_cluster("bad", connect_timeout_s=-1)
    conv.ads_recording(
        tmp_path / "mixed.xdsspy",
        [
            (V2_CDS, [conv.packed(legacy, V2_CDS)], ""),
            (LDS, [conv.packed(listener), conv.packed(to_bad)], ""),
            (CDS, [conv.packed(bad)], "Invalid duration"),
        ],
    )
    config = conv.final(conv.indexed(tmp_path / "mixed.xdsspy"), "n1")
    legacy_held = config.accepted(CDS, "legacy")
    assert legacy_held is not None and legacy_held.sent_type_url == V2_CDS and legacy_held.type_url == CDS
    assert config.accepted(V2_CDS, "legacy") is legacy_held
    tree = config.tree()
    rows = [(r.item.depth, r.item.name, r.status, r.dangling, r.rejected is not None) for r in tree]
    assert rows == [
        (0, "l1", ACKED, None, False),
        (1, "legacy", ACKED, None, False),
        (0, "l2", ACKED, None, False),
        (1, "bad", NACKED, links.Dangling.MISSING, True),  # a name Envoy rejected: missing, with why
        (0, "bad", NACKED, None, True),  # only ever rejected: a root of its own, after the graph
    ]
    assert tree[-1].resource is None and not tree[-1].item.unreferenced  # l2 names it
    assert [(d.ref.target, d.kind) for d in config.dangling()] == [("bad", links.Dangling.MISSING)]


def test_bodies_that_do_not_decode_carry_notes_not_exceptions(tmp_path: pathlib.Path) -> None:
    garbage = any_pb2.Any(type_url=CDS, value=b"\x0a\x05ok-ok\xff\xff\xff")
    unknown = any_pb2.Any(type_url="type.googleapis.com/example.Unknown", value=b"\x0a\x03abc")
    conv.ads_recording(
        tmp_path / "odd.xdsspy",
        [(CDS, [garbage], ""), ("type.googleapis.com/example.Unknown", [unknown], "")],
    )
    config = conv.final(conv.indexed(tmp_path / "odd.xdsspy"), "n1")
    (broken,) = config.resources[CDS]
    assert broken.decoded is not None and broken.decoded.status == decoded_resources.Status.INVALID
    assert broken.notes and "do not parse" in broken.notes[0] and broken.problem == ""
    (schemaless,) = config.resources["type.googleapis.com/example.Unknown"]
    assert schemaless.decoded is not None and schemaless.decoded.status == decoded_resources.Status.SCHEMALESS
    assert schemaless.notes and config.tree()[-1].item.type_url == "type.googleapis.com/example.Unknown"


@pytest.mark.parametrize("failure", ["gone", "unreadable"])
def test_a_response_that_cannot_be_read_back_gives_problem_text(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix = conv.indexed(RECORDINGS / "sotw-nack.xdsspy")
    real = ix.message_at_seq

    def failing(seq: int) -> object:
        if seq == 4:  # the first CDS push: backend (replaced later) and static-svc (still held)
            if failure == "gone":
                return None
            raise errors.RecordingReadError("the block at byte 7 is not intact")
        return real(seq)

    monkeypatch.setattr(ix, "message_at_seq", failing)
    config = conv.final(ix, "sample-sotw")
    held = config.accepted(CDS, "static-svc")
    assert held is not None and held.body is None and "response 4 cannot be read back" in held.problem
    if failure == "unreadable":
        assert "not intact" in held.problem
    assert config.problems == [f"Cluster static-svc: {held.problem}"]
    assert config.graph.has(CDS, "static-svc")  # still there, just without a body
    assert config.accepted(CDS, "backend").body is not None  # type: ignore[union-attr]


def test_bytes_that_no_longer_match_the_state_are_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    ix = conv.indexed(RECORDINGS / "sotw-nack.xdsspy")
    state = ix.timeline.state_after_index(len(ix.timeline.steps) - 1)
    backend = state.accepted["sample-sotw"][CDS]["backend"]
    found = envoy_config.bodies(
        ix, [(backend.seq, backend.index, "0" * 32), (backend.seq, 99, ""), (backend.seq, 1, "")]
    )
    assert "other bytes at #0" in found[(backend.seq, backend.index)].problem
    assert "not #99" in found[(backend.seq, 99)].problem
    assert found[(backend.seq, 1)].decoded is not None


def test_before_anything_happened_the_envoy_holds_nothing() -> None:
    ix = conv.indexed(RECORDINGS / "sotw-nack.xdsspy")
    for position in (-1, 0):
        config = envoy_config.at(ix, "sample-sotw", position)
        assert config.resources == {} and config.tree() == [] and config.dangling() == []
    assert envoy_config.at(ix, "someone-else", len(ix.timeline.steps) - 1).resources == {}


def test_a_type_emptied_by_a_full_state_push_is_held_with_no_resources(tmp_path: pathlib.Path) -> None:
    conv.ads_recording(
        tmp_path / "empty.xdsspy", [(CDS, [conv.packed(cp.eds_cluster("a"))], ""), (CDS, [], "")]
    )
    config = conv.final(conv.indexed(tmp_path / "empty.xdsspy"), "n1")
    assert config.resources == {CDS: ()} and config.types == (CDS,) and config.tree() == []


def test_an_envoy_with_thousands_of_clusters_is_decoded_whole(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gateway.xdsspy"
    busy_recording.write(str(path), 40, envoys=1, big_pushes=1, big_clusters=3_000)
    ix = conv.indexed(path)
    end = len(ix.timeline.steps) - 1
    gateway = next(n for n in ix.timeline.state_after_index(end).nodes() if n.startswith("router~"))
    config = envoy_config.at(ix, gateway, end)
    clusters = config.resources[CDS]
    assert len(clusters) == 3_000 and all(r.body is not None and r.problem == "" for r in clusters)
    assert len({r.seq for r in clusters}) == 1
    tree = config.tree()
    assert sum(1 for row in tree if row.resource is not None) == 3_000
    assert {d.kind for d in config.dangling()} == {links.Dangling.NOT_CAPTURED}  # endpoints and secrets


def test_the_module_loads_no_ui_and_no_grpc() -> None:
    code = "import json, sys, xdsspy.viewmodel.envoy_config; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    assert [
        m for m in loaded if m.split(".")[0] in ("rich", "textual", "grpc") or m.startswith("xdsspy.tui")
    ] == []
