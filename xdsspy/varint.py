"""Protobuf's base-128 varints: the recording's record framing and the decoders' hand reading of the wire.

One implementation for both, at the bottom of the layers, because the
capture process (which writes recordings) must not load the decoders, and
the decoders must not depend on the recording's framing.
"""

from __future__ import annotations

MAX_BYTES = 10
"""A 64-bit value takes at most ten bytes; a longer run of continuation bits is not a varint."""


def encode(value: int) -> bytes:
    """The varint for a non-negative value."""
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def decode(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The varint at pos and the position after it; ValueError when it is cut short or too long."""
    result = 0
    shift = 0
    end = pos + MAX_BYTES
    while pos < end:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise ValueError(f"varint longer than {MAX_BYTES} bytes")
