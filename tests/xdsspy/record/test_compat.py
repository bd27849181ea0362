"""Format versions: the current one reads, newer ones are refused with advice, converters chain."""

from __future__ import annotations

import pathlib

import pytest

from xdsspy import errors
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import compat
from xdsspy.record import format as fmt
from xdsspy.record import reader


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


DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def _events(path: pathlib.Path) -> list[tuple[int, str, bytes]]:
    with reader.RecordingReader(path) as r:
        assert r.problems == []
        return [(e.seq, type(e).__name__, bytes(getattr(e, "raw", b""))) for e in r.events()]


def test_a_file_of_every_format_version_is_kept_and_reads_the_same() -> None:
    """tests/data/format-vN.xdsspy: the same conversation (an ACKed push, a NACKed one) in each version.

    Version 1 differs from 2 only in its header (2 added repeats, which this conversation has none of), so
    the version 1 file is the version 2 file's blocks under a version 1 header.
    """
    files = [DATA / f"format-v{v}.xdsspy" for v in range(1, fmt.FORMAT_VERSION + 1)]
    assert all(f.exists() for f in files), "add a small file for the new format version"
    first = _events(files[0])
    assert len(first) == 6 and any(kind == "MessageSeen" for _, kind, _ in first)
    for path in files[1:]:
        assert _events(path) == first, path.name


def test_an_older_files_records_go_through_the_converter_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def convert(record: pb.Record) -> pb.Record:
        seen.append(record.seq)
        return record

    monkeypatch.setattr(compat, "converters", {1: convert})
    _events(DATA / f"format-v{fmt.FORMAT_VERSION}.xdsspy")
    assert seen == []  # the current format needs no conversion
    _events(DATA / "format-v1.xdsspy")
    assert seen == [1, 2, 3, 4, 5, 6]
