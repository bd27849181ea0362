"""The recording writer: lossless, private, and never blocking or failing its caller."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from collections.abc import Callable

import pytest
import zstandard

from xdsspy import model
from xdsspy import varint
from xdsspy.record import limits
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.testing import factories as f


def _read_all(path: str) -> tuple[list[model.Event], list[reader.Problem]]:
    with reader.RecordingReader(path) as r:
        events = list(r.events())
        return events, r.problems


def test_round_trip_keeps_every_field_and_byte(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    raw_big = os.urandom(3 << 20)  # incompressible and above the coalescing threshold
    written = [
        f.topen(seq=1),
        f.tmessage(b"", seq=2),
        f.tmessage(raw_big, direction=model.Direction.RESPONSE, seq=3),
        f.tmessage(b"x" * 1000, seq=4),
        f.tclose(code=14, seq=5),
        f.tstop(seq=6),
    ]
    w = writer.RecordingWriter(path)
    for event in written:
        w.publish(event)
    stats = w.close()
    assert stats.records_written == len(written) and stats.records_lost == 0
    events, problems = _read_all(path)
    assert problems == []
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0] == written[0]
    assert isinstance(events[2], model.MessageSeen) and events[2].raw == raw_big
    assert events[2].method == written[0].method  # filled from the stream's open event
    assert events[1].raw == b""  # type: ignore[union-attr]
    assert events[4].trailers == written[4].trailers  # type: ignore[union-attr]
    assert events[4].code == 14  # type: ignore[union-attr]


def test_file_is_created_private_even_when_it_existed(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    with open(path, "w") as existing:
        existing.write("old")
    os.chmod(path, 0o644)
    writer.RecordingWriter(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_new_file_mode_is_0600_whatever_the_umask(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "new.xdsspy")
    old = os.umask(0)
    try:
        writer.RecordingWriter(path).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_unwritable_location_is_a_clear_error(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(writer.errors.RecordingWriteError, match="cannot create recording"):
        writer.RecordingWriter(os.path.join(tmp_path, "no", "such", "dir.xdsspy"))


def test_full_buffer_drops_and_reports_a_gap(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    w = writer.RecordingWriter(path, max_pending_bytes=10_000, linger_s=0.5)
    w.publish(f.tmessage(b"a" * 100, seq=1))
    for seq in range(2, 6):
        w.publish(f.tmessage(b"b" * 20_000, seq=seq))  # each larger than the whole buffer
    w.publish(f.tstop(seq=6))
    stats = w.close()
    assert stats.records_lost == 4
    events, problems = _read_all(path)
    assert problems == []
    gaps = [e for e in events if isinstance(e, model.Gap)]
    assert len(gaps) == 1
    assert (gaps[0].first_seq, gaps[0].last_seq, gaps[0].records_lost) == (2, 5, 4)
    assert "buffer full" in gaps[0].reason
    stop = events[-1]
    assert isinstance(stop, model.CaptureStopped) and stop.records_lost == 4
    assert [e.seq for e in events if e.seq] == [1, 6]


class _FailingDisk:
    """Makes os.write fail with ENOSPC while `full` is set, for the writer's file only."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fd_owner: writer.RecordingWriter) -> None:
        self.full = threading.Event()
        real_write = os.write
        owner = fd_owner

        def write(fd: int, data: bytes | memoryview) -> int:
            if fd == owner._fd and self.full.is_set():
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(writer.os, "write", write)


