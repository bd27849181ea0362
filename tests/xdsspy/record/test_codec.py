"""Event <-> Record conversion, including the hand-appended raw field of messages."""

from __future__ import annotations

import os

import pytest

from xdsspy import model
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import codec
from xdsspy.record import limits
from xdsspy.testing import factories as f

EVENTS: list[model.Event] = [
    f.topen(seq=1),
    f.tmessage(b"", seq=2),
    f.tmessage(os.urandom(300), direction=model.Direction.RESPONSE, seq=3),
    f.tclose(code=13, seq=4),
    model.ResponseHeadersSeen(
        seq=5, wall_ns=1, monotonic_ns=2, connection=1, stream=1, metadata=(("a", b"b"),)
    ),
    model.CaptureStarted(
        seq=6, wall_ns=1, monotonic_ns=2, listen=("127.0.0.1:1",), upstream="u:1", pid=9, max_message_bytes=5
    ),
    model.Gap(
        seq=0, wall_ns=1, monotonic_ns=2, first_seq=1, last_seq=2, records_lost=2, bytes_lost=3, reason="r"
    ),
    model.Note(seq=7, wall_ns=1, monotonic_ns=2, level=model.NoteLevel.WARNING, text="t"),
    f.tstop(seq=8),
    model.StreamOpened(
        seq=9,
        wall_ns=1,
        monotonic_ns=2,
        connection=2,
        stream=3,
        transport=model.Transport.REST,
        method="/v3/discovery:clusters",
        peer="127.0.0.1:5",
        metadata=(("content-type", b"application/json"), ("content-length", b"2")),
        timeout_seconds=1.5,
        http_method="POST",
        http_version="1.1",
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: model.Event) -> None:
    data = b"".join(codec.encode(event))
    decoded = codec.decode_delimited(data)
    if isinstance(event, model.MessageSeen):
        event = model.MessageSeen(**{**_fields(event), "method": ""})
    assert decoded == event


def test_hand_appended_raw_is_what_protobuf_itself_would_parse() -> None:
    event = f.tmessage(b"\x0a\x00payload", seq=42)
    data = b"".join(codec.encode(event))
    record = pb.Record()
    length = data[0]
    record.ParseFromString(data[1 : 1 + length])
    assert record.seq == 42 and record.message.raw == b"\x0a\x00payload"
    assert record.message.direction == pb.DIRECTION_REQUEST


def test_a_repeat_names_its_direction_and_the_record_it_repeats() -> None:
    event = f.tmessage(b"x" * 5000, direction=model.Direction.RESPONSE, seq=12)
    data = b"".join(codec.encode_repeat(event, 7))
    record = pb.Record.FromString(data[1:])
    assert record.seq == 12 and codec.repeated_seq(record) == 7
    assert record.message.direction == pb.DIRECTION_RESPONSE and record.message.raw == b""


def test_records_from_the_future_are_named_not_crashed_on() -> None:
    with pytest.raises(codec.UnknownRecordError, match="seq 3"):
        codec.decode(pb.Record(seq=3))


def _fields(event: model.MessageSeen) -> dict[str, object]:
    return {k: getattr(event, k) for k in event.__dataclass_fields__}


def test_a_record_the_reader_would_refuse_is_not_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    with pytest.raises(ValueError, match="a message of 2,000 bytes is more than a recording holds"):
        codec.encode(f.tmessage(b"x" * 2000, seq=1))
    assert codec.encode(f.tmessage(b"x" * 900, seq=1))
