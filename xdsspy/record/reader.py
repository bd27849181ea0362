"""Reader for recording files: complete, growing (--follow), truncated or damaged.

Everything intact is returned. A torn last block (the writer was killed
mid-write, or is still writing) ends iteration cleanly and is reported as a
Problem with its byte offset; a damaged block in the middle is reported and
skipped by scanning for the next valid block header. Only a file that is not
a recording at all raises RecordingReadError.
"""

from __future__ import annotations

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

_SCAN_CHUNK = 1 << 20


class _MissingBody(ValueError):
    """A message stored as a repeat of bytes its block does not hold (a writer bug or a forged file)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """Something in the file that could not be read; everything around it was."""

    offset: int
    kind: str  # "truncated_tail", "corrupt_block", "bad_record", "unknown_record"
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
        self._methods: dict[int, str] = {}
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
        if length > fmt.MAX_FILE_HEADER_BYTES:
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
                self._report_tail()
                return
            time.sleep(poll_interval)

    def _report_tail(self) -> None:
        size = os.fstat(self._file.fileno()).st_size
        if size > self._offset:
            self.problems.append(
                Problem(
                    self._offset,
                    "truncated_tail",
                    f"the last {size - self._offset} bytes are an incomplete block "
                    "(the writer stopped mid-write or is still writing); everything before it was read",
                )
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
            payload = self._file.read(block.stored_length)
            if len(payload) < block.stored_length:
                return  # incomplete: still being written, or torn by a crash
            block_offset = self._offset
            if zlib.crc32(payload) != block.payload_crc:
                if not self._resync("block payload checksum mismatch", skip=fmt.BLOCK_HEADER.size):
                    return
                continue
            self._offset = block_offset + fmt.BLOCK_HEADER.size + block.stored_length
            try:
                data = self._decode_payload(block, payload)
            except (zstandard.ZstdError, ValueError) as e:
                self.problems.append(
                    Problem(block_offset, "corrupt_block", f"block does not decompress: {e}")
                )
                continue
            self.block_offset = block_offset
            yield from self._records(data, block_offset, self._methods, self.problems)

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
        payload = os.pread(fd, block.stored_length, offset + fmt.BLOCK_HEADER.size)
        if len(payload) < block.stored_length or zlib.crc32(payload) != block.payload_crc:
            raise errors.RecordingReadError(f"{self.path}: the block at byte {offset} is not intact")
        try:
            data = self._decode_payload(block, payload, zstandard.ZstdDecompressor())
        except (zstandard.ZstdError, ValueError) as e:
            raise errors.RecordingReadError(f"{self.path}: the block at byte {offset}: {e}") from e
        problems: list[Problem] = []
        return list(self._records(data, offset, {}, problems))

    def _decode_payload(
        self,
        block: fmt.BlockHeader,
        payload: bytes,
        decompressor: zstandard.ZstdDecompressor | None = None,
    ) -> bytes:
        if block.codec == fmt.Codec.NONE:
            return payload
        data = (decompressor or self._decompressor).decompressobj().decompress(payload)
        if len(data) != block.decoded_length:
            raise ValueError(f"decoded {len(data)} bytes, header says {block.decoded_length}")
        return data

    def _records(
        self, data: bytes, block_offset: int, methods: dict[int, str], problems: list[Problem]
    ) -> Iterator[model.Event]:
        """The events of one decoded block; `methods` tracks each stream's method across blocks."""
        view = memoryview(data)
        pos = 0
        bodies: dict[int, bytes | memoryview] = {}  # the block's message bytes by seq, for repeats
        size = len(view)
        while pos < size:
            first = view[pos]
            if first < 0x80:  # a record under 128 bytes: its length is one byte
                length, start = first, pos + 1
            elif pos + 1 < size and view[pos + 1] < 0x80:  # under 16 KiB: two bytes (most messages)
                length, start = (first & 0x7F) | (view[pos + 1] << 7), pos + 2
            else:
                try:
                    length, start = varint.decode(view, pos)
                except ValueError as e:
                    problems.append(Problem(block_offset, "bad_record", f"record framing broken: {e}"))
                    return
            end = start + length
            if end > size:
                problems.append(Problem(block_offset, "bad_record", "record runs past its block"))
                return
            pos = end
            try:
                record = pb.Record.FromString(view[start:end])  # type: ignore[arg-type]  # upb takes buffers
                if self._old_version:
                    record = compat.migrate(record, self._old_version)
                event = codec.decode(record, methods.get(record.stream, ""))
                kind = type(event)
                if kind is model.MessageSeen:
                    event = self._with_body(event, record.message.same_as_seq, bodies)  # type: ignore[arg-type]
                elif kind is model.StreamOpened or kind is model.StreamClosed:
                    _with_method(event, methods)
            except codec.UnknownRecordError as e:
                problems.append(Problem(block_offset, "unknown_record", str(e)))
                continue
            except _MissingBody as e:
                problems.append(Problem(block_offset, "bad_record", str(e)))
                continue
            except (pb_message.DecodeError, ValueError) as e:
                problems.append(Problem(block_offset, "bad_record", f"record does not parse: {e}"))
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
                self.problems.append(
                    Problem(start, "corrupt_block", f"{why}; skipped {found - start} damaged bytes")
                )
                self._offset = found
                return True
            if len(window) < _SCAN_CHUNK + fmt.BLOCK_HEADER.size:
                return False
            search_from += _SCAN_CHUNK


def _with_method(event: model.Event, methods: dict[int, str]) -> model.Event:
    """Track each stream's method (codec.decode filled it into the stream's later events)."""
    if isinstance(event, model.StreamOpened):
        methods[event.stream] = event.method
    elif isinstance(event, model.StreamClosed):
        methods.pop(event.stream, None)
    return event


def iter_events(path: str | os.PathLike[str], *, follow: bool = False) -> Iterator[model.Event]:
    """Yield the events of the recording at path (the public, one-call API)."""
    with RecordingReader(path) as reader:
        yield from reader.events(follow=follow)
