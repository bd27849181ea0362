"""One rich line per recorded event: the formatting `xdsspy show`, --headless and the future TUI share.

A message line reads: #seq, time, connection/stream, node, arrow ("node →" is
Envoy sending, "node ←" Envoy receiving), short type, version, nonce, size,
verdict (NACK red, ACK green, stale yellow, push blue, heartbeat dim) and what
the verdict means: counts of added/updated/removed for a push, the latency and
the response answered for an ACK or NACK, the error and the rejected names for
a NACK. Lines are built from the tracker's steps, which hold envelopes only, so
no resource body is ever decoded to draw them.
"""

from __future__ import annotations

import dataclasses

from rich import text as rich_text

from xdsspy import grpc_status
from xdsspy import model
from xdsspy import redact
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.viewmodel import envoys
from xdsspy.viewmodel import rows
from xdsspy.viewmodel import words

Text = rich_text.Text
V = protocol.VerdictKind

VERDICT_STYLES = {
    V.NACK: "bold red",
    V.ACK: "green",
    V.STALE: "yellow",
    V.PUSH: "blue",
    V.HEARTBEAT: "dim",
    V.INITIAL: "cyan",
    V.RECONNECT: "cyan",
    V.SUBSCRIPTION: "cyan",
    V.UNKNOWN_NONCE: "magenta",
    V.POLL: "dim",
    V.NOT_MODIFIED: "dim",
    V.HTTP_ERROR: "bold red",
}
GAP_STYLE = "bold white on red"

masked = redact.Redactor().text
"""Free text a line shows (Envoy's NACK error, a close's details, a note) with private keys, bearer tokens
and JWTs masked: these lines go to terminals, logs and pasted bug reports (docs/security.md)."""


# -- lines ----------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Columns:
    """Column widths that grow to the widest value seen (up to a cap), so a stream of lines lines up.

    `screen` is the terminal UI's layout: every width fixed from the start (a line drawn stays right
    as others come), the verdict and a cut of its details right after the type, then version, nonce,
    size and the stream. `services`: the type column says CDS, EDS ... (what a narrow screen has
    room for) instead of Cluster, ClusterLoadAssignment ...
    """

    node: int = 8
    type: int = 21
    version: int = 2
    nonce: int = 8
    screen: bool = False
    services: bool = False
    node_cap: int = 28

    @classmethod
    def for_screen(cls, width: int = 120) -> Columns:
        """The screen's widths for a screen this wide: below NARROW_SCREEN columns, service names and a
        narrower node column, so that the verdict's details still show at 80 columns. The node column
        starts narrow, and its owner widens it (node_cap at most) as Envoys with longer names come."""
        if width < NARROW_SCREEN:
            return cls(8, SCREEN_SERVICE, 16, 9, screen=True, services=True, node_cap=SCREEN_NODE_NARROW)
        return cls(node=8, type=SCREEN_TYPE, version=16, nonce=9, screen=True, node_cap=SCREEN_NODE)

    def type_text(self, type_url: str) -> str:
        if self.services and type_url:
            return envoys.service_of(type_url)
        return words.short_type(type_url) or "?"

    def cell(self, name: str, value: str, cap: int) -> str:
        if self.screen:
            width = getattr(self, name)
            if name == "node" and len(value) > width:  # a pod's name starts with its workload: keep that
                return value[: width - 1] + "…"
            return words.shorten(value, width).ljust(width)
        value = words.shorten(value, cap)
        width = max(getattr(self, name), len(value))
        setattr(self, name, width)
        return value.ljust(width)


SCREEN_NODE = 22
SCREEN_TYPE = 21
SCREEN_DETAILS = 30
NARROW_SCREEN = 100
SCREEN_NODE_NARROW = 14
SCREEN_SERVICE = 5


class _Parts:
    """Builds a Text from (string, style) pieces in one go: rich's Text.append costs ~3 us a call,
    and a recording of 100k events makes a million of them."""

    __slots__ = ("_length", "_plain", "_spans")

    def __init__(self) -> None:
        self._plain: list[str] = []
        self._spans: list[rich_text.Span] = []
        self._length = 0

    def __bool__(self) -> bool:
        return self._length > 0

    def add(self, text: str, style: str = "") -> None:
        if style:
            self._spans.append(rich_text.Span(self._length, self._length + len(text), style))
        self._plain.append(text)
        self._length += len(text)

    def extend(self, other: _Parts) -> None:
        offset = self._length
        self._spans.extend(rich_text.Span(s.start + offset, s.end + offset, s.style) for s in other._spans)
        self._plain.extend(other._plain)
        self._length += other._length

    def cut(self, width: int) -> _Parts:
        """These pieces in exactly `width` cells: cut with an ellipsis, or padded."""
        out = _Parts()
        room = width
        for piece, span_style in self._pieces():
            if room <= 0:
                break
            if len(piece) > room:
                piece = piece[: room - 1] + "…"
            out.add(piece, span_style)
            room -= len(piece)
        if room > 0:
            out.add(" " * room)
        return out

    def _pieces(self) -> list[tuple[str, str]]:
        styles = {span.start: str(span.style) for span in self._spans}
        pieces, start = [], 0
        for piece in self._plain:
            pieces.append((piece, styles.get(start, "")))
            start += len(piece)
        return pieces

    def text(self, style: str = "") -> Text:
        return Text("".join(self._plain), style=style, spans=self._spans)


