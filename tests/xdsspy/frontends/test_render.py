"""Line formatting: verdict colours, loud gaps, unnamed nodes, non-xDS methods (names: test_words.py)."""

from __future__ import annotations

import dataclasses

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


def test_the_screen_layout_keeps_every_column_in_place_and_the_verdict_near_the_start() -> None:
    """On screen, widths never grow (a drawn line stays aligned), and verdict then details come right after
    the type, so an 80-column terminal shows them; version, nonce, size and stream follow."""
    from xdsspy.decode import discovery

    request = discovery.decode(f.ADS, model.Direction.REQUEST, b"")
    cds = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    nack = protocol.Verdict(V.NACK, "rule", cds, error="x" * 200)
    long_version = "2026-12-06T03:45:29Z/12345678901234567890"
    lines = []
    for verdict, node, version in [
        (protocol.Verdict(V.ACK, "rule", cds), "a", "1"),
        (nack, "a-much-longer-node-name-than-the-column", long_version),
    ]:
        env = dataclasses.replace(request, version_info=version)
        step = _step(verdict, envelope=env, node=node, direction="request", size=123)
        columns = render.Columns.for_screen()
        lines.append(render.message_line(step, columns).plain)
        assert (columns.version, columns.node) == (16, 8), "widths stay as they were"
    ack, nacked = lines
    assert len(ack) == len(nacked), (ack, nacked)
    type_end = ack.index("Cluster") + render.SCREEN_TYPE
    assert ack.index("ACK") == nacked.index("NACK") == type_end + 1
    details = nacked[type_end + 1 + 10 : type_end + 1 + 10 + render.SCREEN_DETAILS]
    assert details.endswith("…") and "x" in details
    assert nacked.rstrip().endswith("c1/s2") and "123 B" in nacked
    assert "2026-12-…4567890" in nacked  # the version, cut in the middle to its 16 cells


def test_a_narrow_screen_names_services_and_keeps_the_start_of_a_long_node() -> None:
    from xdsspy.decode import discovery

    request = discovery.decode(f.ADS, model.Direction.REQUEST, b"")
    eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
    nack = protocol.Verdict(V.NACK, "rule", eds, error="Invalid duration", answers_seq=7)
    step = _step(nack, envelope=request, node="sidecar~1~reviews-v1-abc.default~d", direction="request")
    wide, narrow = render.Columns.for_screen(120), render.Columns.for_screen(80)
    narrow.node = narrow.node_cap  # as the view widens it for a long name
    assert " ClusterLoadAssignment " in render.message_line(step, wide).plain
    line = render.message_line(step, narrow).plain
    assert " reviews-v1-ab… → EDS   NACK      of #7: Invalid duration" in line, line
    assert len(line[: line.index("of #7")]) <= 60  # room for the details at 80 columns


def test_secrets_in_free_text_are_masked_in_every_line() -> None:
    """A NACK can quote a private key, a close's details a token: --headless output goes to logs."""
    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----"
    note = model.Note(
        seq=9,
        wall_ns=0,
        monotonic_ns=0,
        connection=0,
        stream=0,
        level=model.NoteLevel.ERROR,
        text=f"bad {pem}",
    )
    text = render.masked(f"tls: {pem} and Bearer abc.def.ghi")
    assert "MIGHAgEA" not in text and "abc.def.ghi" not in text and "[redacted:" in text
    assert render.masked("Invalid duration: -1s") == "Invalid duration: -1s"
    line = render.event_line(note)
    assert line is not None and "MIGHAgEA" not in line.plain
