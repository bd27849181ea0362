"""Varints: what is encoded decodes back, and a cut or endless one is an error."""

from __future__ import annotations

import pytest

from xdsspy import varint


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    data = varint.encode(value)
    assert varint.decode(data, 0) == (value, len(data))


def test_truncated_varint_is_an_error() -> None:
    with pytest.raises(ValueError, match="truncated"):
        varint.decode(varint.encode(300)[:1], 0)


def test_a_varint_of_more_than_ten_bytes_is_an_error() -> None:
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        varint.decode(b"\x80" * 10 + b"\x01", 0)


def test_decoding_starts_at_the_given_position_in_a_view() -> None:
    data = memoryview(b"xx" + varint.encode(300) + b"yy")
    assert varint.decode(data, 2) == (300, 4)
