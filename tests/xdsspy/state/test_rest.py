"""REST polling verdicts: a rejection inferred from the next poll's version, 304s, HTTP errors, bad bodies."""

from __future__ import annotations

import pathlib

from xdsspy import model
from xdsspy.record import reader
from xdsspy.state import protocol
from xdsspy.state import timeline
from xdsspy.state import tracker

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
PATH = "/v3/discovery:clusters"
V = protocol.VerdictKind


def test_real_envoy_rejection_is_inferred_from_the_next_poll() -> None:
    t = timeline.Timeline.from_events(reader.iter_events(RECORDINGS / "rest-reject.xdsspy"))
    cds = [s.verdict for s in t.steps if s.verdict is not None and s.verdict.type_url == CDS]
    kinds = [v.kind for v in cds]
    assert kinds[0] == V.INITIAL
    assert V.NOT_MODIFIED in kinds and V.ACK in kinds
    nacks = [v for v in cds if v.kind == V.NACK]
    assert len(nacks) == 1
    assert "still carries '2'" in nacks[0].rule and nacks[0].rejected_names == ("rest-bad",)
    state = t.state_at(t.steps[-1].seq)
    resources = {(r.name, r.status) for r in state.resources("sample-rest", CDS)}
    assert resources == {
        ("rest-a", tracker.Status.ACKED),
        ("rest-b", tracker.Status.ACKED),
        ("rest-bad", tracker.Status.NACKED),
    }


def _poll(seq: int, stream: int, request: bytes, status: int, response: bytes) -> list[model.Event]:
    common = {"wall_ns": seq, "monotonic_ns": seq * 1_000_000, "connection": 1, "stream": stream}
    return [
        model.StreamOpened(
            seq=seq, **common, transport=model.Transport.REST, method=PATH, peer="p", http_method="POST"
        ),
        model.MessageSeen(seq=seq + 1, **common, direction=model.Direction.REQUEST, raw=request, method=PATH),
        model.ResponseHeadersSeen(seq=seq + 2, **common, metadata=(), http_status=status, method=PATH),
        model.MessageSeen(
            seq=seq + 3, **common, direction=model.Direction.RESPONSE, raw=response, method=PATH
        ),
        model.StreamClosed(
            seq=seq + 4,
            **common,
            code=0,
            details=f"HTTP {status}",
            trailers=(),
            cause=model.CloseCause.UPSTREAM,
        ),
    ]


REQUEST = b'{"node": {"id": "n1"}, "type_url": "%s", "version_info": "%s"}'


def test_http_errors_and_bodies_that_are_not_discovery_responses() -> None:
    events = [
        *_poll(1, 1, REQUEST % (CDS.encode(), b""), 500, b"upstream exploded"),
        *_poll(10, 2, REQUEST % (CDS.encode(), b""), 200, b"{not json"),
        *_poll(20, 3, REQUEST % (CDS.encode(), b""), 200, b'{"version_info": "1", "resources": 5}'),
        *_poll(30, 4, b"\xff\xfe", 200, b""),
    ]
    t = timeline.Timeline.from_events(events)
    verdicts = [s.verdict for s in t.steps if s.verdict is not None]
    responses = verdicts[1::2]
    assert [v.kind for v in responses[:3]] == [V.HTTP_ERROR, V.HTTP_ERROR, V.HTTP_ERROR]
    assert "HTTP 500" in responses[0].rule
    assert "not a DiscoveryResponse" in responses[1].rule
    assert all(s.envelope is not None for s in t.steps if s.event == "message")
    bad_request = t.steps[-4]
    assert bad_request.envelope is not None and bad_request.envelope.problem


def test_a_304_is_no_change_and_the_same_version_acks() -> None:
    served = (
        b'{"version_info": "7", "type_url": "%s", "resources": [{"@type": "%s", "name": "a", '
        b'"connect_timeout": "1s"}]}' % (CDS.encode(), CDS.encode())
    )
    events = [
        *_poll(1, 1, REQUEST % (CDS.encode(), b""), 200, served),
        *_poll(10, 2, REQUEST % (CDS.encode(), b"7"), 304, b""),
        *_poll(20, 3, REQUEST % (CDS.encode(), b"7"), 304, b""),
    ]
    t = timeline.Timeline.from_events(events)
    verdicts = [s.verdict.kind for s in t.steps if s.verdict is not None]
    assert verdicts == [V.INITIAL, V.PUSH, V.ACK, V.NOT_MODIFIED, V.POLL, V.NOT_MODIFIED]
    state = t.state_at(99)
    assert [(r.name, r.version, r.status) for r in state.resources("n1", CDS)] == [("a", "7", "acked")]


def _served(version: bytes, *names: bytes) -> bytes:
    entries = b", ".join(
        b'{"@type": "%s", "name": "%s", "connect_timeout": "1s"}' % (CDS.encode(), name) for name in names
    )
    return b'{"version_info": "%s", "type_url": "%s", "resources": [%s]}' % (version, CDS.encode(), entries)


def test_a_rejected_version_served_again_is_compared_with_what_envoy_holds() -> None:
    """Envoy keeps polling with the version it holds, and a control plane serves the rejected one again:
    each time the update adds the same culprit, and each rejection names it, not every resource."""
    events = [
        *_poll(1, 1, REQUEST % (CDS.encode(), b""), 200, _served(b"1", b"a", b"b")),
        *_poll(10, 2, REQUEST % (CDS.encode(), b"1"), 200, _served(b"2", b"a", b"b", b"bad")),
        *_poll(20, 3, REQUEST % (CDS.encode(), b"1"), 200, _served(b"2", b"a", b"b", b"bad")),
        *_poll(30, 4, REQUEST % (CDS.encode(), b"1"), 200, _served(b"3", b"a", b"b")),
        *_poll(40, 5, REQUEST % (CDS.encode(), b"3"), 304, b""),
    ]
    t = timeline.Timeline.from_events(events)
    verdicts = [s.verdict for s in t.steps if s.verdict is not None]
    kinds = [v.kind for v in verdicts]
    assert kinds == [V.INITIAL, V.PUSH, V.ACK, V.PUSH, V.NACK, V.PUSH, V.NACK, V.PUSH, V.ACK, V.NOT_MODIFIED]
    pushes = [v for v in verdicts if v.kind == V.PUSH]
    assert [(p.added, p.removed, p.unchanged) for p in pushes] == [
        (("a", "b"), (), 0),
        (("bad",), (), 2),
        (("bad",), (), 2),  # served again: still an update that adds `bad` to what Envoy holds
        ((), (), 2),  # version 3 drops `bad`, which Envoy never held
    ]
    assert [v.rejected_names for v in verdicts if v.kind == V.NACK] == [("bad",), ("bad",)]
    state = t.state_at(99)
    held = {
        (r.name, r.version, r.status) for r in state.resources("n1", CDS) if r.status == tracker.Status.ACKED
    }
    assert held == {("a", "1", tracker.Status.ACKED), ("b", "1", tracker.Status.ACKED)}  # resent unchanged
