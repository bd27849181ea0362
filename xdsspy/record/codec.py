"""Conversion between model events and the Record protobuf of the recording format.

Message events are encoded without copying their payload: the Record is
serialised without the raw bytes and the raw field's tag and length are
appended by hand, which is valid protobuf (fields may arrive in any order and
a message is the concatenation of its fields). The writer then hands the raw
bytes to the compressor as they are. A record a reader would refuse (over
`limits`) raises ValueError instead of being written.
"""

from __future__ import annotations

from typing import TypeAlias

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from xdsspy import model
from xdsspy import varint
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import limits

Chunk: TypeAlias = bytes | memoryview

_MESSAGE_FIELD_TAG = bytes([(12 << 3) | 2])  # Record.message, length-delimited
_RAW_FIELD_TAG = bytes([(15 << 3) | 2])  # Message.raw, length-delimited

_DIRECTION_TO_PB = {
    model.Direction.REQUEST: pb.DIRECTION_REQUEST,
    model.Direction.RESPONSE: pb.DIRECTION_RESPONSE,
}
_DIRECTION_FROM_PB = {v: k for k, v in _DIRECTION_TO_PB.items()}
_TRANSPORT_TO_PB = {model.Transport.GRPC: pb.TRANSPORT_GRPC, model.Transport.REST: pb.TRANSPORT_REST}
_TRANSPORT_FROM_PB = {v: k for k, v in _TRANSPORT_TO_PB.items()}
_CAUSE_TO_PB = {
    model.CloseCause.UPSTREAM: pb.CLOSE_CAUSE_UPSTREAM,
    model.CloseCause.DOWNSTREAM: pb.CLOSE_CAUSE_DOWNSTREAM,
    model.CloseCause.UPSTREAM_UNAVAILABLE: pb.CLOSE_CAUSE_UPSTREAM_UNAVAILABLE,
    model.CloseCause.PROXY_SHUTDOWN: pb.CLOSE_CAUSE_PROXY_SHUTDOWN,
    model.CloseCause.PROXY_ERROR: pb.CLOSE_CAUSE_PROXY_ERROR,
    model.CloseCause.UNSPECIFIED: pb.CLOSE_CAUSE_UNSPECIFIED,
}
_CAUSE_FROM_PB = {v: k for k, v in _CAUSE_TO_PB.items()}
_LEVEL_TO_PB = {
    model.NoteLevel.INFO: pb.Note.LEVEL_INFO,
    model.NoteLevel.WARNING: pb.Note.LEVEL_WARNING,
    model.NoteLevel.ERROR: pb.Note.LEVEL_ERROR,
}
_LEVEL_FROM_PB = {v: k for k, v in _LEVEL_TO_PB.items()}
_MESSAGE_HEADS = {d: pb.Message(direction=p).SerializeToString() for d, p in _DIRECTION_TO_PB.items()}
"""The Message fields ahead of raw, the same for every message of a direction."""


def _common(event: model.Event) -> pb.Record:
    """A Record with the fields every event has."""
    return pb.Record(
        seq=event.seq,
        wall_ns=event.wall_ns,
        monotonic_ns=event.monotonic_ns,
        connection=event.connection,
        stream=event.stream,
    )


def encode(event: model.Event) -> list[Chunk]:
    """Chunks whose concatenation is one varint-length-delimited Record."""
    record = _common(event)
    if isinstance(event, model.MessageSeen):
        head = record.SerializeToString()
        message_head = _MESSAGE_HEADS[event.direction]
        raw_prefix = _RAW_FIELD_TAG + varint.encode(len(event.raw))
        message_length = len(message_head) + len(raw_prefix) + len(event.raw)
        body_head = head + _MESSAGE_FIELD_TAG + varint.encode(message_length) + message_head + raw_prefix
        total = len(body_head) + len(event.raw)
        if total > limits.MAX_RECORD_BYTES:
            raise ValueError(
                f"a message of {len(event.raw):,} bytes is more than a recording holds"
                f" ({limits.MAX_RECORD_BYTES:,} bytes a record)"
            )
        return [varint.encode(total) + body_head, event.raw]
    _fill(record, event)
    body = record.SerializeToString()
    refused = limits.record_problem(body)  # what a reader would refuse is not written
    if refused:
        raise ValueError(refused)
    return [varint.encode(len(body)) + body]


def encode_repeat(event: model.MessageSeen, same_as_seq: int) -> list[Chunk]:
    """A message record without its bytes: they are those of record same_as_seq, earlier in the block."""
    record = _common(event)
    record.message.direction = _DIRECTION_TO_PB[event.direction]
    record.message.same_as_seq = same_as_seq
    body = record.SerializeToString()
    return [varint.encode(len(body)) + body]


def repeated_seq(record: pb.Record) -> int:
    """For a message record stored as a repeat (format 2), the seq whose bytes it repeats; else 0."""
    return record.message.same_as_seq if record.WhichOneof("event") == "message" else 0


def _add_headers(into: RepeatedCompositeFieldContainer[pb.Header], metadata: model.Metadata) -> None:
    for key, value in metadata:
        into.add(key=key, value=value)