def _head(step: tracker.Step, columns: Columns) -> _Parts:
    """#seq, time, connection/stream (on screen: at the end) and node: the start of every stream line."""
    line = _Parts()
    line.add(f"#{step.seq:<5}", "dim")
    line.add(f" {words.clock(step.wall_ns)} ")
    if not columns.screen:
        line.add(f"c{step.connection}/s{step.stream}".ljust(7), "dim")
        line.add(" ")
    if not step.node:
        node = columns.cell("node", "", 28)  # an event of no Envoy yet (a stream's open line)
    else:
        node = columns.cell("node", words.short_node(step.node) if step.node_known else "?", 28)
    line.add(node, "bold" if step.node_known else "dim")
    return line


def _details(verdict: protocol.Verdict, answered: tracker.Step | None) -> _Parts:
    out = _Parts()
    kind = verdict.kind
    if kind == V.PUSH:
        out.add(f"+{len(verdict.added)}", "green")
        out.add(f" ~{len(verdict.updated)}", "yellow")
        out.add(f" -{len(verdict.removed)}", "red")
        if verdict.unchanged:
            out.add(f" ={verdict.unchanged}", "dim")
        changed = [f"+{n}" for n in verdict.added] + [f"~{n}" for n in verdict.updated]
        changed += [f"-{n}" for n in verdict.removed]
        if changed:
            out.add(f"  {words.names_text(changed, 3)}", "dim")
    elif kind == V.HEARTBEAT:
        out.add(f"{len(verdict.heartbeats)} TTL refresh(es)", "dim")
    if verdict.answers_seq is not None:
        out.add(f"of #{verdict.answers_seq}")
        if verdict.latency_ms is not None:
            out.add(f" in {words.latency_text(verdict.latency_ms)}")
    if kind == V.NACK:
        error = masked(words.nack_error(verdict))
        out.add(": " if out else "")
        out.add(words.shorten(error, words.ERROR_WIDTH) if len(error) > words.ERROR_WIDTH else error, "red")
        push = answered.verdict if answered is not None else None
        names = words.rejected_names(verdict, push)
        if names:
            out.add(f" — rejected: {words.names_text(names)}", "bold red")
    elif kind == V.UNKNOWN_NONCE:
        out.add("its nonce was never sent on this stream", "magenta")
    elif kind in (V.NOT_MODIFIED, V.HTTP_ERROR):
        out.add(verdict.rule, "dim" if kind == V.NOT_MODIFIED else "red")
    subscriptions = []
    if verdict.wildcard and kind in (V.INITIAL, V.RECONNECT, V.SUBSCRIPTION):  # not on every ACK
        subscriptions.append(f"wildcard ({verdict.wildcard})")
    if verdict.subscribed and verdict.subscribed != ("*",):
        subscriptions.append(f"subscribe {words.names_text(verdict.subscribed, 3)}")
    if verdict.unsubscribed:
        subscriptions.append(f"unsubscribe {words.names_text(verdict.unsubscribed, 3)}")
    if subscriptions:
        out.add(("  " if out else "") + "; ".join(subscriptions), "cyan")
    return out


def message_line(
    step: tracker.Step, columns: Columns | None = None, answered: tracker.Step | None = None
) -> Text:
    """The line of one message step; `answered` is the response step an ACK/NACK refers to, if known."""
    columns = columns or Columns()
    line = _head(step, columns)
    line.add(f" {words.ARROWS.get(step.direction, '?')} ", "bold")
    verdict = step.verdict
    env = step.envelope
    if verdict is None or env is None or not env.is_discovery or (env.problem and not verdict.type_url):
        # Not xDS, or bytes that did not parse as the method's message: the method says more.
        line.add(words.method_label(step.method), "magenta")
        line.add(f"  {words.size_text(step.size)}")
        if env is not None and env.problem:
            line.add(f"  ⚠ {words.one_line(env.problem)}", "yellow")
        return line.text()
    line.add(columns.cell("type", columns.type_text(verdict.type_url), 28))
    version = env.version
    nonce = env.nonce or env.response_nonce
    style = VERDICT_STYLES.get(verdict.kind, "")
    details = _details(verdict, answered)
    if env.problem and verdict.kind not in (V.NOT_MODIFIED, V.HTTP_ERROR):
        details.add(f"  ⚠ {words.one_line(env.problem)}", "yellow")
    if columns.screen:
        line.add(" " + words.VERDICT_LABELS[verdict.kind].ljust(10), style)
        line.extend(details.cut(SCREEN_DETAILS))
        line.add(" " + columns.cell("version", version or "-", 16), "" if version else "dim")
        line.add(" " + columns.cell("nonce", nonce or "-", 9), "" if nonce else "dim")
        line.add(f" {words.size_text(step.size):>8}", "dim")
        line.add(f" c{step.connection}/s{step.stream}", "dim")
    else:
        line.add(" " + columns.cell("version", version or "-", 16), "" if version else "dim")
        line.add(" " + columns.cell("nonce", nonce or "-", 9), "" if nonce else "dim")
        line.add(f" {words.size_text(step.size):>8} ", "dim")
        line.add(words.VERDICT_LABELS[verdict.kind].ljust(9), style)
        if details:
            line.add(" ")
            line.extend(details)
    if verdict.kind in (V.HEARTBEAT, V.NOT_MODIFIED, V.POLL):
        return line.text("dim")
    return line.text()


