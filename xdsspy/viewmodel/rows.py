"""Timeline rows: what each recorded event is in a timeline, with NACKs paired and runs of 304 polls folded.

`RowBuilder` turns the tracker's steps into `Row`s, the one shape every front
end shows (`xdsspy show`, `--headless`, the UI); response headers and the
opens and normal ends of REST polls make no row. It pairs each ACK or NACK
with the response it answers (kept per stream, so a NACK line can name what
was rejected) and folds runs of REST polls answered 304 Not Modified: the
first 304 of a (node, type) shows, the polls and 304s after it fold into one
`QUIET_POLLS` row that counts them, and any other message of the pair ends the
run (a poll whose answer ends it shows, before its answer). Nothing here
draws: rows hold steps, which hold envelopes, never bytes.
"""

from __future__ import annotations

import collections
import dataclasses
import enum

from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.state import protocol
from xdsspy.state import tracker

V = protocol.VerdictKind

RESPONSES_KEPT = 64
"""Response steps remembered per stream, to say what a NACK rejected (an ADS stream carries ~8 types)."""


class RowKind(enum.StrEnum):
    MESSAGE = "message"
    OPEN = "open"
    CLOSE = "close"
    HEADERS = "headers"
    GAP = "gap"
    NOTE = "note"
    CAPTURE_START = "capture_start"
    CAPTURE_STOP = "capture_stop"
    QUIET_POLLS = "quiet_polls"  # a run of REST polls answered 304, folded into one row


_KIND_OF_EVENT = {
    tracker.EventKind.MESSAGE: RowKind.MESSAGE,
    tracker.EventKind.OPEN: RowKind.OPEN,
    tracker.EventKind.CLOSE: RowKind.CLOSE,
    tracker.EventKind.HEADERS: RowKind.HEADERS,
    tracker.EventKind.GAP: RowKind.GAP,
    tracker.EventKind.NOTE: RowKind.NOTE,
    tracker.EventKind.CAPTURE_START: RowKind.CAPTURE_START,
    tracker.EventKind.CAPTURE_STOP: RowKind.CAPTURE_STOP,
}


@dataclasses.dataclass(slots=True)
class QuietRun:
    """REST polls of one (node, type) answered 304 Not Modified, one after another. Grows while it runs."""

    node: str
    type_url: str
    count: int = 0  # 304 answers folded
    polls: int = 0  # poll requests folded
    first_ns: int = 0
    last_ns: int = 0
    first_seq: int = 0
    last_seq: int = 0

    def fold(self, step: tracker.Step) -> None:
        if step.verdict is not None and step.verdict.kind == V.NOT_MODIFIED:
            self.count += 1
        else:
            self.polls += 1
        if not self.first_ns:
            self.first_ns, self.first_seq = step.wall_ns, step.seq
        self.last_ns, self.last_seq = step.wall_ns, step.seq


@dataclasses.dataclass(slots=True)
class Row:
    """One line of a timeline. Treat it as immutable, but for a QUIET_POLLS row's `quiet`, which grows.

    `event` is kept for the events that are not messages (they are few and small: an open's peer and
    headers, a close's status, a gap's extent); a message's bytes stay in the recording (`block`).
    The properties are what filters look at (viewmodel.filters.Subject).
    """

    kind: RowKind
    step: tracker.Step
    event: model.Event | None = None
    answered: tracker.Step | None = None  # an ACK, NACK or STALE: the response it answers, if known
    quiet: QuietRun | None = None
    block: int = -1  # where the event's block starts in the recording (-1: not from a file)
    rest: bool = False  # on a REST poll's stream
    position: int = -1  # of its step in the timeline it was built from (state_after_index)

    @property
    def seq(self) -> int:
        return self.step.seq

    @property
    def type_url(self) -> str:
        if self.quiet is not None:
            return self.quiet.type_url
        verdict = self.step.verdict
        return verdict.type_url if verdict is not None else ""

    @property
    def node(self) -> str:
        return self.step.node if self.step.node_known else ""

    @property
    def version(self) -> str:
        env = self.step.envelope
        return env.version if env is not None else ""

    @property
    def names(self) -> tuple[str, ...]:
        """Resource names the message carries, asks for, drops or is rejected over."""
        step = self.step
        env = step.envelope
        if env is None:
            return ()
        if step.names:
            return step.names + env.removed_resources
        asked = env.resource_names or env.subscribe + env.unsubscribe
        verdict = step.verdict
        if verdict is not None and verdict.kind == V.NACK:
            return asked + verdict.nacked_names + verdict.rejected_names
        return asked

    @property
    def verdict(self) -> protocol.VerdictKind | None:
        verdict = self.step.verdict
        return verdict.kind if verdict is not None else None

    @property
    def direction(self) -> str:
        return self.step.direction

    @property
    def delta(self) -> bool:
        env = self.step.envelope
        return env is not None and env.kind in (envelope.Kind.DELTA_REQUEST, envelope.Kind.DELTA_RESPONSE)

    @property
    def size(self) -> int:
        return self.step.size

    @property
    def is_nack(self) -> bool:
        verdict = self.step.verdict
        return verdict is not None and verdict.kind == V.NACK


