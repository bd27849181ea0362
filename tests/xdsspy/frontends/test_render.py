"""Line formatting: verdict colours, loud gaps, unnamed nodes, non-xDS methods (names: test_words.py)."""

from __future__ import annotations

from rich import text as rich_text

from xdsspy import model
from xdsspy.frontends import render
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.testing import factories as f
from xdsspy.viewmodel import words

V = protocol.VerdictKind
LRS = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"


def style_of(line: rich_text.Text, word: str) -> str:
    """The style of the span that covers `word` in the line ("" when none does)."""
    start = line.plain.index(word)
    styles = [str(s.style) for s in line.spans if s.start <= start and s.end >= start + len(word)]
    return " ".join(styles) or str(line.style)


def test_a_node_nobody_named_shows_as_a_question_mark_not_as_text() -> None:
    """The tracker flags a message whose stream never said its node; the line does not parse text."""
    t = tracker.Tracker()
    t.apply(f.topen())
    step, _ = t.apply(f.tmessage(b"", method=f.ADS))  # a DiscoveryRequest without a node
    assert not step.node_known and step.node == tracker.unknown_node(1)
    assert " ? " in render.message_line(step).plain
    named, _ = t.apply(f.tmessage(_request_with_node("sidecar~1~pod.ns~ns"), method=f.ADS))
    assert named.node_known and " pod.ns " in render.message_line(named).plain


def _request_with_node(node_id: str) -> bytes:
    from envoy.service.discovery.v3 import discovery_pb2

    request = discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster")
    request.node.id = node_id
    return request.SerializeToString()


def _step(verdict: protocol.Verdict | None, **fields: object) -> tracker.Step:
    base = {"seq": 9, "wall_ns": 0, "monotonic_ns": 0, "connection": 1, "stream": 2, "event": "message"}
    return tracker.Step(**{**base, "verdict": verdict, **fields})  # type: ignore[arg-type]


def test_verdict_colours() -> None:
    from xdsspy.decode import discovery

    env = discovery.decode(f.ADS, model.Direction.REQUEST, b"")
    for kind, style in [(V.NACK, "bold red"), (V.ACK, "green"), (V.STALE, "yellow"), (V.PUSH, "blue")]:
        verdict = protocol.Verdict(kind, "rule", "type.googleapis.com/envoy.config.cluster.v3.Cluster")
        line = render.message_line(_step(verdict, envelope=env, node="n", direction="request"))
        assert style_of(line, words.VERDICT_LABELS[kind]) == style, kind
    heartbeat = protocol.Verdict(V.HEARTBEAT, "r", "type.googleapis.com/x.Y", heartbeats=("a",))
    line = render.message_line(_step(heartbeat, envelope=env, node="n", direction="response"))
    assert line.style == "dim", "a TTL refresh is dimmed as a whole"


def test_gap_is_impossible_to_miss() -> None:
    gap = model.Gap(
        seq=0,
        wall_ns=0,
        monotonic_ns=0,
        first_seq=3,
        last_seq=4,
        records_lost=2,
        bytes_lost=10,
        reason="disk full",
    )
    line = render.event_line(gap)
    assert line is not None
    assert "GAP" in line.plain and "2 records" in line.plain and "seq 3-4" in line.plain
    assert "disk full" in line.plain and line.style == render.GAP_STYLE


def test_open_and_close_lines_name_method_peer_status_and_cause() -> None:
    opened = render.event_line(f.topen(seq=1, method=LRS))
    closed = render.event_line(f.tclose(code=14, seq=2), node="sample")
    assert opened is not None and closed is not None
    assert "open LRS StreamLoadStats" in opened.plain and "ipv4:127.0.0.1:40000" in opened.plain
    assert "sample" in closed.plain and "UNAVAILABLE 'boom'" in closed.plain and "(upstream)" in closed.plain
