"""The captured events: what the proxy sees, what a recording holds, what readers get back.

The same dataclasses flow from the forwarding path into the writer and out of
the reader again, so a live session and a recording look alike to everything
downstream. Raw message bytes are always kept; decoding is a separate view.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TypeAlias
from typing import TypedDict


class Direction(enum.StrEnum):
    """Which way a message travelled."""

    REQUEST = "request"  # Envoy -> control plane
    RESPONSE = "response"  # control plane -> Envoy


class Transport(enum.StrEnum):
    GRPC = "grpc"
    REST = "rest"


class CloseCause(enum.StrEnum):
    """Who ended a stream."""

    UPSTREAM = "upstream"  # the control plane finished it, with any status
    DOWNSTREAM = "downstream"  # Envoy cancelled or disconnected
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # the control plane could not be reached
    PROXY_SHUTDOWN = "proxy_shutdown"
    PROXY_ERROR = "proxy_error"
    UNSPECIFIED = "unspecified"


class NoteLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


Metadata: TypeAlias = tuple[tuple[str, bytes], ...]
"""Header pairs in arrival order; values are the exact bytes ("-bin" values decoded)."""


class Stamp(TypedDict):
    """Position and times of an event, as handed out by the capture's stamper."""

    seq: int
    wall_ns: int
    monotonic_ns: int


class StreamIds(TypedDict):
    connection: int
    stream: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventBase:
    seq: int
    wall_ns: int
    monotonic_ns: int
    connection: int = 0
    stream: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaptureStarted(EventBase):
    listen: tuple[str, ...]
    upstream: str
    pid: int
    max_message_bytes: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StreamOpened(EventBase):
    transport: Transport
    method: str
    peer: str
    metadata: Metadata = ()
    timeout_seconds: float = 0.0
    http_method: str = ""
    http_version: str = ""  # REST: "1.1", "1.0" or "2" (h2c)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageSeen(EventBase):
    direction: Direction
    # bytes in everything read from a recording; in a live capture, possibly a view of the relay's
    # read buffer, which nothing writes into while it is held (capture.relay): recording it then
    # needs no copy. bytes(raw) is free for bytes.
    raw: bytes | memoryview
    method: str = ""  # filled from the stream's open event; not stored per message


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHeadersSeen(EventBase):
    metadata: Metadata
    http_status: int = 0
    method: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StreamClosed(EventBase):
    code: int  # gRPC status code (0 = OK)
    details: str
    trailers: Metadata
    cause: CloseCause
    method: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Gap(EventBase):
    """Records that are missing from a recording, and why."""

    first_seq: int
    last_seq: int
    records_lost: int
    bytes_lost: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Note(EventBase):
    level: NoteLevel
    text: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaptureStopped(EventBase):
    records_written: int
    records_lost: int
    reason: str


Event: TypeAlias = (
    CaptureStarted
    | StreamOpened
    | MessageSeen
    | ResponseHeadersSeen
    | StreamClosed
    | Gap
    | Note
    | CaptureStopped
)