def _fill(record: pb.Record, event: model.Event) -> None:
    """Set the event's part of the record in place.

    Sub-messages are filled where they sit rather than built apart and
    copied in: each message built apart is an allocation arena of its own,
    and protobuf's upb runtime calls malloc_trim() after every 10,000 arena
    frees, which hands the capture process's free memory back to the kernel
    and costs a page fault per 4 KiB when it is used again. A REST poll used
    to free about 30 arenas; it now frees five.
    """
    if isinstance(event, model.StreamOpened):
        opened = record.stream_open
        opened.transport = _TRANSPORT_TO_PB[event.transport]
        opened.method = event.method
        opened.peer = event.peer
        _add_headers(opened.metadata, event.metadata)
        opened.timeout_seconds = event.timeout_seconds
        opened.http_method = event.http_method
        opened.http_version = event.http_version
    elif isinstance(event, model.ResponseHeadersSeen):
        headers = record.response_headers
        _add_headers(headers.metadata, event.metadata)
        headers.http_status = event.http_status
    elif isinstance(event, model.StreamClosed):
        closed = record.stream_close
        closed.code = event.code
        closed.details = event.details
        _add_headers(closed.trailers, event.trailers)
        closed.cause = _CAUSE_TO_PB[event.cause]
    elif isinstance(event, model.CaptureStarted):
        started = record.capture_start
        started.listen.extend(event.listen)
        started.upstream = event.upstream
        started.pid = event.pid
        started.max_message_bytes = event.max_message_bytes
    elif isinstance(event, model.Gap):
        gap = record.gap
        gap.first_seq = event.first_seq
        gap.last_seq = event.last_seq
        gap.records_lost = event.records_lost
        gap.bytes_lost = event.bytes_lost
        gap.reason = event.reason
    elif isinstance(event, model.Note):
        record.note.level = _LEVEL_TO_PB[event.level]
        record.note.text = event.text
    elif isinstance(event, model.CaptureStopped):
        stopped = record.capture_stop
        stopped.records_written = event.records_written
        stopped.records_lost = event.records_lost
        stopped.reason = event.reason
    else:  # pragma: no cover - MessageSeen is handled by encode()
        raise TypeError(f"cannot encode {type(event).__name__}")


class UnknownRecordError(ValueError):
    """A record whose event this reader does not know (written by a newer xdsspy)."""


class _Common(model.Stamp, model.StreamIds):
    pass


def decode(record: pb.Record, method: str = "") -> model.Event:
    """The model event for one Record; raises UnknownRecordError for events from the future.

    `method` is the stream's, for the events that carry it but do not store it (the reader knows it
    from the stream's open record).
    """
    kind = record.WhichOneof("event")
    if kind == "message":  # nine records in ten: built without the intermediate dict
        message = record.message
        return model.MessageSeen(
            seq=record.seq,
            wall_ns=record.wall_ns,
            monotonic_ns=record.monotonic_ns,
            connection=record.connection,
            stream=record.stream,
            direction=_DIRECTION_FROM_PB.get(message.direction, model.Direction.REQUEST),
            raw=message.raw,
            method=method,
        )
    common = _Common(
        seq=record.seq,
        wall_ns=record.wall_ns,
        monotonic_ns=record.monotonic_ns,
        connection=record.connection,
        stream=record.stream,
    )
    if kind == "stream_open":
        o = record.stream_open
        return model.StreamOpened(
            **common,
            transport=_TRANSPORT_FROM_PB.get(o.transport, model.Transport.GRPC),
            method=o.method,
            peer=o.peer,
            metadata=tuple((h.key, h.value) for h in o.metadata),
            timeout_seconds=o.timeout_seconds,
            http_method=o.http_method,
            http_version=o.http_version,
        )
    if kind == "response_headers":
        h = record.response_headers
        return model.ResponseHeadersSeen(
            **common,
            metadata=tuple((x.key, x.value) for x in h.metadata),
            http_status=h.http_status,
            method=method,
        )
    if kind == "stream_close":
        c = record.stream_close
        return model.StreamClosed(
            **common,
            code=c.code,
            details=c.details,
            trailers=tuple((x.key, x.value) for x in c.trailers),
            cause=_CAUSE_FROM_PB.get(c.cause, model.CloseCause.UNSPECIFIED),
            method=method,
        )
    if kind == "capture_start":
        s = record.capture_start
        return model.CaptureStarted(
            **common,
            listen=tuple(s.listen),
            upstream=s.upstream,
            pid=s.pid,
            max_message_bytes=s.max_message_bytes,
        )
    if kind == "gap":
        g = record.gap
        return model.Gap(
            **common,
            first_seq=g.first_seq,
            last_seq=g.last_seq,
            records_lost=g.records_lost,
            bytes_lost=g.bytes_lost,
            reason=g.reason,
        )
    if kind == "note":
        return model.Note(
            **common, level=_LEVEL_FROM_PB.get(record.note.level, model.NoteLevel.INFO), text=record.note.text
        )
    if kind == "capture_stop":
        s2 = record.capture_stop
        return model.CaptureStopped(
            **common, records_written=s2.records_written, records_lost=s2.records_lost, reason=s2.reason
        )
    raise UnknownRecordError(f"record seq {record.seq} holds an event this xdsspy does not know")


def decode_delimited(data: bytes) -> model.Event:
    """Decode one varint-length-delimited Record, as encode() produces it."""
    length, start = varint.decode(data, 0)
    return decode(pb.Record.FromString(memoryview(data)[start : start + length]))  # type: ignore[arg-type]
