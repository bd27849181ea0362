"""The recording reader: everything intact comes back, every defect is named with its offset."""

from __future__ import annotations

import os
import pathlib
import threading
import time

import pytest

from xdsspy import errors
from xdsspy import model
from xdsspy.record import format as fmt
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.testing import factories as f


def _record(path: pathlib.Path, events: list[model.Event], *, linger_s: float = 0.0) -> None:
    w = writer.RecordingWriter(path, linger_s=linger_s)
    for event in events:
        w.publish(event)
        if not linger_s:
            _drain(w)  # one block per event, so damage can hit exactly one
    w.close()


def _drain(w: writer.RecordingWriter) -> None:
    deadline = time.monotonic() + 10
    while w._queue and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.005)


def _events(path: pathlib.Path) -> tuple[list[model.Event], list[reader.Problem]]:
    with reader.RecordingReader(path) as r:
        return list(r.events()), r.problems


def _block_offsets(path: pathlib.Path) -> list[int]:
    data = path.read_bytes()
    offsets = []
    pos = len(fmt.FILE_MAGIC)
    length, _ = fmt.FILE_HEADER_PREFIX.unpack_from(data, pos)
    pos += fmt.FILE_HEADER_PREFIX.size + length
    while pos < len(data):
        offsets.append(pos)
        header = fmt.unpack_block_header(data[pos : pos + fmt.BLOCK_HEADER.size])
        pos += fmt.BLOCK_HEADER.size + header.stored_length
    return offsets


@pytest.fixture
def five(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "five.xdsspy"
    _record(
        path, [f.topen(seq=1), *(f.tmessage(os.urandom(500), seq=s) for s in range(2, 5)), f.tstop(seq=5)]
    )
    return path


def test_every_truncation_point_reads_the_complete_blocks_and_reports_the_tail(five: pathlib.Path) -> None:
    data = five.read_bytes()
    offsets = _block_offsets(five)
    assert len(offsets) == 5
    cut_file = five.with_name("cut.xdsspy")
    for cut in range(offsets[0], len(data)):
        cut_file.write_bytes(data[:cut])
        events, problems = _events(cut_file)
        complete = sum(1 for o in [*offsets[1:], len(data)] if o <= cut)
        assert [e.seq for e in events] == list(range(1, complete + 1)), cut
        last_end = ([offsets[0]] + [o for o in [*offsets[1:], len(data)] if o <= cut])[-1]
        if cut > last_end:
            assert [(p.kind, p.offset) for p in problems] == [("truncated_tail", last_end)], cut
        else:
            assert problems == [], cut


def test_damaged_block_in_the_middle_is_skipped_and_named(five: pathlib.Path) -> None:
    data = bytearray(five.read_bytes())
    offsets = _block_offsets(five)
    data[offsets[2] + fmt.BLOCK_HEADER.size + 5] ^= 0xFF  # one payload byte of the third block
    five.write_bytes(bytes(data))
    events, problems = _events(five)
    assert [e.seq for e in events] == [1, 2, 4, 5]
    assert len(problems) == 1 and problems[0].kind == "corrupt_block"
    assert problems[0].offset == offsets[2]
    assert "checksum" in str(problems[0])


def test_garbage_inserted_between_blocks_is_skipped(five: pathlib.Path) -> None:
    data = five.read_bytes()
    offsets = _block_offsets(five)
    five.write_bytes(data[: offsets[3]] + b"XDSB garbage \x00" * 100 + data[offsets[3] :])
    events, problems = _events(five)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [p.kind for p in problems] == ["corrupt_block"]
    assert problems[0].offset == offsets[3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"hello world, not a recording", "not an xdsspy recording"),
        (b"\x89XDS\r\n\x1a\n\x05", "truncated"),
        (b"\x89XDS\r\n\x1a\n" + b"\xff\xff\xff\x7f\x00\x00\x00\x00", "implausible"),
        (b"\x89XDS\r\n\x1a\n" + b"\x02\x00\x00\x00\x00\x00\x00\x00xx", "checksum"),
    ],
)
def test_files_that_are_not_recordings_get_a_clear_error(
    tmp_path: pathlib.Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.xdsspy"
    path.write_bytes(content)
    with pytest.raises(errors.RecordingReadError, match=message):
        reader.RecordingReader(path)


def test_missing_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.RecordingReadError, match="cannot open"):
        reader.RecordingReader(tmp_path / "nope.xdsspy")


