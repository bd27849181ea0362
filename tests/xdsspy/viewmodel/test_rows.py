"""Timeline rows on real Envoy traffic: NACKs paired with what they rejected, 304 runs folded."""

from __future__ import annotations

import pathlib

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.record import reader
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.testing import factories as f
from xdsspy.viewmodel import rows

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
V = protocol.VerdictKind
K = rows.RowKind
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def _rows(name: str) -> tuple[list[rows.Row], list[rows.QuietRun]]:
    builder = rows.RowBuilder()
    t = tracker.Tracker()
    out: list[rows.Row] = []
    ended: list[rows.QuietRun] = []
    for position, event in enumerate(reader.iter_events(RECORDINGS / name)):
        step, _ = t.apply(event)
        out += builder.add(step, None if isinstance(event, model.MessageSeen) else event, position=position)
        ended += builder.ended
    return out, ended


def test_a_nack_row_knows_the_push_it_rejected_and_every_row_its_step_position() -> None:
    found, _ = _rows("sotw-nack.xdsspy")
    nack = next(r for r in found if r.is_nack)
    assert nack.answered is not None and nack.answered.seq == nack.step.verdict.answers_seq  # type: ignore[union-attr]
    assert nack.answered.verdict is not None and nack.answered.verdict.kind == V.PUSH
    assert "static-svc" in nack.names and nack.type_url == CDS and nack.direction == "request"
    assert [r.position for r in found] == sorted(r.position for r in found)
    assert {r.kind for r in found} == {K.CAPTURE_START, K.OPEN, K.MESSAGE, K.CLOSE, K.CAPTURE_STOP}


def test_rest_304_runs_fold_into_one_growing_row_and_the_poll_that_ends_one_shows() -> None:
    found, ended = _rows("rest-reject.xdsspy")
    assert not any(r.kind in (K.HEADERS, K.OPEN) for r in found)  # a poll's request and answer say it all
    quiet = [r for r in found if r.kind == K.QUIET_POLLS]
    assert len(quiet) == 1 and quiet[0].quiet is not None
    listener = quiet[0].quiet
    assert listener.type_url.endswith("Listener") and listener.count == 4 and listener.polls == 4
    assert listener.first_seq < listener.last_seq and listener.first_ns <= listener.last_ns
    cluster_polls = [r for r in found if r.verdict == V.POLL and r.kind == K.MESSAGE]
    assert [r.step.seq for r in cluster_polls] == [
        28,
        48,
    ]  # each got a new version: it shows, its answer follows
    for poll in cluster_polls:
        after = found[found.index(poll) + 1]
        assert after.verdict == V.PUSH and after.step.connection == poll.step.connection
    assert ended == [] or all(run.count for run in ended)
    seqs = [r.step.seq for r in found]
    assert seqs == sorted(seqs)


def test_names_of_requests_pushes_and_delta_rows() -> None:
    t = tracker.Tracker()
    builder = rows.RowBuilder()
    request = discovery_pb2.DiscoveryRequest(type_url=CDS, resource_names=["a", "b"])
    request.node.id = "sidecar~1~pod.ns~ns"
    (row,) = builder.add(t.apply(f.tmessage(request.SerializeToString(), method=f.ADS))[0])
    assert row.names == ("a", "b") and row.node.startswith("sidecar~") and not row.delta
    delta = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
    subscribe = discovery_pb2.DeltaDiscoveryRequest(type_url=CDS, resource_names_subscribe=["x"])
    t.apply(f.topen(stream=2, method=delta))
    (delta_row,) = builder.add(t.apply(f.tmessage(subscribe.SerializeToString(), stream=2, method=delta))[0])
    assert delta_row.delta and delta_row.names == ("x",) and delta_row.node == ""  # nobody said who it is
    (closed,) = builder.add(t.apply(f.tclose(stream=2))[0], f.tclose(stream=2))
    assert closed.kind == K.CLOSE and closed.names == () and closed.verdict is None and closed.type_url == ""
