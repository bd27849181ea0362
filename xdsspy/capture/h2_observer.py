"""HTTP/2 read from the side of the wire: frames of both directions, header blocks decoded, nothing answered.

The relay forwards a connection's bytes untouched; this module only watches
them. It splits each direction into frames, decodes header blocks with
HPACK (one decoder per direction, since each side compresses its own
headers) and tells a listener about headers, DATA payloads, stream ends,
resets and GOAWAYs. DATA payloads are handed on as slices of the chunks the
socket gave, so watching a 100 MB push costs no copy here.

Anything that is not HTTP/2 raises Malformed; the caller stops watching that
connection and forwarding goes on (the peers will judge the bytes).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from typing import Protocol

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA = 0x0
HEADERS = 0x1
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
GOAWAY = 0x7
CONTINUATION = 0x9

FLAG_END_STREAM = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

_FRAME_HEADER = struct.Struct(">BHBBL")  # length (24 bits as 8 + 16), type, flags, stream id
_FRAME_HEADER_SIZE = 9
_RST_AND_GOAWAY = struct.Struct(">L")
_LENIENT_LIMIT = 16 << 20
"""HPACK table and header list sizes the observer accepts: it must read whatever the peers agreed on
(their defaults are 4-64 KB), but not hold a gigabyte for a peer that asks for one."""
MAX_HEADER_BLOCK = 16 << 20
"""Headers and CONTINUATIONs of one block, kept until the block ends: past this, no peer would accept it
either, and the observer stops rather than hold an endless block."""
_HPACK_PIECE = 4096
"""Bytes of a header block handed to hpack at a time (see _pieces)."""
_HPACK_INTEGER_BYTES = 5
"""Continuation bytes of an HPACK integer, as hpack allows them (enough for 32 bits)."""


class Side(enum.StrEnum):
    """Who sent the bytes: Envoy (the client) or the control plane (the server)."""

    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"

    @property
    def other(self) -> Side:
        return Side.UPSTREAM if self is Side.DOWNSTREAM else Side.DOWNSTREAM


Headers = list[tuple[bytes, bytes]]


class Malformed(Exception):
    """The bytes are not HTTP/2 (or not any more)."""


class Listener(Protocol):
    """What the observer reports; called in wire order for each direction."""

    def on_headers(self, side: Side, stream_id: int, headers: Headers, end_stream: bool) -> None: ...

    def on_data(self, side: Side, stream_id: int, piece: memoryview) -> None: ...

    def on_end_stream(self, side: Side, stream_id: int) -> None: ...

    def on_reset(self, side: Side, stream_id: int, error_code: int) -> None: ...

    def on_goaway(self, side: Side, last_stream_id: int, error_code: int, debug: bytes) -> None: ...


class DirectionObserver:
    """Frames of one direction of one connection."""

    def __init__(self, side: Side, listener: Listener) -> None:
        self.side = side
        self._listener = listener
        self._need_preface = side is Side.DOWNSTREAM
        self._need_settings = side is Side.UPSTREAM  # a server's preface is a SETTINGS frame
        self._decoder = hpack.Decoder(max_header_list_size=_LENIENT_LIMIT)
        self._decoder.max_allowed_table_size = _LENIENT_LIMIT
        self._carry = b""  # an incomplete frame header (or preface) from the previous chunk
        # The frame being read: its type, flags and stream, and payload bytes still to come.
        self._type = -1
        self._flags = 0
        self._stream = 0
        self._remaining = 0
        self._payload: list[memoryview] = []  # for frames read whole (all but unpadded DATA)
        self._streaming = False  # unpadded DATA: pieces go straight to the listener
        # A header block that continues in CONTINUATION frames.
        self._block: list[bytes] = []
        self._block_stream = 0
        self._block_end_stream = False
        self._block_size = 0

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        pos = 0
        end = len(view)
        if self._need_preface:
            data = self._carry + data
            self._carry = b""
            if len(data) < len(PREFACE):
                if data != PREFACE[: len(data)]:
                    raise Malformed("the client did not start with the HTTP/2 connection preface")
                self._carry = data
                return
            if not data.startswith(PREFACE):
                raise Malformed("the client did not start with the HTTP/2 connection preface")
            self._need_preface = False
            view = memoryview(data)
            pos, end = len(PREFACE), len(data)
        elif self._carry:
            # Complete a frame header split across chunks without copying the rest of the chunk.
            need = _FRAME_HEADER_SIZE - len(self._carry)
            if end < need:
                self._carry += data
                return
            header = self._carry + bytes(view[:need])
            self._carry = b""
            pos = need
            self._start_frame(header, 0)
        while pos < end:
            if self._remaining:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                pos += take
                self._remaining -= take
                if self._streaming:
                    self._listener.on_data(self.side, self._stream, piece)
                else:
                    self._payload.append(piece)
                if self._remaining == 0:
                    self._frame_done()
                continue
            if end - pos < _FRAME_HEADER_SIZE:
                self._carry = bytes(view[pos:end])
                return
            if not self._block and not self._need_settings:
                # The bulk of any push: whole unpadded DATA frames inside this chunk, read without
                # touching the frame state (about half the cost per 16 KB frame).
                high, low, kind, flags, stream = _FRAME_HEADER.unpack_from(view, pos)
                length = (high << 16) | low
                start = pos + _FRAME_HEADER_SIZE
                if kind == DATA and not flags & FLAG_PADDED and start + length <= end:
                    stream &= 0x7FFFFFFF
                    if length:
                        self._listener.on_data(self.side, stream, view[start : start + length])
                    if flags & FLAG_END_STREAM:
                        self._listener.on_end_stream(self.side, stream)
                    pos = start + length
                    continue
            self._start_frame(view, pos)
            pos += _FRAME_HEADER_SIZE

    def _start_frame(self, buffer: bytes | memoryview, pos: int) -> None:
        high, low, kind, flags, stream = _FRAME_HEADER.unpack_from(buffer, pos)
        if self._need_settings:
            if kind != SETTINGS:
                raise Malformed(
                    "the control plane did not answer in HTTP/2 (its first frame is not SETTINGS)"
                )
            self._need_settings = False
        self._type = kind
        self._flags = flags
        self._stream = stream & 0x7FFFFFFF
        self._remaining = (high << 16) | low
        self._payload = []
        self._streaming = kind == DATA and not flags & FLAG_PADDED
        if self._block and kind != CONTINUATION:
            raise Malformed(f"frame type {kind} inside a header block (CONTINUATION expected)")
        if self._remaining == 0:
            self._frame_done()

    def _frame_done(self) -> None:
        kind, flags, stream = self._type, self._flags, self._stream
        if kind == DATA:
            if not self._streaming:
                payload = _unpad(b"".join(self._payload), flags)
                if payload:
                    self._listener.on_data(self.side, stream, memoryview(payload))
            if flags & FLAG_END_STREAM:
                self._listener.on_end_stream(self.side, stream)
        elif kind == HEADERS:
            payload = _unpad(b"".join(self._payload), flags)
            if flags & FLAG_PRIORITY:
                payload = payload[5:]
            self._block = [payload]
            self._block_size = len(payload)
            self._block_stream = stream
            self._block_end_stream = bool(flags & FLAG_END_STREAM)
            if flags & FLAG_END_HEADERS:
                self._header_block_done()
        elif kind == CONTINUATION:
            if not self._block or stream != self._block_stream:
                raise Malformed(f"CONTINUATION on stream {stream} without a header block to continue")
            self._block.append(b"".join(self._payload))
            self._block_size += len(self._block[-1])
            if self._block_size > MAX_HEADER_BLOCK:
                raise Malformed(f"a header block on stream {stream} grew past {MAX_HEADER_BLOCK} bytes")
            if flags & FLAG_END_HEADERS:
                self._header_block_done()
        elif kind == PUSH_PROMISE:
            # gRPC never pushes; decode the block anyway so the HPACK table stays in step.
            payload = _unpad(b"".join(self._payload), flags)[4:]
            self._decode(payload)
        elif kind == RST_STREAM:
            payload = b"".join(self._payload)
            code = _RST_AND_GOAWAY.unpack_from(payload)[0] if len(payload) >= 4 else 0
            self._listener.on_reset(self.side, stream, code)
        elif kind == GOAWAY:
            payload = b"".join(self._payload)
            if len(payload) >= 8:
                last = _RST_AND_GOAWAY.unpack_from(payload)[0] & 0x7FFFFFFF
                code = _RST_AND_GOAWAY.unpack_from(payload, 4)[0]
                self._listener.on_goaway(self.side, last, code, payload[8:])
        # SETTINGS, PING, PRIORITY, WINDOW_UPDATE and unknown types change nothing we record.
        self._payload = []

    def _header_block_done(self) -> None:
        block = b"".join(self._block)
        self._block = []
        headers = self._decode(block)
        self._listener.on_headers(self.side, self._block_stream, headers, self._block_end_stream)

    def _decode(self, block: bytes) -> Headers:
        headers: Headers = []
        size = 0
        try:
            for piece in _pieces(block):
                for name, value in self._decoder.decode(piece, raw=True):
                    headers.append((name, value))
                    size += 32 + len(name) + len(value)  # RFC 7541's entry size, as hpack counts it
                if size > _LENIENT_LIMIT:
                    raise Malformed(f"a header list larger than {_LENIENT_LIMIT} bytes")
        except Malformed:
            raise
        except Exception as e:  # hpack raises several types; all mean the same here
            raise Malformed(f"cannot decode a header block: {str(e)[:200]}") from e  # hpack quotes the block
        return headers


class _Cut(Exception):
    """An HPACK field runs past the end of its block, or its integer past what hpack reads."""


def _pieces(block: bytes) -> Iterator[bytes]:
    """The block cut between fields into pieces of about _HPACK_PIECE bytes, for one decoder to read in turn.

    hpack copies the rest of the block for every literal field it reads, so a 16 MB block of 4-byte
    literals would cost terabytes of copying in one call, minutes to hours of a stalled capture loop.
    Fields never span pieces and the decoder's table carries over from one call to the next, so the
    headers are the same. What hpack checks within one call only is checked here for the whole block:
    table size updates come first, two at most (RFC 7541 section 4.2).
    """
    if len(block) <= _HPACK_PIECE:
        yield block
        return
    start = pos = 0
    fields = updates = 0
    while pos < len(block):
        try:
            after = _field_end(block, pos)
        except _Cut:
            raise Malformed(f"cannot decode a header block: its field at byte {pos} is cut short") from None
        if block[pos] & 0xE0 == 0x20:  # a dynamic table size update
            if updates != fields or updates == 2:
                raise Malformed(f"cannot decode a header block: a table size update at byte {pos}")
            updates += 1
        fields += 1
        pos = after
        if pos - start >= _HPACK_PIECE:
            yield block[start:pos]
            start = pos
    if start < len(block):
        yield block[start:]


def _field_end(block: bytes, pos: int) -> int:
    """Where the HPACK field representation at pos ends (RFC 7541 section 6)."""
    first = block[pos]
    if first & 0x80:  # indexed
        return _integer(block, pos, 7)[1]
    if first & 0x40:  # literal with incremental indexing
        prefix = 6
    elif first & 0x20:  # dynamic table size update
        return _integer(block, pos, 5)[1]
    else:  # literal without indexing, or never indexed
        prefix = 4
    index, pos = _integer(block, pos, prefix)
    if index == 0:  # the name is a string too
        pos = _string_end(block, pos)
    return _string_end(block, pos)


def _string_end(block: bytes, pos: int) -> int:
    if pos >= len(block):
        raise _Cut
    length, pos = _integer(block, pos, 7)
    if pos + length > len(block):
        raise _Cut
    return pos + length


def _integer(block: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    """The HPACK integer at pos (RFC 7541 section 5.1) and the position after it."""
    mask = (1 << prefix_bits) - 1
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    for shift in range(0, 7 * _HPACK_INTEGER_BYTES, 7):
        if pos >= len(block):
            raise _Cut
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise _Cut


def _unpad(payload: bytes, flags: int) -> bytes:
    if not flags & FLAG_PADDED:
        return payload
    if not payload:
        raise Malformed("padded frame without a pad length")
    pad = payload[0]
    if pad >= len(payload):
        raise Malformed("padding longer than the frame")
    return payload[1 : len(payload) - pad]


class ConnectionObserver:
    """Both directions of one connection."""

    def __init__(self, listener: Listener) -> None:
        self.downstream = DirectionObserver(Side.DOWNSTREAM, listener)
        self.upstream = DirectionObserver(Side.UPSTREAM, listener)

    def feed(self, side: Side, data: bytes | memoryview) -> None:
        (self.downstream if side is Side.DOWNSTREAM else self.upstream).feed(data)
