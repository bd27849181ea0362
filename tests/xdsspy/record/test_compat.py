"""Format versions: the current one reads, newer ones are refused with advice, converters chain."""

from __future__ import annotations

import pytest

from xdsspy import errors
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import compat
from xdsspy.record import format as fmt


def test_current_version_is_accepted() -> None:
    compat.check_version(fmt.FORMAT_VERSION, "f")


def test_newer_version_says_upgrade() -> None:
    with pytest.raises(errors.RecordingReadError, match="upgrade xdsspy"):
        compat.check_version(fmt.FORMAT_VERSION + 1, "f")


def test_converters_run_in_order_up_to_the_current_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "FORMAT_VERSION", 3)
    calls: list[int] = []

    def step(version: int):  # type: ignore[no-untyped-def]
        def convert(record: pb.Record) -> pb.Record:
            calls.append(version)
            return pb.Record(seq=record.seq + 1)

        return convert

    monkeypatch.setattr(compat, "converters", {1: step(1), 2: step(2)})
    compat.check_version(1, "old")
    assert compat.migrate(pb.Record(seq=1), 1).seq == 3
    assert calls == [1, 2]


def test_version_1_files_are_read_as_they_are() -> None:
    """Version 2 only added repeats (Message.same_as_seq); a version 1 file never holds one."""
    compat.check_version(1, "old")
    record = pb.Record(seq=7, message=pb.Message(raw=b"abc"))
    assert compat.migrate(record, 1) == record
