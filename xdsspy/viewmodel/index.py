"""A recording as rows a viewer pages through, indexed in a background thread while the file grows.

`RecordingIndex.run` reads the recording once (to its end, or following it as
the capture writes), folds every event through the timeline (verdicts, each
Envoy's state with checkpoints, Envoy sync status, push rates) and appends
rows. Rows keep envelopes and verdicts, never message bytes: `message(row)`
reads the one message a viewer asks for again from its block. One thread
appends; any thread may read what is there (lists only grow).

The live UI and `xdsspy view FILE --follow` take this same path: the capture
process writes, this reads, and neither waits for the other.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable

from xdsspy import errors
from xdsspy import model
from xdsspy.record import reader as reader_mod
from xdsspy.state import protocol
from xdsspy.state import timeline as timeline_mod
from xdsspy.state import tracker
from xdsspy.viewmodel import envoys as envoys_mod
from xdsspy.viewmodel import rows as rows_mod

V = protocol.VerdictKind
_PUSH = V.PUSH
_NACK = V.NACK
_MESSAGE_ROW = rows_mod.RowKind.MESSAGE
PROGRESS_INTERVAL_S = 0.1
"""How often a running index reports what it added (a viewer redraws at most this often because of it)."""
BLOCKS_CACHED = 4
ASIDE_S = 0.05
"""How long indexing pauses when a viewer has a key to answer: a redraw takes 10-30 ms on its own."""
ASIDE_CHECK_EVERY = 32
"""Events between two looks at whether to pause: about a millisecond of indexing."""
FREEZE_EVERY = 5_000
"""Events between two gc.freeze() calls while indexing. The index only grows, and the collector scanned
the same long-lived rows again and again: 40% of the indexing time with the default thresholds, 35% with
a gen0 threshold of 50,000 (docs/performance.md). Frozen objects are never scanned again; the cost is
that garbage cycles frozen with them (none in the index's own objects) are not collected."""


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """What an index holds so far; a running index reports one every PROGRESS_INTERVAL_S and at its end."""

    rows: int
    messages: int
    bytes: int
    nacks: int
    file_size: int
    done: bool  # the whole file is read (and, when following, the capture stopped)
    caught_up: bool  # nothing more to read for now


class PushRates:
    """When each type's responses were sent, for a push-rate sparkline (append from one thread)."""

    def __init__(self) -> None:
        self.times: dict[str, list[int]] = {}  # service (CDS, EDS, ...) -> wall_ns of each push

    def add(self, service: str, wall_ns: int) -> None:
        times = self.times.get(service)
        if times is None:
            times = self.times[service] = []
        times.append(wall_ns)

    def series(self, service: str, start_ns: int, end_ns: int, buckets: int) -> list[int]:
        """Pushes per bucket between start_ns and end_ns (buckets of equal length)."""
        times = self.times.get(service, [])
        if buckets <= 0 or end_ns <= start_ns:
            return [0] * max(buckets, 0)
        width = (end_ns - start_ns) / buckets
        edges = [bisect.bisect_left(times, int(start_ns + width * i)) for i in range(buckets + 1)]
        edges[-1] = bisect.bisect_right(times, end_ns)
        return [edges[i + 1] - edges[i] for i in range(buckets)]


class RecordingIndex:
    """Rows, timeline, Envoy status and push rates of one recording; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, checkpoint_every: int = 1000) -> None:
        self.path = os.fspath(path)
        self.timeline = timeline_mod.Timeline(checkpoint_every, keep_bodies=False, lazy_state=True)
        self.rows: list[rows_mod.Row] = []
        self.nack_rows: list[int] = []  # positions in `rows` of NACKs
        self.envoys = envoys_mod.EnvoyStatus()
        self.rates = PushRates()
        self.messages = 0
        self.bytes = 0
        self.first_ns = 0
        self.last_ns = 0
        self.started: model.CaptureStarted | None = None
        self.stopped: model.CaptureStopped | None = None
        self.problems: list[reader_mod.Problem] = []
        self.error = ""  # why indexing ended early (an unreadable file), "" otherwise
        self.done = False
        self.caught_up = False  # as of the last progress report: everything written so far is indexed
        self._aside_until = 0.0  # a viewer asked the indexing to pause until then (step_aside)
        self._builder = rows_mod.RowBuilder(pair=False)  # answered() finds a row's answer by its seq
        self._message_rows: dict[int, int] = {}  # seq -> position in rows
        self._random: reader_mod.RecordingReader | None = None
        self._blocks: collections.OrderedDict[int, list[model.Event]] = collections.OrderedDict()
        self._lock = threading.Lock()

    # -- building (one thread) ------------------------------------------------------------------

    def run(
        self,
        *,
        follow: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Callable[[Progress], None] = lambda progress: None,
    ) -> None:
        """Index the recording: to its end, or with `follow` until the capture stops or should_stop()."""
        last = time.monotonic()
        added = 0

        def idle() -> bool:
            gc.freeze()  # caught up: what was indexed is here to stay; the collector need not see it again
            on_progress(self.progress(caught_up=True))
            return should_stop()

        try:
            # Everything alive now (the modules a viewer imported, its widgets) outlives the indexing:
            # frozen, a full collection triggered by the first rows need not walk it (tens of ms with
            # the GIL held, while the viewer waits to draw).
            gc.freeze()
            self._stand_aside()  # a viewer may have asked for the first moments (its own start-up)
            with reader_mod.RecordingReader(self.path) as reader:
                for event in reader.events(follow=follow, should_stop=idle, poll_interval=0.05):
                    self.add(event, reader.block_offset)
                    added += 1
                    if added % FREEZE_EVERY == 0:
                        gc.freeze()
                    if added % ASIDE_CHECK_EVERY == 0 and self._aside_until:
                        self._stand_aside()
                    now = time.monotonic()
                    if now - last >= PROGRESS_INTERVAL_S:
                        last = now
                        on_progress(self.progress())
                        if should_stop():
                            break
                self.problems = list(reader.problems)
        except errors.RecordingReadError as e:
            self.error = str(e)
        finally:
            gc.freeze()
            self.done = True
            on_progress(self.progress(caught_up=True))

    def add(self, event: model.Event, block: int = -1) -> None:
        """Fold one event and append its rows (what run() does for each event it reads)."""
        position = len(self.timeline.steps)
        step = self.timeline.add(event)
        if type(event) is model.MessageSeen:  # nine events in ten: the short way
            self.messages += 1
            self.bytes += step.size
            self.envoys.add_message(position, step)
            verdict = step.verdict
            if verdict is not None and verdict.kind is _PUSH and verdict.type_url:
                self.rates.add(envoys_mod.service_of(verdict.type_url), step.wall_ns)
            added = self._builder.add(step, None, block, position)
        else:
            self.envoys.add(position, step, event)
            if isinstance(event, model.CaptureStarted):
                self.started = event
            elif isinstance(event, model.CaptureStopped):
                self.stopped = event
            added = self._builder.add(step, event, block, position)
        wall = event.wall_ns
        if wall > self.last_ns:
            self.last_ns = wall
            if not self.first_ns:
                self.first_ns = wall
        rows = self.rows
        for row in added:
            if row.kind is _MESSAGE_ROW:
                self._message_rows[step.seq] = len(rows)
                verdict = step.verdict
                if verdict is not None and verdict.kind is _NACK:
                    self.nack_rows.append(len(rows))
            rows.append(row)

    def step_aside(self, seconds: float = ASIDE_S) -> None:
        """Ask a running index to pause for a moment: a viewer has a key to answer (any thread).

        Indexing holds the GIL for all but its I/O; a key's redraw would otherwise share the CPU with
        it and take twice as long, or wait behind a long parse.
        """
        self._aside_until = time.monotonic() + seconds

    def _stand_aside(self) -> None:
        while True:
            left = self._aside_until - time.monotonic()
            if left <= 0:
                self._aside_until = 0.0
                return
            time.sleep(min(left, 0.005))

    def progress(self, *, caught_up: bool = False) -> Progress:
        self.caught_up = caught_up
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
        return Progress(
            len(self.rows), self.messages, self.bytes, len(self.nack_rows), size, self.done, caught_up
        )

    # -- reading (any thread) -------------------------------------------------------------------

    def message(self, row: rows_mod.Row) -> model.MessageSeen | None:
        """The message of a row, with its bytes, read again from its block (None if it cannot be)."""
        if row.kind != rows_mod.RowKind.MESSAGE or row.block < 0:
            return None
        for event in self._block(row.block):
            if event.seq == row.step.seq and isinstance(event, model.MessageSeen):
                if not event.method:
                    event = dataclasses.replace(event, method=row.step.method)
                return event
        return None

    def message_at_seq(self, seq: int) -> tuple[rows_mod.Row, model.MessageSeen] | None:
        """The row and message of the event with this seq (a response a state or verdict refers to)."""
        position = self.row_of_seq(seq)
        if position is None:
            return None
        row = self.rows[position]
        found = self.message(row)
        return (row, found) if found is not None else None

    def answered(self, row: rows_mod.Row) -> tracker.Step | None:
        """The response an ACK, NACK or STALE row answers (the row's own `answered`, or found by seq)."""
        if row.answered is not None:
            return row.answered
        verdict = row.step.verdict
        if verdict is None or verdict.answers_seq is None:
            return None
        position = self._message_rows.get(verdict.answers_seq)
        return self.rows[position].step if position is not None else None

    def row_of_seq(self, seq: int) -> int | None:
        """Position in `rows` of the message row with this seq, if it has one (not folded into a run)."""
        return self._message_rows.get(seq)

    def _block(self, offset: int) -> list[model.Event]:
        with self._lock:
            cached = self._blocks.get(offset)
            if cached is not None:
                self._blocks.move_to_end(offset)
                return cached
            if self._random is None:
                self._random = reader_mod.RecordingReader(self.path)
            events = self._random.read_block(offset)
            self._blocks[offset] = events
            if len(self._blocks) > BLOCKS_CACHED:
                self._blocks.popitem(last=False)
            return events

    def close(self) -> None:
        with self._lock:
            if self._random is not None:
                self._random.close()
                self._random = None
            self._blocks.clear()

    def recent_rates(self, window_s: float = 5.0) -> tuple[float, float]:
        """Messages and bytes per second over the last window_s seconds of the recording's own time."""
        steps = self.timeline.steps
        if not steps:
            return 0.0, 0.0
        end = self.last_ns
        start = end - int(window_s * 1e9)
        count = size = 0
        for i in range(len(steps) - 1, max(len(steps) - 50_000, 0) - 1, -1):
            step = steps[i]
            if step.wall_ns and step.wall_ns < start:
                break
            if step.event == "message":
                count += 1
                size += step.size
        span = min(window_s, max((end - self.first_ns) / 1e9, 1e-3))
        return count / span, size / span
