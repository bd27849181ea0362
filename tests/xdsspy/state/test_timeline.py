"""The timeline on real Envoy traffic (the sample recordings): verdicts, pairing, state at any seq."""

from __future__ import annotations

import pathlib

import pytest

from xdsspy.record import reader
from xdsspy.state import protocol
from xdsspy.state import timeline
from xdsspy.state import tracker

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
V = protocol.VerdictKind


def _timeline(name: str, every: int = 1000) -> timeline.Timeline:
    return timeline.Timeline.from_events(reader.iter_events(RECORDINGS / name), checkpoint_every=every)


@pytest.mark.parametrize("name", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_every_response_is_answered_and_the_bad_push_is_nacked(name: str) -> None:
    t = _timeline(name)
    verdicts = [s.verdict for s in t.steps if s.verdict is not None]
    pushes = [s for s in t.steps if s.verdict is not None and s.verdict.kind == V.PUSH]
    answered = {v.answers_seq for v in verdicts if v.answers_seq is not None}
    assert {p.seq for p in pushes} <= answered, "Envoy answers every push (ACK, NACK or stale ACK)"
    nacks = [s for s in t.steps if s.verdict is not None and s.verdict.is_nack]
    assert len(nacks) == 1
    nack = nacks[0].verdict
    assert nack is not None and nack.type_url == CDS and "Invalid duration" in nack.error
    assert nack.rule == "error_detail present" and nack.latency_ms is not None and nack.latency_ms >= 0
    assert all(s.node.startswith("sample-") for s in t.steps if s.verdict is not None)


@pytest.mark.parametrize("name", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_final_state_holds_the_accepted_config_and_the_rejected_cluster(name: str) -> None:
    t = _timeline(name)
    state = t.state_at(t.steps[-1].seq)
    (node,) = state.nodes()
    accepted = {(r.type_url.rsplit(".", 1)[-1], r.name) for r in state.resources(node) if r.status == "acked"}
    assert accepted == {
        ("Cluster", "backend"),
        ("Cluster", "payments"),
        ("Cluster", "static-svc"),
        ("ClusterLoadAssignment", "backend"),
        ("ClusterLoadAssignment", "payments"),
        ("Listener", "ingress"),
        ("RouteConfiguration", "ingress-routes"),
    }
    rejected = [r for r in state.resources(node) if r.status == tracker.Status.NACKED]
    assert [(r.name, "Invalid duration" in r.error) for r in rejected] == [("static-svc", True)]
    assert all(r.entry is not None and r.entry.digest == r.digest for r in state.resources(node))


def test_state_before_the_update_has_no_payments_cluster() -> None:
    t = _timeline("sotw-nack.xdsspy")
    first_update = next(
        s
        for s in t.steps
        if s.verdict is not None and s.verdict.kind == V.PUSH and "payments" in s.verdict.added
    )
    before = t.state_at(first_update.seq)
    names = {r.name for r in before.resources("sample-sotw", CDS)}
    assert names == {"backend", "static-svc"}


@pytest.mark.parametrize("name", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_seeking_through_checkpoints_equals_folding_from_the_start(name: str) -> None:
    dense = _timeline(name, every=3)
    for index, step in enumerate(dense.steps):
        fresh = timeline.Timeline.from_events(
            (e for e in reader.iter_events(RECORDINGS / name) if e.seq and e.seq <= step.seq),
            checkpoint_every=10**9,
        )
        expected = fresh.state_after_index(len(fresh.steps) - 1)
        got = dense.state_after_index(index)
        assert got.accepted == expected.accepted and got.rejected == expected.rejected, step.seq


def test_seek_replays_at_most_one_checkpoint_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    t = _timeline("sotw-nack.xdsspy", every=5)
    touched: list[int] = []
    real = t._changes

    class Spy(list):  # type: ignore[type-arg]
        def __getitem__(self, i):  # type: ignore[no-untyped-def]
            touched.append(i)
            return real[i]

    t._changes = Spy(real)
    t.state_after_index(len(t.steps) - 1)
    assert len(touched) <= 5


def test_live_and_recorded_are_the_same_fold() -> None:
    events = list(reader.iter_events(RECORDINGS / "delta-nack.xdsspy"))
    live = timeline.Timeline()
    for event in events:
        live.add(event)
    assert [s.verdict for s in live.steps] == [s.verdict for s in _timeline("delta-nack.xdsspy").steps]


def test_bad_bytes_and_unknown_methods_get_a_step_not_a_crash() -> None:
    from xdsspy import model
    from xdsspy.testing import factories as f

    good = next(
        e
        for e in reader.iter_events(RECORDINGS / "sotw-nack.xdsspy")
        if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    )
    events = [
        f.tmessage(b"\xff\xfe garbage \x00", seq=1, direction=model.Direction.RESPONSE),
        model.MessageSeen(**{**_fields(good), "seq": 2, "raw": good.raw[: len(good.raw) // 2]}),
        model.MessageSeen(**{**_fields(good), "seq": 3, "method": "/never.Heard/Of"}),
        f.tmessage(b"", seq=4),
    ]
    events = [e if e.method else model.MessageSeen(**{**_fields(e), "method": f.ADS}) for e in events]
    t = timeline.Timeline.from_events(events)
    assert [s.seq for s in t.steps] == [1, 2, 3, 4]
    assert t.steps[0].envelope is not None and t.steps[0].envelope.problem
    assert t.steps[1].envelope is not None and "did not parse" in t.steps[1].envelope.problem
    assert t.steps[2].verdict is not None and t.steps[2].verdict.kind == V.OTHER
    assert t.steps[3].verdict is not None and t.steps[3].verdict.kind == V.INITIAL


def _fields(event: object) -> dict[str, object]:
    return {k: getattr(event, k) for k in event.__dataclass_fields__}  # type: ignore[attr-defined]


def test_changes_of_one_resource_are_its_accepted_and_rejected_versions_in_order() -> None:
    t = _timeline("sotw-nack.xdsspy")
    found = t.changes_of("sample-sotw", CDS, "static-svc")
    assert [(c.table, c.value.version if c.value else None) for _, c in found] == [
        (tracker.Table.ACCEPTED, "1"),
        (tracker.Table.REJECTED, "3"),
    ]
    positions = [i for i, _ in found]
    assert positions == sorted(positions) and all(t.steps[i].verdict is not None for i in positions)
    assert t.steps[positions[-1]].verdict.is_nack  # type: ignore[union-attr]
    assert t.changes_of("sample-sotw", EDS, "static-svc") == []
    assert t.changes_of("someone-else", CDS, "static-svc") == []
