"""Damage a recorded byte conversation the way the fuzz tests do: flip bits, splice bytes in, cut it short.

A conversation is a list of (side, bytes) chunks, as a relay hands them to a
watcher; the damaged copy keeps every chunk up to the cut, so an observer
sees a real exchange going wrong rather than random noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

_Side = TypeVar("_Side")


def damaged(
    conversation: Sequence[tuple[_Side, bytes]],
    *,
    flips: Sequence[tuple[int, int, int]] = (),
    inserts: Sequence[tuple[int, int, bytes]] = (),
    cut: int | None = None,
    cut_at: int = 0,
) -> list[tuple[_Side, bytes]]:
    """The conversation with `flips` (chunk, offset, xor mask), `inserts` (chunk, offset, bytes) and,
    with `cut`, chunk `cut` cut at `cut_at` and nothing after it. Offsets wrap around each chunk."""
    chunks = [bytearray(data) for _, data in conversation]
    for index, offset, mask in flips:
        if chunks[index]:
            chunks[index][offset % len(chunks[index])] ^= mask
    for index, offset, extra in inserts:
        at = offset % (len(chunks[index]) + 1)
        chunks[index][at:at] = extra
    kept = len(chunks)
    if cut is not None:
        chunks[cut] = chunks[cut][: cut_at % (len(chunks[cut]) + 1)]
        kept = cut + 1
    return [(side, bytes(data)) for (side, _), data in zip(conversation[:kept], chunks, strict=False)]
