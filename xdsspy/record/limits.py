"""The bounds that keep reading a hostile recording cheap, and the checks that apply them before allocating.

A recording may come from anywhere (a bug report, a colleague, an attacker), and every length in it is
a claim. The reader believes a claim only when it is within these bounds and the file can back it:
never allocates what a header says before checking it here, never decompresses past what the block
header declared, and never parses a record into more objects than its bytes justify. Whatever
breaks a bound is reported as a problem with its byte offset and skipped. See the "Limits" section of
docs/recording-format.md.
"""

from __future__ import annotations

from xdsspy import varint

MAX_FILE_HEADER_BYTES = 1 << 20
"""The FileHeader is four small fields (about 40 bytes); 1 MiB leaves room for any growth."""

BLOCK_TARGET_BYTES = 16 << 20
"""The writer closes a block once its records reach 16 MiB (record.writer's default max_block_bytes)."""

MAX_RECORD_BYTES = (1 << 30) + (1 << 16)
"""Largest record: one message of the default and largest supported --max-message-bytes (1 GiB) with
its record head. The writer refuses to write a bigger record (codec.encode), so a reader never has to."""

MAX_BLOCK_BYTES = BLOCK_TARGET_BYTES + MAX_RECORD_BYTES
"""Largest decoded block: the writer adds records while the block is under BLOCK_TARGET_BYTES, so the
last one can take it past that by at most one record. Reading one block holds at most this much
decoded, plus the compressed payload and the events built from it."""

PARSE_DIRECTLY_BELOW = 64 << 10
"""Records under 64 KiB are parsed without looking first: even made of nothing but empty headers
(two bytes each, about 200 bytes once parsed) one costs under 7 MB, and most records are this small."""

MAX_RECORD_FIELDS = 10_000
"""Fields a larger record may hold, counting those of its event. A real one has at most a few hundred
(a stream_open with every header Envoy sends); the bound stops a megabyte of two-byte empty headers,
which the protobuf runtime would turn into 65 times its size in objects."""

_LISTS_IN = frozenset({10, 11, 13, 14})
"""Record's event fields whose messages hold repeated fields (capture_start.listen, metadata, trailers)."""

MAX_PROBLEMS_PER_BLOCK = 100
"""Unreadable records listed in one block; past this the block is garbage (or crafted to flood the
report) and the rest of it is skipped with one problem that says how much."""

MAX_PROBLEMS = 1_000
"""Problems a reader lists in all; past this it counts them and ends with one that gives the count."""

MAX_OPEN_STREAMS = 1_000_000
"""Streams whose method the reader remembers (about 100 bytes each): far beyond any real capture's
concurrent streams, while a file of nothing but stream openings costs at most about 100 MB."""

MAX_METHOD_NAMES = 10_000
"""Distinct method names the reader shares between streams; a real capture has a handful."""


def max_stored_length(compressed: bool, decoded_length: int) -> int:
    """The largest stored payload that can hold decoded_length bytes.

    zstd's own bound (ZSTD_COMPRESSBOUND) is the size plus 1/256 plus a few bytes; this allows 1/128
    plus 64 KiB. An uncompressed payload is exactly its decoded length.
    """
    if not compressed:
        return decoded_length
    return decoded_length + (decoded_length >> 7) + (1 << 16)


def record_problem(record: bytes | memoryview) -> str:
    """Why a record must not be parsed, or "" when it may be.

    A large record is walked field by field first (top level and its event's fields) and refused if
    it holds more than MAX_RECORD_FIELDS; the walk itself stops at that count, so it is cheap. What
    the walk does not understand is left to the protobuf parser, which fails it or keeps it as
    unknown bytes (no objects per field, so nothing to bound).
    """
    if len(record) < PARSE_DIRECTLY_BELOW:
        return ""
    try:
        count = _count_fields(record, 0, len(record), nested=True)
    except ValueError:
        return ""
    if count > MAX_RECORD_FIELDS:
        return (
            f"record of {len(record):,} bytes holds more than {MAX_RECORD_FIELDS:,} fields "
            "(a real one holds a few hundred at most); not parsed"
        )
    return ""


def _count_fields(data: bytes | memoryview, pos: int, end: int, *, nested: bool) -> int:
    """Fields in data[pos:end], and in the event messages that hold lists; stops past MAX_RECORD_FIELDS."""
    count = 0
    while pos < end and count <= MAX_RECORD_FIELDS:
        key, pos = varint.decode(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = varint.decode(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = varint.decode(data, pos)
            if nested and key >> 3 in _LISTS_IN:
                count += _count_fields(data, pos, min(pos + length, end), nested=False)
            pos += length
        else:
            raise ValueError(f"wire type {wire}")
        count += 1
    return count
