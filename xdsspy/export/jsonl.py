"""One JSON object per recorded event (JSON Lines), so jq and scripts can read recordings."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import TextIO

from xdsspy import grpc_status
from xdsspy import model
from xdsspy import timefmt

EVENT_NAMES: dict[type[model.EventBase], str] = {
    model.StreamOpened: "open",
    model.MessageSeen: "message",
    model.ResponseHeadersSeen: "headers",
    model.StreamClosed: "close",
    model.CaptureStarted: "capture_start",
    model.CaptureStopped: "capture_stop",
    model.Gap: "gap",
    model.Note: "note",
}


def _metadata(md: model.Metadata) -> list[list[Any]]:
    """[key, text] pairs; binary or non-UTF-8 values become [key, {"base64": ...}]."""
    out: list[list[Any]] = []
    for key, value in md:
        if key.endswith("-bin"):
            out.append([key, {"base64": base64.b64encode(value).decode("ascii")}])
            continue
        try:
            out.append([key, value.decode("utf-8")])
        except UnicodeDecodeError:
            out.append([key, {"base64": base64.b64encode(value).decode("ascii")}])
    return out


def to_json(event: model.Event) -> dict[str, Any]:
    """The export object for one event; field names are documented in docs/recording-format.md."""
    obj: dict[str, Any] = {
        "seq": event.seq,
        "time": timefmt.rfc3339(event.wall_ns),
        "monotonic_ns": event.monotonic_ns,
        "connection": event.connection,
        "stream": event.stream,
        "event": EVENT_NAMES[type(event)],
    }
    if isinstance(event, model.StreamOpened):
        obj.update(
            method=event.method,
            transport=str(event.transport),
            peer=event.peer,
            metadata=_metadata(event.metadata),
        )
        if event.timeout_seconds:
            obj["timeout_seconds"] = event.timeout_seconds
        if event.http_method:
            obj["http_method"] = event.http_method
        if event.http_version:
            obj["http_version"] = event.http_version
    elif isinstance(event, model.MessageSeen):
        obj.update(
            method=event.method,
            direction=str(event.direction),
            size=len(event.raw),
            raw=base64.b64encode(event.raw).decode("ascii"),
        )
    elif isinstance(event, model.ResponseHeadersSeen):
        obj.update(method=event.method, metadata=_metadata(event.metadata))
        if event.http_status:
            obj["http_status"] = event.http_status
    elif isinstance(event, model.StreamClosed):
        obj.update(
            method=event.method,
            status={"code": event.code, "name": grpc_status.name(event.code), "details": event.details},
            trailers=_metadata(event.trailers),
            cause=str(event.cause),
        )
    elif isinstance(event, model.CaptureStarted):
        obj.update(
            listen=list(event.listen),
            upstream=event.upstream,
            pid=event.pid,
            max_message_bytes=event.max_message_bytes,
        )
    elif isinstance(event, model.CaptureStopped):
        obj.update(
            records_written=event.records_written, records_lost=event.records_lost, reason=event.reason
        )
    elif isinstance(event, model.Gap):
        obj.update(
            first_seq=event.first_seq,
            last_seq=event.last_seq,
            records_lost=event.records_lost,
            bytes_lost=event.bytes_lost,
            reason=event.reason,
        )
    elif isinstance(event, model.Note):
        obj.update(level=str(event.level), text=event.text)
    return obj


Annotate = Callable[[model.Event], Mapping[str, Any]]
"""Extra fields for an event's object (`decoded.Annotator.fields` for --decode); never replaces a field."""


def lines(events: Iterable[model.Event], annotate: Annotate | None = None) -> Iterator[str]:
    for event in events:
        obj = to_json(event)
        if annotate is not None:
            for key, value in annotate(event).items():
                obj.setdefault(key, value)
        yield json.dumps(obj, separators=(",", ":"))


def write(events: Iterable[model.Event], out: TextIO, annotate: Annotate | None = None) -> int:
    """Write one line per event; returns the number written."""
    count = 0
    for line in lines(events, annotate):
        out.write(line)
        out.write("\n")
        count += 1
    return count
