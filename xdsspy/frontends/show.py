"""`xdsspy show`: a recording (or a live one) as a filtered timeline, one rich line per event.

`Show` turns events into lines (`render` formats them) through the state
tracker, so every message carries its verdict; `Filter` narrows to one node,
one type or the NACKs; `Printer` writes in batches and flushes whenever the
input idles. The --headless proxy output is the same pipeline. No argument
parsing here: the CLI passes plain values.
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import functools
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import TextIO

from rich import console as rich_console
from rich import text as rich_text

from xdsspy import model
from xdsspy.decode import methods
from xdsspy.frontends import render
from xdsspy.record import reader as reader_mod
from xdsspy.state import tracker

Text = rich_text.Text
V = render.V

# -- --type matching ------------------------------------------------------------------------------


@functools.cache
def _service_types() -> dict[str, frozenset[str]]:
    """CDS -> {envoy.config.cluster.v3.Cluster, envoy.api.v2.Cluster}, from the method table."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for info in methods.known_methods():
        if info.service and info.implied_type_url:
            found[info.service.upper()].add(render.type_name(info.implied_type_url))
    return {service: frozenset(names) for service, names in found.items()}


def type_matcher(wanted: str) -> Callable[[str], bool]:
    """A test on type URLs for `--type`: a short name (Cluster, any case), a full message name, a type
    URL, or a service (CDS, EDS, ...). Short names match v2 and v3 alike."""
    text = wanted.strip()
    if "/" in text or "." in text:
        full = render.type_name(text)
        return lambda type_url: render.type_name(type_url) == full
    short = text.lower()
    services = _service_types().get(text.upper(), frozenset())

    def matches(type_url: str) -> bool:
        name = render.type_name(type_url)
        return name[name.rfind(".") + 1 :].lower() == short or name in services

    return matches


@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """What `show` prints: messages of one node (id or shell pattern) and type, or only NACKs."""

    node: str = ""
    type: str = ""
    nacks: bool = False

    @property
    def active(self) -> bool:
        return bool(self.node or self.type or self.nacks)

    def node_matches(self, node: str) -> bool:
        return not self.node or node == self.node or fnmatch.fnmatchcase(node, self.node)


# -- the stream of lines ----------------------------------------------------------------------------

_RESPONSES_KEPT = 64
"""Response steps remembered per stream, to say what a NACK rejected (an ADS stream carries ~8 types)."""


