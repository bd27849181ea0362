"""One line per event on stdout: the --headless front end of `xdsspy proxy`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from xdsspy import grpc_status
from xdsspy import model
from xdsspy import timefmt

_ARROWS = {model.Direction.REQUEST: "envoy -> cp", model.Direction.RESPONSE: "cp -> envoy"}


def _size(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def describe(event: model.Event) -> str | None:
    """The line for one event, or None for events not worth a line."""
    when = timefmt.clock(event.wall_ns)
    where = f"c{event.connection} s{event.stream}"
    if isinstance(event, model.MessageSeen):
        return f"{when}  {where:<9} {_ARROWS[event.direction]:<11} {event.method}  {_size(len(event.raw))}"
    if isinstance(event, model.StreamOpened):
        return f"{when}  {where:<9} open        {event.method}  from {event.peer}"
    if isinstance(event, model.StreamClosed):
        status = grpc_status.name(event.code)
        details = f" {event.details!r}" if event.details else ""
        return f"{when}  {where:<9} close       {event.method}  {status}{details} ({event.cause})"
    if isinstance(event, model.Gap):
        return (
            f"{when}  GAP: {event.records_lost} records ({_size(event.bytes_lost)}) missing "
            f"from the recording: {event.reason}"
        )
    if isinstance(event, model.Note):
        return f"{when}  {event.level.upper()}: {event.text}"
    if isinstance(event, model.CaptureStarted):
        return f"{when}  capture started: {', '.join(event.listen)} -> {event.upstream}"
    if isinstance(event, model.CaptureStopped):
        return f"{when}  capture stopped"
    return None


def print_events(events: Iterable[model.Event], out: TextIO) -> None:
    for event in events:
        line = describe(event)
        if line is not None:
            print(line, file=out, flush=True)
