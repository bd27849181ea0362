"""Reader for recording files: complete, growing (--follow), truncated or damaged.

Everything intact is returned. A torn last block (the writer was killed
mid-write, or is still writing) ends iteration cleanly and is reported as a
Problem with its byte offset; a damaged block in the middle is reported and
skipped by scanning for the next valid block header. Only a file that is not
a recording at all raises RecordingReadError. Every length in the file is
checked against `limits` and against the file's size before anything is
allocated for it, so a hostile file costs bounded memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import struct
import time
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from typing import BinaryIO

import zstandard
from google.protobuf import message as pb_message

from xdsspy import errors
from xdsspy import model
from xdsspy import varint
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import codec
from xdsspy.record import compat
from xdsspy.record import format as fmt
from xdsspy.record import limits

_SCAN_CHUNK = 1 << 20


class _MissingBody(ValueError):
    """A message stored as a repeat of bytes its block does not hold (a writer bug or a forged file)."""


class _Refused(ValueError):
    """A record that limits.record_problem says not to parse."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """Something in the file that could not be read; everything around it was."""

    offset: int
    kind: str
    """"truncated_tail", "corrupt_block", "bad_record", "unknown_record", "too_many_streams" or
    "too_many_problems"."""
    message: str

    def __str__(self) -> str:
        return f"byte {self.offset}: {self.message}"


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    format_version: int
    writer: str
    created_wall_ns: int
    created_monotonic_ns: int


class RecordingReader:
    """Iterate the events of one recording; see events()."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: BinaryIO = open(self.path, "rb")
        except OSError as e:
            raise errors.RecordingReadError(f"cannot open {self.path}: {e.strerror}") from e
        self.problems: list[Problem] = []
        self.block_offset = 0  # where the block of the event events() yielded last starts: see read_block
        self._methods = _Methods()
        self._unlisted = 0  # problems past limits.MAX_PROBLEMS, counted and not listed
        self._size = 0  # the file's size when last looked at
        self._decompressor = zstandard.ZstdDecompressor()
        try:
            self.header, self._offset = self._read_header()
            # An older format's records go through compat's converter chain; the current one's need not.
            self._old_version = (
                self.header.format_version if self.header.format_version < fmt.FORMAT_VERSION else 0
            )
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _read_header(self) -> tuple[Header, int]:
        prefix_len = len(fmt.FILE_MAGIC) + fmt.FILE_HEADER_PREFIX.size
        head = self._file.read(prefix_len)
        if not head:
            raise errors.RecordingReadError(f"{self.path} is empty: not an xdsspy recording")
        if not head.startswith(fmt.FILE_MAGIC[: len(head)]) or len(head) < len(fmt.FILE_MAGIC):
            raise errors.RecordingReadError(f"{self.path} is not an xdsspy recording (no file magic)")
        if len(head) < prefix_len:
            raise errors.RecordingReadError(f"{self.path}: recording header is truncated (file too short)")
        length, crc = fmt.FILE_HEADER_PREFIX.unpack(head[len(fmt.FILE_MAGIC) :])
        if length > limits.MAX_FILE_HEADER_BYTES:
            raise errors.RecordingReadError(f"{self.path}: recording header length {length} is implausible")
        body = self._file.read(length)
        if len(body) < length:
            raise errors.RecordingReadError(f"{self.path}: recording header is truncated (file too short)")
        if zlib.crc32(body) != crc:
            raise errors.RecordingReadError(f"{self.path}: recording header checksum mismatch (damaged file)")
        try:
            header = pb.FileHeader.FromString(body)
        except pb_message.DecodeError as e:
            raise errors.RecordingReadError(f"{self.path}: recording header does not parse") from e
        compat.check_version(header.format_version, self.path)
        return (
            Header(header.format_version, header.writer, header.created_wall_ns, header.created_monotonic_ns),
            prefix_len + length,
        )

    def events(
        self,
        *,
        follow: bool = False,
        poll_interval: float = 0.1,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[model.Event]:
        """Yield every intact event in file order.

        With follow=True, wait for the file to grow instead of ending at its
        current end; iteration ends after the CaptureStopped record, or when
        should_stop() returns true (checked every poll_interval).
        """
        while True:
            for event in self._read_available():
                yield event
                if follow and isinstance(event, model.CaptureStopped):
                    return
            if follow and should_stop is not None and should_stop():
                yield from self._read_available()  # what the writer added before it stopped
                follow = False
            if not follow:
                if self._skip_overlong_block():
                    continue
                self._report_tail()
                return
            time.sleep(poll_interval)

    def _report(self, problem: Problem) -> None:
        if len(self.problems) < limits.MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self._unlisted += 1

    def _report_tail(self) -> None:
        if self._unlisted:
            self.problems.append(
                Problem(
                    self._offset,
                    "too_many_problems",
                    f"{self._unlisted:,} more problems are not listed"
                    f" (only the first {limits.MAX_PROBLEMS:,} are)",
                )
            )
            self._unlisted = 0
        size = os.fstat(self._file.fileno()).st_size
        if size > self._offset:
            claim = ""
            with contextlib.suppress(fmt.BlockHeaderError, struct.error):
                block = fmt.unpack_block_header(
                    os.pread(self._file.fileno(), fmt.BLOCK_HEADER.size, self._offset)
                )
                claim = f", whose header claims {block.stored_length:,} bytes of payload"
            self.problems.append(
                Problem(
                    self._offset,
                    "truncated_tail",
                    f"the last {size - self._offset} bytes are an incomplete block{claim} "
                    "(the writer stopped mid-write or is still writing); everything before it was read",
                )
            )

    def _holds(self, end: int) -> bool:
        """Whether the file reaches byte `end`: checked before reading what a block header claims."""
        if end > self._size:
            self._size = os.fstat(self._file.fileno()).st_size
        return end <= self._size

    def _skip_overlong_block(self) -> bool:
        """At the end of a file that is not growing: skip a block that claims more bytes than the file
        holds when intact blocks follow it (a lying or damaged length, not a torn tail)."""
        head = os.pread(self._file.fileno(), fmt.BLOCK_HEADER.size, self._offset)
        if len(head) < fmt.BLOCK_HEADER.size:
            return False
        try:
            block = fmt.unpack_block_header(head)
        except fmt.BlockHeaderError:
            return False
        after_header = os.fstat(self._file.fileno()).st_size - self._offset - fmt.BLOCK_HEADER.size
        if block.stored_length <= after_header:
            return False  # it fits: what stopped the reading was not its length
        return self._resync(
            f"block claims {block.stored_length:,} bytes of payload, but the file ends {after_header:,} bytes"
            " after its header"
        )

    def _read_available(self) -> Iterator[model.Event]:
        """Read complete blocks from the current offset until the data runs out."""
        while True:
            self._file.seek(self._offset)
            head = self._file.read(fmt.BLOCK_HEADER.size)
            if len(head) < fmt.BLOCK_HEADER.size:
                return
            try:
                block = fmt.unpack_block_header(head)
            except fmt.BlockHeaderError as e:
                if not self._resync(f"damaged block header ({e})"):
                    return
                continue
            block_offset = self._offset
            end = block_offset + fmt.BLOCK_HEADER.size + block.stored_length
            if not self._holds(end):
                return  # incomplete: still being written, torn by a crash, or a lie (_skip_overlong_block)
            try:
                payload = self._file.read(block.stored_length)
            except MemoryError:
                self._offset = end
                self._report(Problem(block_offset, "corrupt_block", _no_memory(block.stored_length)))
                continue
            if len(payload) < block.stored_length:
                return  # the file shrank under us
            if zlib.crc32(payload) != block.payload_crc:
                if not self._resync("block payload checksum mismatch", skip=fmt.BLOCK_HEADER.size):
                    return
                continue
            self._offset = end
            try:
                data = fmt.decode_payload(block, payload, self._decompressor)
            except ValueError as e:
                self._report(Problem(block_offset, "corrupt_block", f"block does not decompress: {e}"))
                continue
            except MemoryError:
                self._report(Problem(block_offset, "corrupt_block", _no_memory(block.decoded_length)))
                continue
            del payload  # only the decoded bytes stay while the block's events are handed out
            self.block_offset = block_offset
            yield from self._records(data, block_offset, self._methods, self._report)

    def read_block(self, offset: int) -> list[model.Event]:
        """The events of the block at `offset` (a `block_offset` seen while iterating), read on their own.

        Random access, for a viewer that decodes only the message under its
        cursor: the iteration's position does not move, and it is safe from
        another thread than the one iterating. Messages of streams opened in an
        earlier block have no `method` here (the caller knows it from the index
        it built). Raises RecordingReadError if there is no intact block there.
        """
        fd = self._file.fileno()
        head = os.pread(fd, fmt.BLOCK_HEADER.size, offset)
        try:
            block = fmt.unpack_block_header(head)
        except (fmt.BlockHeaderError, struct.error) as e:
            raise errors.RecordingReadError(f"{self.path}: no block at byte {offset} ({e})") from e
        end = offset + fmt.BLOCK_HEADER.size + block.stored_length
        if end > os.fstat(fd).st_size:
            raise errors.RecordingReadError(f"{self.path}: the block at byte {offset} is not intact")
        try:
            payload = os.pread(fd, block.stored_length, offset + fmt.BLOCK_HEADER.size)
            if len(payload) < block.stored_length or zlib.crc32(payload) != block.payload_crc:
                raise errors.RecordingReadError(f"{self.path}: the block at byte {offset} is not intact")
            data = fmt.decode_payload(block, payload, zstandard.ZstdDecompressor())
        except ValueError as e:
            raise errors.RecordingReadError(f"{self.path}: the block at byte {offset}: {e}") from e
        except MemoryError as e:
            message = _no_memory(max(block.stored_length, block.decoded_length))
            raise errors.RecordingReadError(f"{self.path}: the block at byte {offset}: {message}") from e
        problems: list[Problem] = []
        return list(self._records(data, offset, _Methods(), problems.append))

    def _records(
        self, data: bytes, block_offset: int, methods: _Methods, report: Callable[[Problem], None]
    ) -> Iterator[model.Event]:
        """The events of one decoded block; `methods` tracks each stream's method across blocks.

        Past limits.MAX_PROBLEMS_PER_BLOCK unreadable records the rest of the block is skipped.
        """
        view = memoryview(data)
        pos = 0
        bodies: dict[int, bytes | memoryview] = {}  # the block's message bytes by seq, for repeats
        by_stream = methods.by_stream
        size = len(view)
        bad = 0
        while pos < size:
            if bad >= limits.MAX_PROBLEMS_PER_BLOCK:
                report(
                    Problem(
                        block_offset,
                        "corrupt_block",
                        f"{bad} unreadable records in this block: its last {size - pos:,} bytes are skipped",
                    )
                )
                return
            first = view[pos]
            if first < 0x80:  # a record under 128 bytes: its length is one byte
                length, start = first, pos + 1
            elif pos + 1 < size and view[pos + 1] < 0x80:  # under 16 KiB: two bytes (most messages)
                length, start = (first & 0x7F) | (view[pos + 1] << 7), pos + 2
            else:
                try:
                    length, start = varint.decode(view, pos)
                except ValueError as e:
                    report(Problem(block_offset, "bad_record", f"record framing broken: {e}"))
                    return
            end = start + length
            if end > size:
                report(
                    Problem(
                        block_offset,
                        "bad_record",
                        f"record of {length:,} bytes runs past its block ({size - start:,} bytes left)",
                    )
                )
                return
            pos = end
            try:
                if length >= limits.PARSE_DIRECTLY_BELOW:
                    refused = limits.record_problem(view[start:end])
                    if refused:
                        raise _Refused(refused)
                record = pb.Record.FromString(view[start:end])  # type: ignore[arg-type]  # upb takes buffers
                if self._old_version:
                    record = compat.migrate(record, self._old_version)
                event = codec.decode(record, by_stream.get(record.stream, ""))
                kind = type(event)
                if kind is model.MessageSeen:
                    event = self._with_body(event, record.message.same_as_seq, bodies)  # type: ignore[arg-type]
                elif isinstance(event, model.StreamOpened):
                    if methods.opened(event.stream, event.method):
                        report(Problem(block_offset, "too_many_streams", methods.FORGETTING))
                elif kind is model.StreamClosed:
                    by_stream.pop(event.stream, None)
            except codec.UnknownRecordError as e:
                bad += 1
                report(Problem(block_offset, "unknown_record", str(e)))
                continue
            except (_MissingBody, _Refused) as e:
                bad += 1
                report(Problem(block_offset, "bad_record", str(e)))
                continue
            except (pb_message.DecodeError, ValueError) as e:
                bad += 1
                report(Problem(block_offset, "bad_record", f"record does not parse: {e}"))
                continue
            yield event

    @staticmethod
    def _with_body(
        event: model.MessageSeen, same_as: int, bodies: dict[int, bytes | memoryview]
    ) -> model.MessageSeen:
        """A message stored as a repeat gets the bytes it repeats; _MissingBody if its block lacks them."""
        if not same_as:
            bodies[event.seq] = event.raw
            return event
        raw = bodies.get(same_as)
        if raw is None:
            raise _MissingBody(
                f"message seq {event.seq} repeats the bytes of seq {same_as}, which is not an earlier"
                " message of its block; the message is skipped"
            )
        bodies[event.seq] = raw
        return dataclasses.replace(event, raw=raw)

    def _resync(self, why: str, *, skip: int = 1) -> bool:
        """Skip damaged bytes up to the next valid block header; False if none is there yet."""
        start = self._offset
        search_from = start + skip
        while True:
            self._file.seek(search_from)
            window = self._file.read(_SCAN_CHUNK + fmt.BLOCK_HEADER.size)
            if len(window) < fmt.BLOCK_HEADER.size:
                return False
            index = window.find(fmt.BLOCK_MAGIC)
            while 0 <= index <= len(window) - fmt.BLOCK_HEADER.size:
                try:
                    fmt.unpack_block_header(window[index : index + fmt.BLOCK_HEADER.size])
                except fmt.BlockHeaderError:
                    index = window.find(fmt.BLOCK_MAGIC, index + 1)
                    continue
                found = search_from + index
                self._report(
                    Problem(start, "corrupt_block", f"{why}; skipped {found - start:,} damaged bytes")
                )
                self._offset = found
                return True
            if len(window) < _SCAN_CHUNK + fmt.BLOCK_HEADER.size:
                return False
            search_from += _SCAN_CHUNK


class _Methods:
    """Each open stream's method, which the stream's later records do not repeat; bounded in size."""

    FORGETTING = (
        f"more than {limits.MAX_OPEN_STREAMS:,} streams are open at once: the oldest are forgotten, and"
        " their later messages are read without their method"
    )

    def __init__(self) -> None:
        self.by_stream: dict[int, str] = {}
        self._names: dict[str, str] = {}  # one string per distinct method, shared by its streams
        self._forgot = False

    def opened(self, stream: int, method: str) -> bool:
        """Remember a stream's method; True the first time an old stream had to be forgotten for it."""
        name = self._names.get(method)
        if name is None:
            name = method
            if len(self._names) < limits.MAX_METHOD_NAMES:
                self._names[method] = method
        first_forget = False
        if stream not in self.by_stream and len(self.by_stream) >= limits.MAX_OPEN_STREAMS:
            del self.by_stream[next(iter(self.by_stream))]
            first_forget, self._forgot = not self._forgot, True
        self.by_stream[stream] = name
        return first_forget


def _no_memory(size: int) -> str:
    return f"block needs {size:,} bytes to read, more memory than this process may use; skipped"


def iter_events(path: str | os.PathLike[str], *, follow: bool = False) -> Iterator[model.Event]:
    """Yield the events of the recording at path (the public, one-call API)."""
    with RecordingReader(path) as reader:
        yield from reader.events(follow=follow)
