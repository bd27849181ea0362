"""Append-only writer for recording files, fed from the forwarding loop without ever blocking it.

publish() only appends to a deque; a writer thread builds one block per
linger (20 ms, or until it holds 16 MB), taking what is queued every 2 ms
into the block's compressor and writing the block whole at the end. Small
records are gathered before compressing, because a few large GIL-releasing
calls cost the forwarding thread far less than many small ones
(docs/performance.md); large ones are compressed as they come, so that the
relay's read buffers they are views of are let go at once. If the disk fails or the
bounded buffer fills, events are dropped and counted, never waited for, and a
Gap record says what is missing as soon as (and wherever) writing works again.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import stat
import sys
import threading
import time
import zlib
from collections.abc import Callable

import zstandard

from xdsspy import errors
from xdsspy import model
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import codec
from xdsspy.record import format as fmt
from xdsspy.record import limits

_COALESCE_BELOW = 1 << 20
"""Blocks smaller than this are written together with their header in one call."""

_COMPRESS_ALONE_FROM = 256 << 10
"""Chunks smaller than this are joined (up to _COALESCE_BELOW) before compression; larger ones go in
one call each, read in place (a copy of a 1 MB poll costs a quarter of compressing it).

Each GIL-releasing call costs a GIL hand-back that waits on the busy
forwarding thread, so a few large calls beat many small ones by far."""

_FEED_INTERVAL_S = 0.002
"""How often the writer thread takes what is queued into the block it is building: often enough that
a record's bytes are let go soon, seldom enough that waking costs nothing."""

REPEAT_FROM = 4096
"""Message bodies at least this big are compared with the earlier ones of their block, and a byte-for-byte
repeat is stored as a reference to the first (Message.same_as_seq). A REST control plane without 304
answers every poll with the same body, and Envoy re-polls a rejected version with it again; comparing
(memcmp) costs a tenth of compressing even a repeat, which zstd would otherwise have to find."""
_REPEAT_CANDIDATES = 8
"""Distinct bodies of one length kept per block to compare with: bounds the work a block can cause."""

RETRY_INTERVAL_S = 1.0

DEFAULT_COMPRESSION_LEVEL = 2
MIN_WINDOW_LOG = 22
"""zstd level 2 with a window of at least 4 MiB, measured against level 3 (its own 1-2 MiB window) on a
10k-cluster CDS push, 100 KB pushes, 10 MB pushes and 1 MB REST polls: 15-30% less CPU in every case
and a ratio as good or better, because a poll or push that repeats an earlier one in the same block is
still within reach (docs/performance.md)."""


def compressor(level: int) -> zstandard.ZstdCompressor:
    """The block compressor for a level: the level's parameters, with the window widened to 4 MiB."""
    window_log = max(MIN_WINDOW_LOG, zstandard.ZstdCompressionParameters.from_level(level).window_log)
    params = zstandard.ZstdCompressionParameters.from_level(level, window_log=window_log)
    return zstandard.ZstdCompressor(compression_params=params)