def nack_detail(nack: protocol.Verdict, answered: tracker.Step | None) -> list[Text]:
    """Indented lines under a NACK for `--nacks`: the response it rejected, and the whole error."""
    lines = []
    rejected = _Parts()
    rejected.add("        rejected ", "dim")
    if answered is not None and answered.envelope is not None:
        env = answered.envelope
        rejected.add(f"#{answered.seq} ", "bold")
        rejected.add(f"{words.short_type(nack.type_url)} version {env.version or '-'!r} nonce {env.nonce!r}")
    elif nack.answers_seq is not None:
        rejected.add(f"#{nack.answers_seq} {words.short_type(nack.type_url)}")
    else:
        rejected.add("a response this recording does not hold")
    if nack.rejected_names:
        rejected.add(f": {len(nack.rejected_names)} resource(s) {words.names_text(nack.rejected_names, 20)}")
    push = answered.verdict if answered is not None else None
    if push is not None and (push.added or push.updated or push.removed):
        changed = [f"+{n}" for n in push.added] + [f"~{n}" for n in push.updated]
        changed += [f"-{n}" for n in push.removed]
        rejected.add(f" (changed: {words.names_text(changed, 20)})", "bold")
    lines.append(rejected.text())
    error = words.one_line(nack.error)
    if len(error) > words.ERROR_WIDTH:
        lines.append(Text(f"        error: {masked(nack.error.strip())}", "red"))
    return lines


def event_line(event: model.Event, node: str = "", columns: Columns | None = None) -> Text | None:
    """The line of a non-message event (open, close, gap, note, capture start/stop), or None."""
    columns = columns or Columns()
    step = tracker.Step(
        event.seq,
        event.wall_ns,
        event.monotonic_ns,
        event.connection,
        event.stream,
        tracker.EventKind.OPEN,  # only its head is drawn
        node=node,
        node_known=bool(node),
    )
    if isinstance(event, model.StreamOpened):
        line = _head(step, columns)
        line.add(" open ", "bold")
        line.add(words.method_label(event.method))
        line.add(f"  from {event.peer}", "dim")
        return line.text()
    if isinstance(event, model.StreamClosed):
        line = _head(step, columns)
        line.add(" close ", "bold")
        line.add(words.method_label(event.method))
        status = grpc_status.name(event.code)
        details = f" {masked(event.details)!r}" if event.details else ""
        line.add(f"  {status}{details}", "dim" if event.code == 0 else "yellow")
        line.add(f" ({event.cause})", "dim")
        return line.text()
    when = words.clock(event.wall_ns)
    if isinstance(event, model.Gap):
        return Text(
            f"GAP at {when}: {event.records_lost} records ({words.size_text(event.bytes_lost)}, seq "
            f"{event.first_seq}-{event.last_seq}) are missing from the recording: {event.reason}",
            GAP_STYLE,
        )
    if isinstance(event, model.Note):
        style = {model.NoteLevel.ERROR: "bold red", model.NoteLevel.WARNING: "yellow"}.get(event.level, "dim")
        return Text(f"#{event.seq:<5} {when} {event.level.upper()}: {masked(event.text)}", style)
    if isinstance(event, model.CaptureStarted):
        return Text(
            f"#{event.seq:<5} {when} capture started: {', '.join(event.listen)} -> {event.upstream} "
            f"(pid {event.pid})",
            "dim",
        )
    if isinstance(event, model.CaptureStopped):
        lost = event.records_lost
        text = f"#{event.seq:<5} {when} capture stopped: {event.records_written} records written"
        if lost:
            return Text(f"{text}, {lost} LOST ({event.reason})", "bold red")
        return Text(text, "dim")
    return None


def quiet_polls_line(run: rows.QuietRun) -> Text:
    """The one line that stands for a run of REST polls answered 304 Not Modified."""
    line = _Parts()
    line.add(f"       ⋯ {words.short_node(run.node)} {words.short_type(run.type_url)}: ", "dim")
    line.add(f"{run.count} more poll(s) answered 304 Not Modified", "dim")
    line.add(f" ({words.clock(run.first_ns)} – {words.clock(run.last_ns)})", "dim")
    return line.text()
