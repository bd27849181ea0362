"""Byte layout of recording files: file magic, header and block framing.

A file is FILE_MAGIC, then a u32 length, a u32 CRC-32 and that many bytes of
FileHeader, then blocks. A block is a 32-byte BLOCK header followed by its
payload; the payload, once decompressed, is a run of varint-length-delimited
Record messages. Blocks are written whole with one write call each, so a
reader can always tell a complete block (magic, both CRCs, lengths) from a
torn one. Every length a header states is checked against `limits`, and a
payload is never decoded into more than its header declares. See
docs/recording-format.md.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import zlib

import zstandard

from xdsspy.record import limits

FORMAT_VERSION = 2
"""Version of the record and block layout; independent of the xdsspy release.

2: a message may be stored as a repeat of an earlier one in its block (Message.same_as_seq), which a
reader of version 1 would take for an empty message. Files of version 1 are read as they are."""

FILE_MAGIC = b"\x89XDS\r\n\x1a\n"
"""PNG-style: a high byte and CR/LF/^Z catch text-mode transfers and truncation at once."""

FILE_HEADER_PREFIX = struct.Struct("<II")  # header length, CRC-32 of the header bytes
BLOCK_MAGIC = b"XDSB"
BLOCK_HEADER = struct.Struct("<4sBBHQQII")
"""magic, codec, flags, reserved, stored length, decoded length, payload CRC-32, header CRC-32."""


class Codec(enum.IntEnum):
    NONE = 0
    ZSTD = 1


@dataclasses.dataclass(frozen=True, slots=True)
class BlockHeader:
    codec: int
    stored_length: int
    decoded_length: int
    payload_crc: int

    def pack(self) -> bytes:
        head = BLOCK_HEADER.pack(
            BLOCK_MAGIC, self.codec, 0, 0, self.stored_length, self.decoded_length, self.payload_crc, 0
        )
        return head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))


class BlockHeaderError(ValueError):
    """The bytes at this offset are not a valid block header."""


def unpack_block_header(data: bytes | memoryview) -> BlockHeader:
    magic, codec, _flags, _reserved, stored, decoded, payload_crc, header_crc = BLOCK_HEADER.unpack(data)
    if magic != BLOCK_MAGIC:
        raise BlockHeaderError("no block magic")
    if zlib.crc32(bytes(data[: BLOCK_HEADER.size - 4])) != header_crc:
        raise BlockHeaderError("block header checksum mismatch")
    if codec not in (Codec.NONE, Codec.ZSTD):
        raise BlockHeaderError(f"unknown block codec {codec}")
    if decoded > limits.MAX_BLOCK_BYTES:
        raise BlockHeaderError(
            f"block claims {decoded:,} bytes decoded, more than a block can hold ({limits.MAX_BLOCK_BYTES:,})"
        )
    if stored > limits.max_stored_length(codec == Codec.ZSTD, decoded):
        raise BlockHeaderError(f"block claims {stored:,} bytes stored for {decoded:,} decoded")
    return BlockHeader(codec, stored, decoded, payload_crc)


def decode_payload(block: BlockHeader, payload: bytes, decompressor: zstandard.ZstdDecompressor) -> bytes:
    """The block's records; ValueError (zstd's errors included) unless they are exactly the
    decoded_length bytes its header declares, which is all that is ever allocated for them."""
    if block.codec == Codec.NONE:
        if len(payload) != block.decoded_length:
            raise ValueError(
                f"{len(payload):,} bytes stored uncompressed, header says {block.decoded_length:,}"
            )
        return payload
    try:
        declared = zstandard.frame_content_size(payload)  # -1: not declared, as in the writer's frames
        if declared not in (-1, block.decoded_length):
            raise ValueError(
                f"its zstd frame declares {declared:,} bytes, its block header {block.decoded_length:,}"
            )
        data = decompressor.decompress(
            payload, max_output_size=block.decoded_length or 1, allow_extra_data=False
        )
    except zstandard.ZstdError as e:
        raise ValueError(
            f"it does not decompress to the {block.decoded_length:,} bytes its header declares ({e})"
        ) from e
    if len(data) != block.decoded_length:
        raise ValueError(f"decoded {len(data):,} bytes, header says {block.decoded_length:,}")
    return data