@dataclasses.dataclass(slots=True)
class Loss:
    """Records dropped and not yet reported: what the next Gap record will say."""

    first_seq: int = 0
    last_seq: int = 0
    records: int = 0
    bytes: int = 0
    reasons: list[str] = dataclasses.field(default_factory=list)

    def add(self, seq: int, size: int, reason: str) -> None:
        self._span(seq)
        self.records += 1
        self.bytes += size
        if reason not in self.reasons:
            self.reasons.append(reason)

    def merge(self, other: Loss) -> None:
        """Take in another loss not yet reported (a gap whose block could not be written)."""
        self._span(other.first_seq)
        self._span(other.last_seq)
        self.records += other.records
        self.bytes += other.bytes
        self.reasons += [r for r in other.reasons if r not in self.reasons]

    def _span(self, seq: int) -> None:
        if seq:
            self.first_seq = seq if not self.first_seq else min(self.first_seq, seq)
            self.last_seq = max(self.last_seq, seq)

    def gap(self, wall_ns: int, monotonic_ns: int) -> model.Gap:
        return model.Gap(
            seq=0,
            wall_ns=wall_ns,
            monotonic_ns=monotonic_ns,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            records_lost=self.records,
            bytes_lost=self.bytes,
            reason="; ".join(self.reasons),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Encoded:
    """A record already encoded by codec.encode (by the capture process, for the recorder process)."""

    seq: int
    chunks: list[codec.Chunk]
    stop: bool = False  # a CaptureStopped record: its counts are filled in when written

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


Item = model.Event | Encoded


class _Repeats:
    """Message bodies already in the block being built, found again by length, then by their bytes."""

    def __init__(self) -> None:
        self._by_length: dict[int, list[tuple[int, codec.Chunk]]] = {}

    def earlier(self, event: model.MessageSeen) -> int:
        """The seq of an earlier message of the block with exactly these bytes, or 0."""
        raw = event.raw
        if len(raw) < REPEAT_FROM:
            return 0
        candidates = self._by_length.get(len(raw), [])
        for index, (seq, earlier) in enumerate(candidates):
            same, kept = _same_bytes(earlier, raw)
            candidates[index] = (seq, kept)
            if same:
                return seq
        return 0

    def remember(self, event: model.MessageSeen) -> None:
        raw = event.raw
        if len(raw) >= REPEAT_FROM and event.seq:
            candidates = self._by_length.setdefault(len(raw), [])
            if len(candidates) < _REPEAT_CANDIDATES:
                candidates.append((event.seq, raw))  # the block holds the message anyway: no copy


_EDGE = 64


def _same_bytes(earlier: codec.Chunk, raw: codec.Chunk) -> tuple[bool, codec.Chunk]:
    """Whether two bodies of one length hold the same bytes, and `earlier` as bytes if it had to be
    copied to tell (to keep as the candidate, so it is copied once).

    One memcmp (bytes.startswith, which takes any buffer to compare with; bytes == memoryview would
    compare item by item, fifty times slower). Only a view compared with a view needs a copy, and
    only once their first and last bytes agree: a new version of a body differs in its version
    field, near the start, so a copy is made for likely repeats only.
    """
    if isinstance(earlier, bytes):
        return earlier.startswith(raw), earlier
    if isinstance(raw, bytes):
        return raw.startswith(earlier), earlier
    if bytes(earlier[:_EDGE]) != bytes(raw[:_EDGE]) or bytes(earlier[-_EDGE:]) != bytes(raw[-_EDGE:]):
        return False, earlier
    copied = bytes(earlier)
    return copied.startswith(raw), copied


class _Block:
    """A block being built: records go into its compressor as they come."""

    def __init__(self, compressor: zstandard.ZstdCompressor) -> None:
        self._compressing = compressor.compressobj()
        self._out: list[bytes] = []
        self._small = bytearray()
        self.decoded_length = 0
        self.records: list[tuple[int, int]] = []  # (seq, size) of each record, should it be lost
        self.repeats = _Repeats()  # references never leave their block: each block reads on its own
        self.lost = Loss()  # what this block's gap record reports

    def add(self, chunks: list[codec.Chunk]) -> None:
        """Compress one record's chunks; small ones are gathered first (each compress call releases
        and takes back the GIL, which waits on the busy forwarding thread)."""
        for chunk in chunks:
            self.decoded_length += len(chunk)
            if len(chunk) < _COMPRESS_ALONE_FROM:
                self._small += chunk
                if len(self._small) >= _COALESCE_BELOW:
                    self._compress_small()
                continue
            self._compress_small()
            self._out.append(self._compressing.compress(chunk))  # read in place, then let go

    def finish(self) -> bytes:
        self._compress_small()
        self._out.append(self._compressing.flush())
        return b"".join(self._out)

    def _compress_small(self) -> None:
        if self._small:
            self._out.append(self._compressing.compress(self._small))  # zstd copies: reusable at once
            self._small.clear()


@dataclasses.dataclass(frozen=True, slots=True)
class WriterStats:
    records_written: int
    records_lost: int
    bytes_lost: int
    blocks_written: int
    bytes_on_disk: int
    failing: bool

    def summary(self, path: str) -> str:
        lost = f", {self.records_lost} LOST" if self.records_lost else ""
        return f"recorded {self.records_written} records ({self.bytes_on_disk} bytes){lost} in {path}"


def _event_size(event: model.Event) -> int:
    if isinstance(event, model.MessageSeen):
        return len(event.raw) + 64
    return 256


def _default_problem(text: str) -> None:
    print(f"xdsspy: RECORDING PROBLEM: {text}", file=sys.stderr, flush=True)


class RecordingWriter:
    """Writes events to a new recording file (mode 0600) from a background thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        linger_s: float = 0.02,
        max_block_bytes: int = limits.BLOCK_TARGET_BYTES,
        max_pending_bytes: int = 1 << 30,
        on_problem: Callable[[str], None] = _default_problem,
        clock: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._level = compression_level
        self._linger_s = linger_s
        self._max_block_bytes = max_block_bytes
        self._max_pending_bytes = max_pending_bytes
        self._on_problem = on_problem
        self._clock = clock or (lambda: (time.time_ns(), time.monotonic_ns()))
        self._queue: collections.deque[tuple[Item, int]] = collections.deque()
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._pending_bytes = 0
        self._closing = False
        self._loss = Loss()  # dropped and not yet reported in a Gap record
        self._records_written = 0
        self._records_lost_total = 0
        self._bytes_lost_total = 0
        self._blocks_written = 0
        self._failing = False
        self._next_retry = 0.0
        self._path_warned = False
        self._next_path_check = 0.0
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise errors.RecordingWriteError(f"cannot create recording {self.path}: {e.strerror}") from e
        try:
            if stat.S_ISREG(os.fstat(self._fd).st_mode):
                os.fchmod(self._fd, 0o600)  # O_TRUNC of an existing file keeps its old mode
            self._offset = 0
            self._write_file_header()
        except OSError as e:
            os.close(self._fd)
            raise errors.RecordingWriteError(f"cannot write recording {self.path}: {e.strerror}") from e
        self._compressor = compressor(compression_level)
        self._thread = threading.Thread(target=self._run, name="xdsspy-recorder", daemon=True)
        self._thread.start()

    # -- called from the forwarding loop -------------------------------------------------

    def publish(self, event: model.Event) -> None:
        """Queue event for writing. Never blocks and never raises; drops and counts when full."""
        self._enqueue(event, _event_size(event))

    def publish_encoded(self, item: Encoded) -> None:
        """Queue a record that was encoded elsewhere; same guarantees as publish()."""
        self._enqueue(item, item.size)

    def _enqueue(self, item: Item, size: int) -> None:
        with self._lock:
            if self._closing:
                return
            if self._pending_bytes + size > self._max_pending_bytes:
                self._loss.add(item.seq, size, "recorder buffer full (disk too slow)")
                self._records_lost_total += 1
                self._bytes_lost_total += size
                return
            self._pending_bytes += size
            self._queue.append((item, size))
        if not self._wakeup.is_set():
            self._wakeup.set()

    def close(self, timeout: float | None = 30.0) -> WriterStats:
        """Write everything queued, a final Gap if anything was lost, and close the file."""
        with self._lock:
            self._closing = True
        self._wakeup.set()
        self._thread.join(timeout)
        return self.stats()

    def stats(self) -> WriterStats:
        return WriterStats(
            records_written=self._records_written,
            records_lost=self._records_lost_total,
            bytes_lost=self._bytes_lost_total,
            blocks_written=self._blocks_written,
            bytes_on_disk=self._offset,
            failing=self._failing,
        )

    # -- writer thread -----------------------------------------------------------------------

    def _write_file_header(self) -> None:
        wall, mono = self._clock()
        header = pb.FileHeader(
            format_version=fmt.FORMAT_VERSION,
            writer=f"xdsspy {_version()}",
            created_wall_ns=wall,
            created_monotonic_ns=mono,
        ).SerializeToString()
        data = fmt.FILE_MAGIC + fmt.FILE_HEADER_PREFIX.pack(len(header), zlib.crc32(header)) + header
        self._write_all(data)

    def _run(self) -> None:
        try:
            while True:
                self._wakeup.wait(timeout=0.5)
                self._wakeup.clear()
                if not self._queue and not self._closing:
                    if self._loss.records and time.monotonic() >= self._next_retry:
                        self._write_block(self._open_block())  # report the gap once writing works again
                    continue
                if self._queue:
                    self._build_block()
                    if self._queue:
                        self._wakeup.set()  # the block filled up before its linger ended
                if self._closing and not self._queue:
                    if self._loss.records:
                        self._write_block(self._open_block())
                    break
        except BaseException as e:  # the thread must say why it died, loudly
            self._on_problem(f"recorder thread crashed: {e!r}; nothing more will be recorded")
            raise
        finally:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)

    def _build_block(self) -> None:
        """Compress what is queued into one block as it comes, for one linger, then write the block.

        Each record goes into the compressor as soon as it is taken from the
        queue (zstd copies it in), so its bytes, often a view of one of the
        relay's read buffers, are let go at once rather than at the end of
        the linger: fewer buffers in use, and the relay reads into ones still
        in the cache. Only the first copy of a body stays, to find repeats.
        """
        if self._failing and not self._closing and time.monotonic() < self._next_retry:
            # Do not spend CPU compressing for a disk that just failed; retry after a pause.
            self._drop_queued(self._failure_reason)
            return
        block = self._open_block()
        deadline = time.monotonic() + self._linger_s
        while True:
            self._feed(block)
            if block.decoded_length >= self._max_block_bytes or (self._closing and not self._queue):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                break
            time.sleep(min(remaining, _FEED_INTERVAL_S))
        self._write_block(block)

    def _open_block(self) -> _Block:
        block = _Block(self._compressor)
        with self._lock:
            loss, self._loss = self._loss, Loss()
        if loss.records:
            # The gap goes first so that it sits right where the missing records would have been.
            block.lost = loss
            block.add(codec.encode(loss.gap(*self._clock())))
        return block

    def _feed(self, block: _Block) -> None:
        while self._queue and block.decoded_length < self._max_block_bytes:
            item, item_size = self._queue.popleft()
            with self._lock:
                self._pending_bytes -= item_size
            try:
                chunks = self._encode(item, len(block.records), block.repeats)
            except Exception as e:  # a bug in encoding must cost one record, not the recording
                self._lose(item.seq, item_size, f"could not encode: {e!r}")
                continue
            block.add(chunks)
            block.records.append((item.seq, item_size))

    def _drop_queued(self, reason: str) -> None:
        while self._queue:
            item, item_size = self._queue.popleft()
            with self._lock:
                self._pending_bytes -= item_size
            self._lose(item.seq, item_size, reason)

    def _encode(self, item: Item, written_before: int, repeats: _Repeats) -> list[codec.Chunk]:
        if isinstance(item, Encoded) and (item.stop or item.size >= REPEAT_FROM):
            # Encoded by the capture process: the stop record gets its counts here, and a large
            # record may be a message to store as a repeat.
            try:
                decoded = codec.decode_delimited(b"".join(item.chunks))
            except Exception:
                if item.stop:
                    raise
                decoded = None  # not ours to judge: written as it came
            if item.stop or isinstance(decoded, model.MessageSeen):
                assert decoded is not None
                item = decoded
        if isinstance(item, model.MessageSeen):
            same_as = repeats.earlier(item)
            if same_as:
                return codec.encode_repeat(item, same_as)
            chunks = codec.encode(item)
            repeats.remember(item)
            return chunks
        if isinstance(item, model.CaptureStopped):
            item = dataclasses.replace(
                item,
                records_written=self._records_written + written_before + 1,
                records_lost=self._records_lost_total,
            )
        if isinstance(item, Encoded):
            return item.chunks
        return codec.encode(item)

    _failure_reason = "write failed"

    def _write_block(self, block: _Block) -> None:
        if not block.decoded_length:
            return
        payload = block.finish()
        header = fmt.BlockHeader(
            fmt.Codec.ZSTD, len(payload), block.decoded_length, zlib.crc32(payload)
        ).pack()
        start = self._offset
        try:
            self._write_all(header + payload if len(payload) < _COALESCE_BELOW else header)
            if len(payload) >= _COALESCE_BELOW:
                self._write_all(payload)
        except OSError as e:
            self._rollback(start)
            self._failure_reason = f"write to {self.path} failed: {e.strerror or e}"
            if not self._failing:
                self._on_problem(
                    f"{self._failure_reason}; Envoy's streams keep flowing but records are being "
                    "DROPPED until writing works again (a Gap record will say what is missing)"
                )
            self._failing = True
            self._next_retry = time.monotonic() + RETRY_INTERVAL_S
            with self._lock:
                self._loss.merge(block.lost)  # still unreported: the next gap says it too
            for seq, size in block.records:
                self._lose(seq, size, self._failure_reason)
            return
        if self._failing:
            self._on_problem(f"writing to {self.path} works again; recording resumed")
        self._failing = False
        self._blocks_written += 1
        self._check_path()
        self._records_written += len(block.records)

    def _check_path(self) -> None:
        """Say once, loudly, if the recording was deleted or moved while open (checked at most every second).

        Writing goes on into the open file either way: a moved one keeps growing under its new name; a
        deleted one is still reachable through /proc until xdsspy stops, and is lost then."""
        now = time.monotonic()
        if self._path_warned or now < self._next_path_check:
            return
        self._next_path_check = now + 1.0
        try:
            mine = os.fstat(self._fd)
        except OSError:
            return
        if not stat.S_ISREG(mine.st_mode):
            return
        try:
            there = os.stat(self.path)
            same = (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)
        except OSError:
            same = False
        if same:
            return
        self._path_warned = True
        if mine.st_nlink == 0:
            self._on_problem(
                f"the recording {self.path} was DELETED while open: records still go to the deleted file, "
                f"which is lost when xdsspy stops; save it now with: cp /proc/{os.getpid()}/fd/{self._fd} "
                f"{self.path}"
            )
        else:
            self._on_problem(
                f"the recording {self.path} was moved or replaced while open: records still go to the same "
                "file under its new name"
            )

    def _lose(self, seq: int, size: int, reason: str) -> None:
        with self._lock:
            self._loss.add(seq, size, reason)
            self._records_lost_total += 1
            self._bytes_lost_total += size

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self._offset += n

    def _rollback(self, offset: int) -> None:
        """Cut a torn block off the end so the file stays a clean sequence of blocks."""
        try:
            if self._offset != offset:
                os.ftruncate(self._fd, offset)
                os.lseek(self._fd, offset, os.SEEK_SET)
            self._offset = offset
        except OSError:
            # A file we cannot truncate (a pipe, a device) keeps the torn bytes; readers skip them.
            pass


def _version() -> str:
    from xdsspy import __version__

    return __version__
