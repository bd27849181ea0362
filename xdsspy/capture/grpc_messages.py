"""gRPC's length-prefixed messages, reassembled from DATA pieces as they pass.

Each message on the wire is a 1-byte compressed flag, a 4-byte big-endian
length and the payload, cut into DATA frames however the sender liked. The
assembler keeps the pieces (slices of the socket's chunks) and joins them once
per message. A message over the recording limit is skipped, not kept: it was
forwarded whole anyway, and the caller says so in the recording. A compressed
message is inflated only up to that limit too, however much it claims.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import zlib


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    payload: bytes
    compressed: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """A message over the limit: forwarded, not recorded."""

    size: int


_NONE: list[Message | Skipped] = []  # returned for "nothing complete yet"; never appended to


class Assembler:
    """One direction of one stream."""

    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes
        self._parts: collections.deque[memoryview] = collections.deque()
        self._have = 0
        self._need = -1  # payload length of the message being read; -1 while reading the prefix
        self._compressed = False
        self._skipping = 0  # bytes of an oversized message still to pass

    @property
    def partial_bytes(self) -> int:
        """Bytes of an incomplete message (the tail of a stream that ended mid-message)."""
        return self._have + (5 if self._need >= 0 else 0)

    def feed(self, piece: memoryview) -> list[Message | Skipped]:
        if self._need > self._have + len(piece):  # the middle of a large message: the common case
            self._parts.append(piece)
            self._have += len(piece)
            return _NONE
        out: list[Message | Skipped] = []
        if self._skipping:
            if len(piece) <= self._skipping:
                self._skipping -= len(piece)
                return out
            piece = piece[self._skipping :]
            self._skipping = 0
        self._parts.append(piece)
        self._have += len(piece)
        while True:
            if self._need < 0:
                if self._have < 5:
                    return out
                prefix = self._take(5)
                self._compressed = prefix[0] == 1
                self._need = int.from_bytes(prefix[1:5], "big")
                if self._need > self._max:
                    out.append(Skipped(self._need))
                    drop = min(self._need, self._have)
                    self._take(drop)
                    self._skipping = self._need - drop
                    self._need = -1
                    if self._skipping:
                        return out
                    continue
            if self._have < self._need:
                return out
            out.append(Message(self._take(self._need), self._compressed))
            self._need = -1

    def _take(self, n: int) -> bytes:
        """The next n buffered bytes, joined (one copy)."""
        if n == 0:
            return b""
        parts = self._parts
        first = parts[0]
        if len(first) >= n:
            taken = bytes(first[:n])
            if len(first) == n:
                parts.popleft()
            else:
                parts[0] = first[n:]
        else:
            chosen: list[memoryview] = []
            left = n
            while left:
                part = parts[0]
                if len(part) <= left:
                    chosen.append(part)
                    parts.popleft()
                    left -= len(part)
                else:
                    chosen.append(part[:left])
                    parts[0] = part[left:]
                    left = 0
            taken = b"".join(chosen)
        self._have -= n
        return taken


class TooLarge(ValueError):
    """A compressed message that inflates past the limit: a few kilobytes can claim gigabytes."""


def decompress(payload: bytes, encoding: str, limit: int | None = None) -> bytes:
    """A compressed message's payload as the receiver reads it, at most `limit` bytes of it.

    Raises ValueError for an unknown encoding, TooLarge (a ValueError) when the payload inflates past
    `limit`, and zlib.error, EOFError or OSError for bytes that are not what the encoding says."""
    if encoding in ("", "identity"):
        return payload
    if encoding == "gzip":
        return _inflate(payload, 16 + zlib.MAX_WBITS, limit, members=True)
    if encoding == "deflate":
        return _inflate(payload, zlib.MAX_WBITS, limit, members=False)
    raise ValueError(f"unknown grpc-encoding {encoding!r}")


def _inflate(payload: bytes, wbits: int, limit: int | None, *, members: bool) -> bytes:
    """zlib or gzip data inflated without ever holding more than limit + 1 bytes of output.

    Reads like gzip.decompress (gzip members one after another, NUL padding between them) and
    zlib.decompress (bytes after the end of the stream ignored)."""
    if limit is None:
        return gzip.decompress(payload) if members else zlib.decompress(payload)
    out: list[bytes] = []
    produced = 0
    data = payload
    while True:
        inflater = zlib.decompressobj(wbits)
        piece = inflater.decompress(data, limit + 1 - produced)
        produced += len(piece)
        if produced > limit:
            raise TooLarge(f"it inflates to more than {limit} bytes")
        if not inflater.eof:
            raise EOFError("compressed data ended before the end-of-stream marker was reached")
        out.append(piece)
        data = inflater.unused_data.lstrip(b"\0") if members else b""
        if not data:
            return b"".join(out)