class RowBuilder:
    """Steps in, rows out, in order; one per recording or live session (it keeps per-stream memory).

    `add` returns the rows a step makes: none (folded into a run of 304s), one, or two (a new
    QUIET_POLLS row, then nothing else: a run's row stands where its first folded poll was).
    `ended` lists the runs that the last `add` closed, for a printer that writes a run when it ends.
    """

    def __init__(self, *, pair: bool = True) -> None:
        """pair=False: rows leave `answered` unset (an index finds it by seq when it is drawn)."""
        self._pair_answers = pair
        self._responses: dict[tuple[int, int], collections.OrderedDict[int, tracker.Step]] = {}
        self._rest_streams: set[tuple[int, int]] = set()
        self._runs: dict[tuple[str, str], QuietRun | None] = {}  # None: a 304 showed, no row yet
        self._held: dict[tuple[str, str], Row] = {}  # a poll of a run, until its answer says where it goes
        self.ended: list[QuietRun] = []

    def add(
        self, step: tracker.Step, event: model.Event | None = None, block: int = -1, position: int = -1
    ) -> list[Row]:
        """The rows of one step; `block` and `position` (of the step in its timeline) go into them."""
        self.ended = []
        key = (step.connection, step.stream)
        kind = _KIND_OF_EVENT[step.event]
        if kind != RowKind.MESSAGE:
            if kind == RowKind.HEADERS:
                return []  # a response's headers: its status shows on the message or the close
            if isinstance(event, model.StreamOpened) and event.transport == model.Transport.REST:
                self._rest_streams.add(key)
                return []  # a poll's request and answer say it all
            rest = key in self._rest_streams
            if kind == RowKind.CLOSE:
                self._rest_streams.discard(key)
                self._responses.pop(key, None)
                if (
                    rest
                    and isinstance(event, model.StreamClosed)
                    and event.cause == model.CloseCause.UPSTREAM
                ):
                    return []  # a poll answered: only a poll that failed has a close worth a row
            return [Row(kind, step, event, block=block, rest=rest, position=position)]
        rest = key in self._rest_streams
        answered = self._pair(step, key) if self._pair_answers else None
        row = Row(kind, step, None, answered, None, block, rest, position)
        if rest and step.verdict is not None:
            return self._fold(row)
        return [row]

    def _pair(self, step: tracker.Step, key: tuple[int, int]) -> tracker.Step | None:
        """Remember a response; for an answer, the response it answers (if still remembered)."""
        verdict = step.verdict
        if verdict is None:
            return None
        if verdict.kind in (V.PUSH, V.HEARTBEAT):
            kept = self._responses.get(key)
            if kept is None:
                kept = self._responses[key] = collections.OrderedDict()
            kept[step.seq] = step
            if len(kept) > RESPONSES_KEPT:
                kept.popitem(last=False)
            return None
        if verdict.answers_seq is None:
            return None
        kept = self._responses.get(key)
        return kept.get(verdict.answers_seq) if kept is not None else None

    def _fold(self, row: Row) -> list[Row]:
        """The rows a REST message makes, given the runs of 304s (see the module docstring)."""
        step = row.step
        assert step.verdict is not None
        kind = step.verdict.kind
        series = (step.node, step.verdict.type_url)
        if series not in self._runs:
            if kind == V.NOT_MODIFIED:
                self._runs[series] = None  # this 304 shows; the polls and 304s after it fold
            return [row]
        if kind == V.POLL:
            earlier = self._held.pop(series, None)
            self._held[series] = row
            return self._fold_into(series, earlier) if earlier is not None else []
        if kind == V.NOT_MODIFIED:
            out = []
            held = self._held.pop(series, None)
            if held is not None:
                out += self._fold_into(series, held)
            return out + self._fold_into(series, row)
        run = self._runs.pop(series)
        if run is not None:
            self.ended.append(run)
        held = self._held.pop(series, None)
        return [held, row] if held is not None else [row]

    def _fold_into(self, series: tuple[str, str], row: Row) -> list[Row]:
        """Count a poll or 304 in its series' run; the run's row on its first count."""
        run = self._runs[series]
        if run is not None:
            run.fold(row.step)
            return []
        run = self._runs[series] = QuietRun(*series)
        run.fold(row.step)
        return [
            Row(
                RowKind.QUIET_POLLS,
                row.step,
                None,
                quiet=run,
                block=row.block,
                rest=True,
                position=row.position,
            )
        ]

    def open_runs(self) -> list[QuietRun]:
        """Runs still going (at the end of a recording, a printer writes them)."""
        return [run for run in self._runs.values() if run is not None]
