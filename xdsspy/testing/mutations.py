"""Damage a recorded byte conversation the way the fuzz tests do: flip bits, splice bytes in, cut it short.

A conversation is a list of (side, bytes) chunks, as a relay hands them to a
watcher; the damaged copy keeps every chunk up to the cut, so an observer
sees a real exchange going wrong rather than random noise. `damaged_copies`
is the hypothesis strategy the observer fuzz tests draw from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hypothesis import strategies as st

_Side = TypeVar("_Side")
_OFFSETS = st.integers(0, 1 << 16)  # wrapped around each chunk


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


def damaged_copies(
    conversation: Sequence[tuple[_Side, bytes]],
    *,
    max_flips: int,
    spliced: st.SearchStrategy[bytes],
) -> st.SearchStrategy[list[tuple[_Side, bytes]]]:
    """Copies of the conversation with up to `max_flips` bit flips, up to two splices drawn from
    `spliced`, and a cut somewhere."""
    chunk = st.integers(0, len(conversation) - 1)
    return st.builds(
        lambda flips, inserts, cut, cut_at: damaged(
            conversation, flips=flips, inserts=inserts, cut=cut, cut_at=cut_at
        ),
        st.lists(st.tuples(chunk, _OFFSETS, st.integers(1, 255)), max_size=max_flips),
        st.lists(st.tuples(chunk, _OFFSETS, spliced), max_size=2),
        chunk,
        _OFFSETS,
    )