def test_disk_failure_drops_loudly_then_recovers_with_a_gap(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    said: list[str] = []
    monkeypatch.setattr(writer, "RETRY_INTERVAL_S", 0.05)
    w = writer.RecordingWriter(path, on_problem=said.append, linger_s=0)
    disk = _FailingDisk(monkeypatch, w)
    w.publish(f.tmessage(b"before", seq=1))
    _wait_until(lambda: w.stats().records_written == 1)
    disk.full.set()
    w.publish(f.tmessage(b"lost", seq=2))
    _wait_until(lambda: w.stats().records_lost == 1)
    assert any("No space left" in s and "DROPPED" in s for s in said)
    disk.full.clear()
    _wait_until(lambda: not w.stats().failing)  # the idle retry writes the gap by itself
    w.publish(f.tmessage(b"after", seq=3))
    w.publish(f.tstop(seq=4))
    w.close()
    events, problems = _read_all(path)
    assert problems == []
    kinds = [(type(e).__name__, e.seq) for e in events]
    assert kinds == [("MessageSeen", 1), ("Gap", 0), ("MessageSeen", 3), ("CaptureStopped", 4)]
    gap = events[1]
    assert isinstance(gap, model.Gap) and (gap.first_seq, gap.last_seq) == (2, 2)
    assert "No space left" in gap.reason
    assert any("works again" in s for s in said)


def test_disk_full_on_dev_full_never_raises_to_the_caller() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is Linux-only")
    said: list[str] = []
    try:
        w = writer.RecordingWriter("/dev/full", on_problem=said.append)
    except writer.errors.RecordingWriteError as e:
        assert "No space left" in str(e)  # the header write already fails: a clear error at start
        return
    for seq in range(1, 50):
        w.publish(f.tmessage(b"x" * 1000, seq=seq))
    stats = w.close()
    assert stats.records_lost > 0


def _wait_until(condition: object, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_the_block_compressor_reaches_back_over_a_whole_earlier_poll() -> None:
    """A 1 MB answer repeated in one block costs almost nothing the second time: the window spans it."""
    body = os.urandom(1 << 20)
    one = writer.compressor(writer.DEFAULT_COMPRESSION_LEVEL).compress(body)
    two = writer.compressor(writer.DEFAULT_COMPRESSION_LEVEL).compress(body + b"x" * 77_000 + body)
    assert len(two) < len(one) + 20_000


@pytest.mark.parametrize("level", [1, 2, 3])
def test_every_level_gets_a_window_of_at_least_4_mib(level: int) -> None:
    frame = writer.compressor(level).compress(os.urandom(8 << 20))
    assert zstandard.get_frame_parameters(frame).window_size >= 4 << 20


def _stored_messages(path: str) -> list[tuple[int, int, int, int]]:
    """(block number, seq, stored raw length, same_as_seq) of each message record, read from the blocks."""
    from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
    from xdsspy.record import format as fmt

    with open(path, "rb") as file:
        data = file.read()
    prefix = len(fmt.FILE_MAGIC) + fmt.FILE_HEADER_PREFIX.size
    pos = prefix + fmt.FILE_HEADER_PREFIX.unpack_from(data, len(fmt.FILE_MAGIC))[0]
    out = []
    block_number = 0
    while pos < len(data):
        block = fmt.unpack_block_header(data[pos : pos + fmt.BLOCK_HEADER.size])
        pos += fmt.BLOCK_HEADER.size
        stored = data[pos : pos + block.stored_length]
        payload = zstandard.ZstdDecompressor().decompressobj().decompress(stored)
        pos += block.stored_length
        at = 0
        while at < len(payload):
            length, start = varint.decode(payload, at)
            try:
                record = pb.Record.FromString(payload[start : start + length])
            except Exception:
                record = pb.Record()  # not a record: not counted here
            at = start + length
            if record.WhichOneof("event") == "message":
                out.append((block_number, record.seq, len(record.message.raw), record.message.same_as_seq))
        block_number += 1
    return out


def test_a_body_repeated_in_a_block_is_stored_once_and_read_back_whole(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    answer = os.urandom(200_000)
    other = os.urandom(200_000)  # as long, other bytes
    w = writer.RecordingWriter(path, linger_s=0.5)  # one block: everything is published well within it
    w.publish(f.topen(seq=1))
    w.publish(f.tmessage(answer, direction=model.Direction.RESPONSE, seq=2))
    again = bytes(bytearray(answer))  # equal bytes, another object
    w.publish(f.tmessage(again, direction=model.Direction.RESPONSE, seq=3))
    w.publish(f.tmessage(other, direction=model.Direction.RESPONSE, seq=4))
    w.publish(f.tmessage(bytes(bytearray(answer)), connection=2, stream=7, seq=5))  # any stream or direction
    w.publish(f.tmessage(b"small" * 100, seq=6))
    w.publish(f.tmessage(b"small" * 100, seq=7))  # under writer.REPEAT_FROM: left to zstd
    w.close()
    stored = _stored_messages(path)
    assert [(seq, size, same_as) for _, seq, size, same_as in stored] == [
        (2, 200_000, 0),
        (3, 0, 2),
        (4, 200_000, 0),
        (5, 0, 2),
        (6, 500, 0),
        (7, 500, 0),
    ]
    assert os.path.getsize(path) < 450_000  # two incompressible bodies, not four
    events, problems = _read_all(path)
    assert problems == []
    raws = {e.seq: e.raw for e in events if isinstance(e, model.MessageSeen)}
    assert raws == {2: answer, 3: answer, 4: other, 5: answer, 6: b"small" * 100, 7: b"small" * 100}
    fifth = next(e for e in events if e.seq == 5)
    assert isinstance(fifth, model.MessageSeen)
    assert (fifth.connection, fifth.stream, fifth.direction) == (2, 7, model.Direction.REQUEST)


def test_a_repeat_never_refers_to_another_block(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "r.xdsspy")
    answers = [os.urandom(100_000) for _ in range(3)]
    w = writer.RecordingWriter(path, linger_s=0.5, max_block_bytes=250_000)  # three answers fill a block
    sent = [answers[(seq // 2) % 3] for seq in range(1, 22)]  # each answer twice running: B B C C A A ...
    for seq, answer in enumerate(sent, start=1):
        w.publish(f.tmessage(bytes(bytearray(answer)), seq=seq))
    w.close()
    stored = _stored_messages(path)
    block_of = {seq: block for block, seq, _, _ in stored}
    assert len(set(block_of.values())) >= 5  # a block is full once it holds 250 KB: repeats weigh little
    assert sum(1 for _, _, size, _ in stored if size == 0) >= 5
    for block, seq, size, same_as in stored:
        assert (size, same_as) == (100_000, 0) or (size == 0 and block_of[same_as] == block and same_as < seq)
    events, problems = _read_all(path)
    assert problems == [] and [e.raw for e in events] == sent  # type: ignore[union-attr]


def test_records_encoded_by_the_capture_process_are_stored_as_repeats_too(tmp_path: os.PathLike[str]) -> None:
    from xdsspy.record import codec

    path = os.path.join(tmp_path, "r.xdsspy")
    answer = os.urandom(50_000)
    w = writer.RecordingWriter(path, linger_s=0.5)
    for seq in (1, 2, 3):
        chunks = codec.encode(f.tmessage(bytes(bytearray(answer)), seq=seq))
        w.publish_encoded(writer.Encoded(seq=seq, chunks=[b"".join(chunks)]))
    garbage = varint.encode(50_000) + b"\xff" * 50_000
    w.publish_encoded(writer.Encoded(seq=4, chunks=[garbage]))  # not a record: written as it came
    w.close()
    assert [(seq, size, same_as) for _, seq, size, same_as in _stored_messages(path)[:3]] == [
        (1, 50_000, 0),
        (2, 0, 1),
        (3, 0, 1),
    ]
    events, problems = _read_all(path)
    assert [e.raw for e in events] == [answer] * 3  # type: ignore[union-attr]
    assert [p.kind for p in problems] == ["bad_record"]  # the garbage record: reported by the reader


def test_a_body_handed_over_as_a_view_is_recorded_and_found_again_as_a_repeat(
    tmp_path: os.PathLike[str],
) -> None:
    """A live capture may hand a body over as a view of the relay's read buffer (no copy)."""
    path = os.path.join(tmp_path, "r.xdsspy")
    answer = os.urandom(300_000)
    buffers = [bytearray(answer) + b"tail" for _ in range(3)]
    w = writer.RecordingWriter(path, linger_s=0.5)
    for seq, buffer in enumerate(buffers, start=1):
        w.publish(f.tmessage(memoryview(buffer)[:300_000], seq=seq))
    w.publish(f.tmessage(answer, seq=4))
    w.close()
    assert [(seq, size, same_as) for _, seq, size, same_as in _stored_messages(path)] == [
        (1, 300_000, 0),
        (2, 0, 1),
        (3, 0, 1),
        (4, 0, 1),
    ]
    events, problems = _read_all(path)
    assert problems == [] and [e.raw for e in events] == [answer] * 4  # type: ignore[union-attr]


def test_views_alike_at_both_ends_but_not_inside_are_two_bodies(tmp_path: os.PathLike[str]) -> None:
    """Views are first compared at their ends (a copy is needed to compare two views in full)."""
    path = os.path.join(tmp_path, "r.xdsspy")
    answer = bytearray(os.urandom(200_000))
    inside = bytearray(answer)
    inside[100_000] ^= 0xFF  # same first and last bytes
    start = bytearray(answer)
    start[0] ^= 0xFF
    w = writer.RecordingWriter(path, linger_s=0.5)
    for seq, body in enumerate([answer, inside, start, bytearray(answer)], start=1):
        w.publish(f.tmessage(memoryview(body), seq=seq))
    w.close()
    assert [(seq, size, same_as) for _, seq, size, same_as in _stored_messages(path)] == [
        (1, 200_000, 0),
        (2, 200_000, 0),
        (3, 200_000, 0),
        (4, 0, 1),
    ]
    events, problems = _read_all(path)
    assert problems == []
    assert [e.raw for e in events] == [answer, inside, start, answer]  # type: ignore[union-attr]


def test_a_view_that_differs_at_its_start_is_told_apart_without_a_copy() -> None:
    earlier = memoryview(bytearray(b"a" * 10_000))
    same, kept = writer._same_bytes(earlier, memoryview(bytearray(b"b" + b"a" * 9_999)))
    assert (same, kept) == (False, earlier) and kept is earlier
    same, kept = writer._same_bytes(earlier, memoryview(bytearray(b"a" * 10_000)))
    assert same and isinstance(kept, bytes) and kept == earlier  # copied once, kept as the candidate


def test_a_repeated_view_is_let_go_as_soon_as_it_is_compressed_not_when_its_block_is_written(
    tmp_path: os.PathLike[str],
) -> None:
    """The relay reuses a read buffer once nothing holds a view of it: the recorder must not keep
    views for a whole linger. The first copy of a body stays to find its repeats, as a view until a
    view has to be compared with it, then as bytes."""
    path = os.path.join(tmp_path, "r.xdsspy")
    answer = os.urandom(600_000)
    first, second = bytearray(answer), bytearray(answer)
    w = writer.RecordingWriter(path, linger_s=2.0)
    header_only = os.path.getsize(path)
    unheld = sys.getrefcount(second)
    w.publish(f.tmessage(memoryview(first), seq=1))
    w.publish(f.tmessage(memoryview(second), seq=2))
    deadline = time.monotonic() + 1.5
    while max(sys.getrefcount(first), sys.getrefcount(second)) > unheld and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sys.getrefcount(second) == unheld, "the repeat's buffer is still held"
    assert sys.getrefcount(first) == unheld, "the first copy's buffer is still held"
    assert os.path.getsize(path) == header_only, "the block is still open"
    w.close()
    assert [(seq, size, same_as) for _, seq, size, same_as in _stored_messages(path)] == [
        (1, 600_000, 0),
        (2, 0, 1),
    ]


def test_a_block_is_as_full_as_what_it_stores_so_repeats_share_one_block(tmp_path: os.PathLike[str]) -> None:
    """A REST control plane without 304 answers every poll the same: a linger's worth of polls is one
    block holding one copy, however many megabytes the polls were."""
    path = os.path.join(tmp_path, "r.xdsspy")
    answer = os.urandom(100_000)
    w = writer.RecordingWriter(path, linger_s=0.5, max_block_bytes=250_000)
    for seq in range(1, 41):
        w.publish(f.tmessage(bytes(bytearray(answer)), seq=seq))
    w.close()
    stored = _stored_messages(path)
    assert {block for block, _, _, _ in stored} == {0}
    assert [same_as for _, _, _, same_as in stored] == [0] + [1] * 39


def test_a_loss_whose_gap_could_not_be_written_is_merged_into_the_next_gap() -> None:
    unreported = writer.Loss()
    unreported.add(7, 100, "recorder buffer full (disk too slow)")
    unreported.add(9, 50, "recorder buffer full (disk too slow)")
    later = writer.Loss()
    later.add(12, 10, "write failed")
    later.merge(unreported)
    later.merge(writer.Loss())  # nothing lost: nothing changes
    gap = later.gap(1, 2)
    assert (gap.first_seq, gap.last_seq, gap.records_lost, gap.bytes_lost) == (7, 12, 3, 160)
    assert gap.reason == "write failed; recorder buffer full (disk too slow)"


@pytest.mark.parametrize("what", ["deleted", "moved"])
def test_a_recording_deleted_or_moved_while_open_is_said_once_and_writing_goes_on(
    tmp_path: os.PathLike[str], what: str
) -> None:
    """Issue 14, point 3: the file goes away under the writer; the warning names it and what to do."""
    path = os.path.join(tmp_path, "live.xdsspy")
    said: list[str] = []
    w = writer.RecordingWriter(path, on_problem=said.append, linger_s=0)
    w.publish(f.tmessage(b"before", seq=1))
    _wait_until(lambda: w.stats().records_written >= 1)
    moved = os.path.join(tmp_path, "moved.xdsspy")
    if what == "deleted":
        os.remove(path)
    else:
        os.rename(path, moved)
    for seq in range(2, 5):
        w.publish(f.tmessage(b"after", seq=seq))
        _wait_until(lambda seq=seq: w.stats().records_written >= seq)
        time.sleep(0.6)  # the writer looks at its path at most once a second
    stats = w.close()
    assert stats.records_written == 4 and stats.records_lost == 0
    warnings = [s for s in said if "while open" in s]
    assert len(warnings) == 1, said
    if what == "deleted":
        assert "DELETED" in warnings[0] and "/proc/" in warnings[0]
    else:
        assert "moved" in warnings[0]
        assert len(list(reader.iter_events(moved))) == 4


def _wait_until(condition: Callable[[], bool], limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_message_over_the_format_limit_becomes_a_gap(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 10_000)
    path = os.path.join(tmp_path, "r.xdsspy")
    w = writer.RecordingWriter(path, linger_s=0, on_problem=lambda text: None)
    for event in (f.tmessage(b"a", seq=1), f.tmessage(b"b" * 20_000, seq=2), f.tmessage(b"c", seq=3)):
        w.publish(event)
    assert w.close().records_lost == 1
    events, problems = _read_all(path)
    assert problems == [] and [e.seq for e in events if e.seq] == [1, 3]
    (gap,) = (e for e in events if isinstance(e, model.Gap))
    assert (gap.first_seq, gap.last_seq) == (2, 2)
    assert "more than a recording holds" in gap.reason
