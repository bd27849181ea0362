"""The replay plan: one Envoy's pushes as changes of state, their recorded answers, and what it held when."""

from __future__ import annotations

import pathlib

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import resources as cp
from xdsspy.record import reader
from xdsspy.replay import plan
from xdsspy.testing import busy_recording
from xdsspy.testing import conversations

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS, EDS = cp.CLUSTER, cp.ENDPOINT


def planned(name: str, **kwargs: object) -> plan.Plan:
    return plan.build(reader.iter_events(RECORDINGS / name), **kwargs)  # type: ignore[arg-type]


def test_a_sotw_recording_becomes_its_pushes_with_their_answers() -> None:
    p = planned("sotw-nack.xdsspy")
    assert p.node == "sample-sotw" and p.protocol == "sotw" and p.notes == ()
    assert [(x.service, x.version, x.original.kind) for x in p.pushes] == [
        ("Cluster", "1", "ack"),
        ("ClusterLoadAssignment", "1", "ack"),
        ("Listener", "1", "ack"),
        ("RouteConfiguration", "1", "ack"),
        ("Cluster", "2", "ack"),
        ("ClusterLoadAssignment", "2", "ack"),
        ("ClusterLoadAssignment", "2", "ack"),
        ("Cluster", "3", "nack"),
    ]
    nack = p.pushes[-1]
    assert nack.original.error.startswith("Invalid duration") and nack.original.seq == 23
    bad = cluster_pb2.Cluster.FromString(nack.set["static-svc"])
    assert bad.connect_timeout.seconds == -1  # the exact bytes, ready to serve


def test_full_state_types_delete_what_a_push_leaves_out_and_others_do_not(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.xdsspy"
    a, b = cp.static_cluster("a", [("127.0.0.1", 1)]), cp.static_cluster("b", [("127.0.0.1", 1)])
    ea, eb = cp.load_assignment("a", [("127.0.0.1", 1)]), cp.load_assignment("b", [("127.0.0.1", 2)])
    p = conversations.packed
    conversations.ads_recording(
        path,
        [(CDS, [p(a), p(b)], ""), (EDS, [p(ea), p(eb)], ""), (CDS, [p(a)], ""), (EDS, [p(ea)], "")],
    )
    pushes = plan.build(reader.iter_events(path)).pushes
    assert [x.removed for x in pushes] == [(), (), ("b",), ()]  # EDS is not full-state: b stays
    held = plan.build(reader.iter_events(path)).state_at(10**6)
    assert sorted(held[CDS]) == ["a"] and sorted(held[EDS]) == ["a", "b"]


def test_delta_removals_and_the_state_at_any_event() -> None:
    p = planned("delta-nack.xdsspy")
    assert p.protocol == "delta"
    assert [sorted(x.set) for x in p.pushes[4:]] == [["backend", "payments"], ["payments"], ["static-svc"]]
    before_update = p.state_at(14)
    assert sorted(before_update[CDS]) == ["backend", "static-svc"]
    at_end = p.state_at(p.last_seq)
    assert sorted(at_end[CDS]) == ["backend", "payments", "static-svc"]
    # The NACKed push changed nothing: static-svc is held as the earlier push sent it.
    rejected = p.pushes[-1].set["static-svc"]
    assert at_end[CDS]["static-svc"] != rejected
    assert p.state_at(5) == {}  # pushed, not yet ACKed: not held


def test_a_snapshot_is_one_push_per_type_in_the_order_envoy_asks() -> None:
    p = planned("sotw-nack.xdsspy")
    shot = plan.snapshot(p, 14)
    assert [x.service for x in shot] == ["Cluster", "ClusterLoadAssignment", "Listener", "RouteConfiguration"]
    assert all(x.version == "state at #14" and x.original.kind == "ack" for x in shot)
    assert sorted(shot[0].set) == ["backend", "static-svc"]
    assert plan.snapshot(p, 1) == ()


def test_rest_pushes_are_answered_by_the_next_poll() -> None:
    p = planned("rest-reject.xdsspy")
    assert p.protocol == "rest"
    cds = [x for x in p.pushes if x.service == "Cluster"]
    assert [x.original.kind for x in cds] == ["ack", "ack", "nack", "none"]  # the last: recording ended
    assert cds[2].removed == ("rest-b",)


def test_choosing_the_envoy(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "busy.xdsspy"
    busy_recording.write(str(path), 600, envoys=3, big_pushes=0)
    events = list(reader.iter_events(path))
    nodes = plan.nodes_with_pushes(events)
    assert len(nodes) == 3
    with pytest.raises(plan.PlanError, match="3 Envoys received pushes; choose one with --node"):
        plan.build(events)
    first = next(iter(nodes))
    assert plan.build(events, node=first).node == first
    short = first.split("~")[2]
    assert plan.build(events, node=short).node == first  # Istio's POD.NS
    with pytest.raises(plan.PlanError, match="names 3 Envoys"):
        plan.build(events, node="sidecar~*")
    with pytest.raises(plan.PlanError, match="no Envoy 'nobody' received pushes"):
        plan.build(events, node="nobody")
    with pytest.raises(plan.PlanError, match="no Envoy said who it is on connection 999"):
        plan.build(events, connection=999)


def test_nothing_to_replay_and_what_cannot_be_carried_over(tmp_path: pathlib.Path) -> None:
    empty = tmp_path / "empty.xdsspy"
    conversations.ads_recording(empty, [(CDS, [], "")])
    assert plan.build(reader.iter_events(empty)).pushes[0].set == {}  # an empty push is still a push
    path = tmp_path / "odd.xdsspy"
    heartbeat = discovery_pb2.Resource(name="a", version="1")
    heartbeat.ttl.seconds = 5
    v2_cluster = conversations.packed(
        cluster_pb2.Cluster(name="old"), "type.googleapis.com/envoy.api.v2.Cluster"
    )
    conversations.ads_recording(
        path,
        [
            (
                CDS,
                [conversations.packed(heartbeat, "type.googleapis.com/envoy.service.discovery.v3.Resource")],
                "",
            ),
            ("type.googleapis.com/envoy.api.v2.Cluster", [v2_cluster], ""),
        ],
    )
    p = plan.build(reader.iter_events(path))
    assert any("TTL heartbeats" in n for n in p.notes)
    upgraded = p.pushes[-1]
    assert upgraded.type_url == CDS and list(upgraded.set) == ["old"]
    assert any("v2 resources are served as their v3 successors" in n for n in p.notes)
