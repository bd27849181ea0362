"""The replay report: for every push, how the recorded Envoy answered and how the fresh one did.

This is the reproduction verdict. A push is a **difference** when the two
answers differ in kind (ACK against NACK, or no answer where one was recorded),
or when both NACKed with different errors (`comparable_error`: on one line,
without protobuf's random debug markers). A push the fresh Envoy needed nothing of (a Delta stream is sent
only what changed) and a push with no recorded answer (the recording ended
first) are not differences. `reproduced` holds when nothing differs.

Pure: no I/O; `lines` is the plain text the terminal prints, `to_json` what
`--report FILE` writes.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from xdsspy.replay import engine
from xdsspy.replay import plan as plan_mod
from xdsspy.viewmodel import words

REPORT_FORMAT = "xdsspy.replay.report/1"


class Match(enum.StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    NOT_COMPARED = "not_compared"  # no recorded answer, or nothing of it was needed here


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    served: engine.Served
    match: Match
    why: str  # what differs, or why it is not compared; "" when the same

    @property
    def push(self) -> plan_mod.Push:
        return self.served.push


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    recording: str
    node: str  # the recorded Envoy replayed
    fresh_node: str  # the Envoy that was served ("" if none came)
    mode: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...]  # what the replay could not carry over, and torn recordings
    others: tuple[str, ...] = ()  # more Envoys that connected: served, not compared
    reconnects: int = 0
    stopped_early: bool = False  # a step-by-step replay the user ended

    @property
    def differences(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.match == Match.DIFFERENT)

    @property
    def reproduced(self) -> bool:
        return bool(self.fresh_node) and not self.differences


def compare(served: engine.Served) -> Row:
    """How one push's two answers compare."""
    original, fresh = served.push.original, served.fresh
    if original.kind == "none":
        return Row(served, Match.NOT_COMPARED, "no answer was recorded")
    if fresh.kind == "none":
        needed_nothing = "asked for none of what changed" in served.note
        if needed_nothing and original.kind == "ack":
            return Row(served, Match.NOT_COMPARED, served.note)
        return Row(served, Match.DIFFERENT, f"{original.kind.upper()} when recorded; here {served.note}")
    if original.kind != fresh.kind:
        return Row(
            served, Match.DIFFERENT, f"{original.kind.upper()} when recorded, {fresh.kind.upper()} here"
        )
    if original.is_nack and comparable_error(original.error) != comparable_error(fresh.error):
        return Row(served, Match.DIFFERENT, "NACKed with another error")
    return Row(served, Match.SAME, "")


_DEBUG_MARKER = re.compile(r"goo\.gle/debug\w*")


def comparable_error(error: str) -> str:
    """An Envoy error as two runs can be compared: protobuf marks its debug text with a marker chosen at
    random per process ("goo.gle/debugstr", "goo.gle/debugproto") and varies its spacing, on purpose,
    so that nobody parses it; both go."""
    return words.one_line(_DEBUG_MARKER.sub("", error))


def build(
    plan: plan_mod.Plan,
    served: Sequence[engine.Served],
    *,
    recording: str,
    fresh_node: str,
    mode: str,
    others: Sequence[str] = (),
    reconnects: int = 0,
    stopped_early: bool = False,
) -> Report:
    notes = list(plan.notes)
    if plan.stopped_at:
        notes.append(f"the recording is damaged or torn ({plan.stopped_at}): replayed what was intact")
    return Report(
        recording,
        plan.node,
        fresh_node,
        mode,
        tuple(compare(s) for s in served),
        tuple(notes),
        tuple(others),
        reconnects,
        stopped_early,
    )


def line(row: Row) -> str:
    """One push as the terminal shows it: ≠ marks a difference, · a push not compared."""
    push, served = row.push, row.served
    mark = {Match.SAME: "  ", Match.DIFFERENT: "≠ ", Match.NOT_COMPARED: "· "}[row.match]
    recorded = _answer_text(push.original)
    if served.fresh.kind == "none":
        here = served.note
    elif row.match == Match.SAME and push.original.is_nack:
        here = "NACK, the same error"
    else:
        here = _answer_text(served.fresh)
    version = words.shorten(served.version, 24)
    text = f"{mark}push {push.number:<3} #{push.seq:<6} {push.service:<22} {version:<24}"
    text += f" recorded {recorded:<4}  here {here}"
    if row.match == Match.DIFFERENT and row.why and row.why not in text:
        text += f"  ({row.why})"
    return text


def _answer_text(answer: plan_mod.Answer) -> str:
    if answer.kind == "nack":
        error = words.one_line(answer.error)
        return f"NACK ({words.shorten(error, 48)})" if error else "NACK"
    return answer.kind.upper()


class InOrder:
    """Lines of settled pushes released in push order (the engine settles each type on its own)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._next = 0
        self._waiting: dict[int, str] = {}

    def add(self, position: int, text: str) -> None:
        self._waiting[position] = text
        while self._next in self._waiting:
            self._emit(self._waiting.pop(self._next))
            self._next += 1

    def flush(self) -> None:
        for position in sorted(self._waiting):
            self._emit(self._waiting.pop(position))


def lines(report: Report) -> list[str]:
    """The report's summary, after the pushes' own lines."""
    out = []
    for note in report.notes:
        out.append(f"note: {note}")
    if report.others:
        out.append(f"also served (not compared): {', '.join(report.others)}")
    if report.reconnects:
        out.append(
            f"the fresh Envoy reconnected {report.reconnects} time(s); the replay went on on its new stream"
        )
    if not report.fresh_node:
        out.append("NOT reproduced: no Envoy connected to the replay")
    elif report.reproduced:
        compared = sum(1 for r in report.rows if r.match == Match.SAME)
        out.append(f"reproduced: {compared} push(es) answered as recorded" + _stopped(report))
    else:
        out.append(
            f"NOT reproduced: {len(report.differences)} push(es) answered differently:" + _stopped(report)
        )
        out.extend(
            f"  push {r.push.number} (#{r.push.seq} {r.push.service}): {r.why}" for r in report.differences
        )
    return out


def _stopped(report: Report) -> str:
    return " (stopped early, by the user)" if report.stopped_early else ""


def to_json(report: Report) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "recording": report.recording,
        "node": report.node,
        "fresh_node": report.fresh_node,
        "mode": report.mode,
        "reproduced": report.reproduced,
        "stopped_early": report.stopped_early,
        "reconnects": report.reconnects,
        "others": list(report.others),
        "notes": list(report.notes),
        "pushes": [_row_json(r) for r in report.rows],
    }


def _row_json(row: Row) -> dict[str, Any]:
    push, served = row.push, row.served
    return {
        "push": push.number,
        "seq": push.seq,
        "type_url": push.type_url,
        "recorded_version": push.version,
        "served_version": served.version,
        "set": sorted(push.set),
        "removed": list(push.removed),
        "recorded": {"answer": push.original.kind, "error": push.original.error, "seq": push.original.seq},
        "fresh": {"answer": served.fresh.kind, "error": served.fresh.error, "note": served.note},
        "match": str(row.match),
        "why": row.why,
    }
