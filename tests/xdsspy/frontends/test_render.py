"""Line formatting: short names that stay recognisable, verdict colours, loud gaps, non-xDS methods."""

from __future__ import annotations

import dataclasses

from rich import text as rich_text

from xdsspy import model
from xdsspy.frontends import render
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.testing import factories as f

V = protocol.VerdictKind
LRS = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"


def style_of(line: rich_text.Text, word: str) -> str:
    """The style of the span that covers `word` in the line ("" when none does)."""
    start = line.plain.index(word)
    styles = [str(s.style) for s in line.spans if s.start <= start and s.end >= start + len(word)]
    return " ".join(styles) or str(line.style)


def test_shorten_keeps_head_and_tail() -> None:
    assert render.shorten("0ebb34-1", 9) == "0ebb34-1"
    assert render.shorten("6f1c7a2e-3b9d-4f6a-9c1e-2d8b7a6f5e4d", 9) == "6f1c…5e4d"
    assert len(render.shorten("x" * 100, 16)) == 16


def test_short_names() -> None:
    assert render.short_type("type.googleapis.com/envoy.config.cluster.v3.Cluster") == "Cluster"
    assert render.short_type("type.googleapis.com/envoy.api.v2.Cluster") == "Cluster(v2)"
    assert render.short_node("sidecar~10.0.0.7~reviews-v1-abc.default~default.svc.cluster.local") == (
        "reviews-v1-abc.default"
    )
    assert render.short_node("sample-sotw") == "sample-sotw"
    assert render.method_label(LRS) == "LRS StreamLoadStats"
    assert render.method_label("/x.Y/Z") == "/x.Y/Z"
    assert render.size_text(61_234) == "61.2 kB" and render.latency_text(15_000) == "15.0 s"
    assert render.one_line("Invalid duration:    \nseconds: -1\n") == "Invalid duration: seconds: -1"


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


def test_rejected_names_prefer_the_error_then_what_the_push_changed() -> None:
    nack = protocol.Verdict(V.NACK, "r", rejected_names=("a", "b", "c"))
    push = protocol.Verdict(V.PUSH, "r", added=("c",), updated=("b",))
    assert render.rejected_names(dataclasses.replace(nack, nacked_names=("a",)), push) == ("a",)
    assert render.rejected_names(nack, push) == ("c", "b")
    assert render.rejected_names(nack, None) == ("a", "b", "c")


def _step(verdict: protocol.Verdict | None, **fields: object) -> tracker.Step:
    base = {"seq": 9, "wall_ns": 0, "monotonic_ns": 0, "connection": 1, "stream": 2, "event": "message"}
    return tracker.Step(**{**base, "verdict": verdict, **fields})  # type: ignore[arg-type]


def test_verdict_colours() -> None:
    from xdsspy.decode import discovery

    env = discovery.decode(f.ADS, model.Direction.REQUEST, b"")
    for kind, style in [(V.NACK, "bold red"), (V.ACK, "green"), (V.STALE, "yellow"), (V.PUSH, "blue")]:
        verdict = protocol.Verdict(kind, "rule", "type.googleapis.com/envoy.config.cluster.v3.Cluster")
        line = render.message_line(_step(verdict, envelope=env, node="n", direction="request"))
        assert style_of(line, render.VERDICT_LABELS[kind]) == style, kind
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
