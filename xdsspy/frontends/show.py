"""`xdsspy show`: a recording (or a live one) as a filtered timeline, one rich line per event.

`Show` turns events into rows (viewmodel.rows: verdicts, NACKs paired with
what they rejected, runs of 304 polls folded) and rows into lines
(`render`); `Filter` narrows to one node, one type, the NACKs, or any filter
expression (viewmodel.filterexpr, the language of the UI's filter bar).
`Printer` writes in batches and flushes whenever the input idles. The
--headless proxy output is the same pipeline. No argument parsing here: the
CLI passes plain values.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import types
from collections.abc import Iterable
from typing import TextIO

from rich import console as rich_console
from rich import text as rich_text

from xdsspy import model
from xdsspy.frontends import render
from xdsspy.record import reader as reader_mod
from xdsspy.state import tracker
from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import filters
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import words

Text = rich_text.Text
V = render.V
RowKind = rows_mod.RowKind


@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """What `show` prints: messages of one node (id or shell pattern) and type, only NACKs, and/or those
    a filter expression keeps (`~t eds & ~nack`: viewmodel.filters lists them)."""

    node: str = ""
    type: str = ""
    nacks: bool = False
    expression: str = ""

    @property
    def active(self) -> bool:
        return bool(self.node or self.type or self.nacks or self.expression.strip())

    def compile(self) -> filterexpr.Filter:
        """One expression for all of it; raises filterexpr.FilterError for a bad one."""
        parts = []
        if self.node:
            parts.append(f"~node {filterexpr.quote(self.node)}")
        if self.type:
            parts.append(f"~t {filterexpr.quote(self.type)}")
        if self.nacks:
            parts.append("~nack")
        if self.expression.strip():
            filterexpr.compile(self.expression)  # its own errors, with columns in the user's own text
            parts.append(f"({self.expression})")
        return filterexpr.compile(" & ".join(parts))


# -- the stream of lines ----------------------------------------------------------------------------


class Show:
    """Turns events into lines, applying a Filter; one instance per recording or live session."""

    def __init__(self, filter: Filter | None = None) -> None:
        self.filter = filter or Filter()
        self.columns = render.Columns()
        self._tracker = tracker.Tracker()
        self._rows = rows_mod.RowBuilder()
        self._keeps = self.filter.compile()
        self._opens: dict[tuple[int, int], rows_mod.Row] = {}  # held back until a message shows
        self._shown_streams: set[tuple[int, int]] = set()
        self.nodes_seen: set[str] = set()
        self.types_seen: set[str] = set()
        self.messages_shown = 0

    def feed(self, event: model.Event) -> list[Text]:
        step, _ = self._tracker.apply(event)
        lines: list[Text] = []
        for row in self._rows.add(step, None if isinstance(event, model.MessageSeen) else event):
            lines.extend(self._lines(row))
        return lines

    def _lines(self, row: rows_mod.Row) -> list[Text]:
        key = (row.step.connection, row.step.stream)
        if row.kind == RowKind.MESSAGE:
            return self._message(row, key)
        if row.kind == RowKind.QUIET_POLLS:
            return []  # printed when the run ends (self._rows.ended), with its count
        active = self.filter.active
        if row.kind == RowKind.OPEN:
            if active:
                self._opens[key] = row
                return []
        elif row.kind == RowKind.CLOSE:
            if row.rest and self.filter.nacks:
                return []
            self._opens.pop(key, None)
            shown = key in self._shown_streams
            self._shown_streams.discard(key)
            if self.filter.nacks or (active and not shown):
                return []
        elif row.kind == RowKind.NOTE:
            assert isinstance(row.event, model.Note)
            if active and row.event.level == model.NoteLevel.INFO:
                return []
        elif row.kind != RowKind.GAP and active:
            return []  # capture start/stop, headers: context for the full timeline only
        assert row.event is not None
        line = render.event_line(row.event, row.step.node, self.columns)
        return [line] if line is not None else []

    def _message(self, row: rows_mod.Row, key: tuple[int, int]) -> list[Text]:
        step = row.step
        self.nodes_seen.add(step.node)
        if row.type_url:
            self.types_seen.add(row.type_url)
        lines = [render.quiet_polls_line(run) for run in self._rows.ended if run.count]
        if not self._keeps(row):
            return lines
        opened = self._opens.pop(key, None)
        if opened is not None and not self.filter.nacks:
            assert opened.event is not None
            line = render.event_line(opened.event, step.node, self.columns)
            if line is not None:
                lines.append(line)
        self._shown_streams.add(key)
        self.messages_shown += 1
        lines.append(render.message_line(step, self.columns, row.answered))
        if self.filter.nacks and step.verdict is not None:
            lines.extend(render.nack_detail(step.verdict, row.answered))
        return lines

    def finish(self) -> list[Text]:
        """Lines still owed at the end: the runs of 304 polls not yet summed up."""
        return [render.quiet_polls_line(run) for run in self._rows.open_runs() if run.count]

    def unmatched(self) -> list[str]:
        """Why nothing was shown, when a filter matched no message: what there was instead."""
        if self.messages_shown or not (self.filter.node or self.filter.type):
            return []
        out = []
        if self.filter.node:
            node_test = filterexpr.compile(f"~node {filterexpr.quote(self.filter.node)}")
            if not any(node_test(types.SimpleNamespace(node=n)) for n in self.nodes_seen):
                seen = words.names_text(sorted(self.nodes_seen), 10) or "none"
                out.append(f"no message from node {self.filter.node!r} (nodes seen: {seen})")
        if self.filter.type:
            matches = filters.type_matcher(self.filter.type)
            if not any(matches(t) for t in self.types_seen):
                seen = ", ".join(sorted({words.short_type(t) for t in self.types_seen})) or "none"
                out.append(f"no message of type {self.filter.type!r} (types seen: {seen})")
        return out


# -- printing -------------------------------------------------------------------------------------


def console_for(out: TextIO, *, force_terminal: bool | None = None) -> rich_console.Console:
    """A console that never wraps or crops (one event, one line, also when piped) and adds no markup."""
    return rich_console.Console(
        file=out, soft_wrap=True, highlight=False, markup=False, emoji=False, force_terminal=force_terminal
    )


class Printer:
    """Prints lines in batches (rich costs ~50 us a call), flushing at once whenever the input idles."""

    def __init__(self, console: rich_console.Console, *, batch: int = 256, max_delay_s: float = 0.2) -> None:
        self.console = console
        self._batch = batch
        self._max_delay_s = max_delay_s
        self._lines: list[Text] = []
        self._since = time.monotonic()

    def add(self, lines: Iterable[Text]) -> None:
        if not self._lines:
            self._since = time.monotonic()
        self._lines.extend(lines)
        if len(self._lines) >= self._batch or (
            self._lines and time.monotonic() - self._since > self._max_delay_s
        ):
            self.flush()

    def flush(self) -> None:
        if self._lines:
            if self.console.is_terminal:
                self.console.print(Text("\n").join(self._lines))
            else:
                # No terminal, no styles: the plain text is what rich would write, 5x faster.
                self.console.file.write("".join([line.plain + "\n" for line in self._lines]))
            self._lines = []
        self.console.file.flush()

    def idle(self) -> bool:
        """For `RecordingReader.events(should_stop=...)`, called when the file has nothing new: flush."""
        self.flush()
        return False


def show_file(
    path: str,
    view: Show,
    *,
    follow: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    force_terminal: bool | None = None,
) -> int:
    """Print a recording's timeline; reader problems and empty filters go to `err` at the end.

    Returns the exit code: 0, or 130 when interrupted (Ctrl-C ends --follow).
    """
    err = err or sys.stderr
    printer = Printer(console_for(out or sys.stdout, force_terminal=force_terminal))
    code = 0
    with reader_mod.RecordingReader(path) as reader:
        try:
            for event in reader.events(follow=follow, should_stop=printer.idle):
                printer.add(view.feed(event))
        except KeyboardInterrupt:
            code = 130
        finally:
            printer.add(view.finish())
            printer.flush()
        for problem in reader.problems:
            print(f"xdsspy: {path}: {problem}", file=err)
    for message in view.unmatched():
        print(f"xdsspy: {message}", file=err)
    return code