def test_newer_format_version_is_refused_with_advice(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "future.xdsspy"
    monkeypatch.setattr(fmt, "FORMAT_VERSION", 99)
    writer.RecordingWriter(path).close()
    monkeypatch.setattr(fmt, "FORMAT_VERSION", 1)
    with pytest.raises(errors.RecordingReadError, match="newer than this xdsspy reads"):
        reader.RecordingReader(path)


def test_follow_reads_a_growing_file_until_capture_stops(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "live.xdsspy"
    w = writer.RecordingWriter(path, linger_s=0)
    seen: list[tuple[int, float]] = []

    def follow() -> None:
        with reader.RecordingReader(path) as r:
            for event in r.events(follow=True, poll_interval=0.01):
                seen.append((event.seq, time.monotonic()))

    thread = threading.Thread(target=follow)
    thread.start()
    published: dict[int, float] = {}
    for seq in range(1, 6):
        published[seq] = time.monotonic()
        w.publish(f.tmessage(b"m" * 100, seq=seq))
        time.sleep(0.05)
    w.publish(f.tstop(seq=6))
    w.close()
    thread.join(10)
    assert not thread.is_alive()
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5, 6]
    # Readable by another reader within a second of being published (no timing claims beyond that).
    assert all(at - published[s] < 1.0 for s, at in seen if s in published)


def test_iter_events_is_the_one_call_api(five: pathlib.Path) -> None:
    assert [e.seq for e in reader.iter_events(five)] == [1, 2, 3, 4, 5]


def test_a_repeat_of_bytes_its_block_does_not_hold_is_named_and_the_rest_is_read(
    tmp_path: pathlib.Path,
) -> None:
    from xdsspy.record import codec

    path = tmp_path / "r.xdsspy"
    body = os.urandom(10_000)
    w = writer.RecordingWriter(path, linger_s=0.5)  # one block
    w.publish(f.tmessage(body, seq=1))
    for seq, same_as in ((2, 1), (3, 99), (4, 1)):  # 99 is nowhere: a forged or broken file
        encoded = codec.encode_repeat(f.tmessage(b"", seq=seq), same_as)
        w.publish_encoded(writer.Encoded(seq=seq, chunks=encoded))
    w.close()
    events, problems = _events(path)
    messages = [(e.seq, e.raw) for e in events if isinstance(e, model.MessageSeen)]
    assert messages == [(1, body), (2, body), (4, body)]
    assert [p.kind for p in problems] == ["bad_record"]
    assert "seq 3 repeats the bytes of seq 99" in problems[0].message


def test_any_block_can_be_read_again_on_its_own(tmp_path: pathlib.Path) -> None:
    """A viewer decodes the message under its cursor: by the offset of its block, from any thread."""
    path = tmp_path / "blocks.xdsspy"
    events: list[model.Event] = [f.topen(seq=1)]
    events += [f.tmessage(bytes([i]) * (i + 1), seq=i + 2, method=f.ADS) for i in range(6)]
    events.append(f.tclose(seq=9))
    _record(path, events)  # one block per event
    with reader.RecordingReader(path) as r:
        by_block: dict[int, list[int]] = {}
        iterated = []
        for event in r.events():
            by_block.setdefault(r.block_offset, []).append(event.seq)
            iterated.append(event)
            if event.seq == 4:
                assert [e.seq for e in r.read_block(min(by_block))] == [1]  # the iteration does not move
        assert len(by_block) == len(events)
        again = {offset: r.read_block(offset) for offset in by_block}
        assert {offset: [e.seq for e in found] for offset, found in again.items()} == by_block
        message = next(e for found in again.values() for e in found if e.seq == 5)
        assert isinstance(message, model.MessageSeen) and message.raw == bytes([3]) * 4
        assert message.method == ""  # its stream opened in another block: the index knows the method
        with pytest.raises(errors.RecordingReadError, match="no block at byte 3"):
            r.read_block(3)
        with pytest.raises(errors.RecordingReadError, match="no block"):
            r.read_block(os.path.getsize(path) + 10)
    assert [e.seq for e in iterated] == [e.seq for e in events]
