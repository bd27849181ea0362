"""Block framing: headers that detect any damage, varints that detect truncation."""

from __future__ import annotations

import pytest

from xdsspy.record import format as fmt


def test_block_header_round_trip() -> None:
    header = fmt.BlockHeader(fmt.Codec.ZSTD, 1234, 99999, 0xDEADBEEF)
    packed = header.pack()
    assert len(packed) == fmt.BLOCK_HEADER.size == 32
    assert fmt.unpack_block_header(packed) == header


@pytest.mark.parametrize("index", range(32))
def test_any_flipped_header_byte_is_detected(index: int) -> None:
    packed = bytearray(fmt.BlockHeader(fmt.Codec.ZSTD, 10, 20, 30).pack())
    packed[index] ^= 0x01
    with pytest.raises(fmt.BlockHeaderError):
        fmt.unpack_block_header(bytes(packed))


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1])
def test_varint_round_trip(value: int) -> None:
    data = fmt.encode_varint(value)
    assert fmt.decode_varint(data, 0) == (value, len(data))


def test_truncated_varint_is_an_error() -> None:
    with pytest.raises(ValueError, match="truncated"):
        fmt.decode_varint(fmt.encode_varint(300)[:1], 0)