class Show:
    """Turns events into lines, applying a Filter; one instance per recording or live session."""

    def __init__(self, filter: Filter | None = None) -> None:
        self.filter = filter or Filter()
        self.columns = render.Columns()
        self._tracker = tracker.Tracker()
        self._matches_type = type_matcher(self.filter.type) if self.filter.type else None
        self._responses: dict[tuple[int, int], collections.OrderedDict[int, tracker.Step]] = {}
        self._opens: dict[tuple[int, int], model.StreamOpened] = {}  # held back until a message shows
        self._shown_streams: set[tuple[int, int]] = set()
        self.nodes_seen: set[str] = set()
        self.types_seen: set[str] = set()
        self.messages_shown = 0
        # REST: runs of 304 polls per (node, type) collapse to one line; poll streams' open and
        # close lines are left out (the request and answer lines say it all) unless the close failed.
        self._quiet: dict[tuple[str, str], list[int]] = {}  # -> [count, first wall_ns, last wall_ns]
        self._rest_streams: set[tuple[int, int]] = set()

    def feed(self, event: model.Event) -> list[Text]:
        step, _ = self._tracker.apply(event)
        key = (event.connection, event.stream)
        if isinstance(event, model.MessageSeen):
            return self._message(step, key)
        if isinstance(event, model.StreamOpened):
            if event.transport == model.Transport.REST:
                self._rest_streams.add(key)
                return []
            if self.filter.active:
                self._opens[key] = event
                return []
        elif isinstance(event, model.StreamClosed):
            if key in self._rest_streams:
                self._rest_streams.discard(key)
                if event.cause == model.CloseCause.UPSTREAM or self.filter.nacks:
                    return []
            self._responses.pop(key, None)
            self._opens.pop(key, None)
            shown = key in self._shown_streams
            self._shown_streams.discard(key)
            if self.filter.nacks or (self.filter.active and not shown):
                return []
        elif isinstance(event, model.Note):
            if self.filter.active and event.level == model.NoteLevel.INFO:
                return []
        elif not isinstance(event, model.Gap) and self.filter.active:
            return []  # capture start/stop, headers: context for the full timeline only
        line = render.event_line(event, step.node, self.columns)
        return [line] if line is not None else []

    def _message(self, step: tracker.Step, key: tuple[int, int]) -> list[Text]:
        verdict = step.verdict
        type_url = verdict.type_url if verdict is not None else ""
        self.nodes_seen.add(step.node)
        if type_url:
            self.types_seen.add(type_url)
        answered = None
        if verdict is not None:
            if verdict.kind in (V.PUSH, V.HEARTBEAT):
                kept = self._responses.setdefault(key, collections.OrderedDict())
                kept[step.seq] = step
                if len(kept) > _RESPONSES_KEPT:
                    kept.popitem(last=False)
            elif verdict.answers_seq is not None:
                kept_responses = self._responses.get(key)
                if kept_responses is not None:
                    answered = kept_responses.get(verdict.answers_seq)
        if not self._accepts(step, type_url):
            return []
        lines: list[Text] = []
        if verdict is not None and key in self._rest_streams and not self.filter.nacks:
            quiet = (step.node, verdict.type_url)
            run = self._quiet.get(quiet)
            if verdict.kind in (V.POLL, V.NOT_MODIFIED) and run is not None:
                run[0] += verdict.kind == V.NOT_MODIFIED
                run[2] = step.wall_ns
                if not run[1]:
                    run[1] = step.wall_ns
                return []
            if verdict.kind == V.NOT_MODIFIED:
                self._quiet[quiet] = [0, 0, 0]  # this 304 shows; the ones after it collapse
            elif run is not None:
                del self._quiet[quiet]
                if run[0]:
                    lines.append(render.quiet_polls_line(step.node, verdict.type_url, run[0], run[1], run[2]))
        opened = self._opens.pop(key, None)
        if opened is not None and not self.filter.nacks:
            line = render.event_line(opened, step.node, self.columns)
            if line is not None:
                lines.append(line)
        self._shown_streams.add(key)
        self.messages_shown += 1
        lines.append(render.message_line(step, self.columns, answered))
        if self.filter.nacks and verdict is not None:
            lines.extend(render.nack_detail(verdict, answered))
        return lines

    def _accepts(self, step: tracker.Step, type_url: str) -> bool:
        verdict = step.verdict
        if self.filter.nacks and (verdict is None or not verdict.is_nack):
            return False
        if self._matches_type is not None and not (type_url and self._matches_type(type_url)):
            return False
        return self.filter.node_matches(step.node)

    def finish(self) -> list[Text]:
        """Lines still owed at the end: the runs of 304 polls not yet summed up."""
        lines = []
        for (node, type_url), (count, first, last) in self._quiet.items():
            if count:
                lines.append(render.quiet_polls_line(node, type_url, count, first, last))
        self._quiet.clear()
        return lines

    def unmatched(self) -> list[str]:
        """Why nothing was shown, when a filter matched no message: what there was instead."""
        if self.messages_shown or not (self.filter.node or self.filter.type):
            return []
        out = []
        if self.filter.node and not any(self.filter.node_matches(n) for n in self.nodes_seen):
            seen = render.names_text(sorted(self.nodes_seen), 10) or "none"
            out.append(f"no message from node {self.filter.node!r} (nodes seen: {seen})")
        if self._matches_type is not None and not any(self._matches_type(t) for t in self.types_seen):
            seen = ", ".join(sorted({render.short_type(t) for t in self.types_seen})) or "none"
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
