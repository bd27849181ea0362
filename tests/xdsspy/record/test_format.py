"""Block framing: headers that detect any damage."""

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
