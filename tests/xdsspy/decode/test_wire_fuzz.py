"""Hostile bytes for the schema-less decoder: garbage, mutated real messages, groups and messages nested deep.

Whatever the bytes, `scan` yields fields or raises WireError, and `decode_raw`, `complete_prefix`,
`first_string` and `render_len` never raise, keep their recursion bounded by MAX_DEPTH and give
JSON-ready values (issue 14, point 5).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import varint
from xdsspy.decode import unknown
from xdsspy.decode import wire
from xdsspy.testing import xds

REAL = xds.tcds_response(2).SerializeToString()


def _depth(tree: object) -> int:
    """How deep dicts and lists nest in a tree (walked without recursion)."""
    deepest = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check(data: bytes) -> None:
    try:
        fields = list(wire.scan(data))
    except wire.WireError as e:
        assert 0 <= e.offset <= len(data)
        fields = None
    tree = wire.decode_raw(data)
    assert (tree is None) == (fields is None)
    if tree is not None:
        json.dumps(tree)
        assert _depth(tree) <= 2 * (wire.MAX_DEPTH + 2)  # a dict, and a list where a number repeats
    prefix, stopped = wire.complete_prefix(data)
    assert data.startswith(prefix) and len(prefix) <= stopped <= len(data)
    for number in (1, 2, 15, 16):
        name = wire.first_string(data, number)
        assert name is None or isinstance(name, str)
    json.dumps(wire.render_len(data))
    for wire_type in (wire.VARINT, wire.FIXED64, wire.FIXED32):
        json.dumps(unknown.render_raw(wire_type, len(data)))
    json.dumps(unknown.render_raw(wire.LEN, data))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(1, 255)), max_size=6),
    insert=st.binary(max_size=16),
    at=st.integers(0, len(REAL)),
    cut=st.integers(0, len(REAL) + 16),
)
def test_flipped_spliced_and_cut_real_messages(
    flips: list[tuple[int, int]], insert: bytes, at: int, cut: int
) -> None:
    data = bytearray(REAL)
    for position, mask in flips:
        data[position] ^= mask
    _check(bytes(data[:at] + insert + data[at:])[:cut])


_TAGS = st.sampled_from([0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x11, 0x12, 0x13, 0x14, 0x1A, 0x80, 0xFF, 0x00, 0x0F])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TAGS.map(lambda t: bytes([t])), st.binary(max_size=3)), max_size=64).map(b"".join))
def test_tag_soup(data: bytes) -> None:
    """Mostly tags: groups opened and closed in any order, lengths pointing anywhere."""
    _check(data)


def _nested_len(depth: int) -> bytes:
    value = b"\x08\x01"
    for _ in range(depth):
        value = b"\x0a" + varint.encode(len(value)) + value
    return value


@pytest.mark.parametrize(
    "data",
    [
        b"\x0b" * 100_000 + b"\x0c" * 100_000,  # groups nested 100,000 deep
        b"\x0b" * 100_000,  # ... never closed
        b"\x0b\x13" * 50_000 + b"\x14\x0c" * 50_000,  # two group numbers interleaved
        _nested_len(5_000),  # messages nested 5,000 deep
        _nested_len(wire.MAX_DEPTH + 1),
        b"\x0a" + varint.encode(1 << 62) + b"x",  # a length of 4 EiB
        b"\x08" + b"\xff" * 10_000,  # a varint that never ends
    ],
    ids=[
        "groups",
        "open-groups",
        "two-groups",
        "messages",
        "messages-past-max-depth",
        "huge-length",
        "varint",
    ],
)
def test_deep_and_huge_inputs_stay_bounded(data: bytes) -> None:
    _check(data)
