"""The reader's bounds: wide enough for all the writer writes, tight enough to refuse what it never does."""

from __future__ import annotations

import dataclasses
import os

import pytest

from xdsspy import model
from xdsspy import varint
from xdsspy.record import codec
from xdsspy.record import limits
from xdsspy.record import writer
from xdsspy.testing import factories as f


@pytest.mark.parametrize("size", [0, 1, 1000, 128 << 10, (1 << 20) + 7, 5 << 20])
def test_the_stored_bound_holds_for_incompressible_blocks_written_as_the_writer_does(size: int) -> None:
    data = os.urandom(size)
    compressing = writer.compressor(writer.DEFAULT_COMPRESSION_LEVEL).compressobj()
    stored = b"".join(compressing.compress(data[i : i + (300 << 10)]) for i in range(0, size, 300 << 10))
    stored += compressing.flush()
    assert len(stored) <= limits.max_stored_length(True, size)
    assert limits.max_stored_length(False, size) == size


def test_a_block_holds_the_writer_target_plus_one_largest_record() -> None:
    assert limits.MAX_BLOCK_BYTES == limits.BLOCK_TARGET_BYTES + limits.MAX_RECORD_BYTES
    assert limits.MAX_RECORD_BYTES > 1 << 30  # a message of the default --max-message-bytes fits


def _body(event: model.Event) -> bytes:
    """The Record bytes codec.encode writes for event, without their length prefix."""
    record = b"".join(bytes(c) for c in codec.encode(event))
    _, start = varint.decode(record, 0)
    return record[start:]


def test_records_the_writer_writes_pass_and_a_flood_of_fields_does_not() -> None:
    assert limits.record_problem(_body(f.tmessage(os.urandom(1 << 20), seq=1))) == ""
    many_headers = dataclasses.replace(f.topen(seq=1), metadata=(("k", b"v" * 100),) * 5000)
    assert limits.record_problem(_body(many_headers)) == ""
    flood = b"\x08\x01" + varint.encode((11 << 3) | 2) + varint.encode(2 << 20) + b"\x22\x00" * (1 << 20)
    assert "holds more than 10,000 fields" in limits.record_problem(flood)
    assert limits.record_problem(flood[: limits.PARSE_DIRECTLY_BELOW - 1]) == ""  # small: parsed as it is


def test_what_the_walk_cannot_follow_is_left_to_the_parser() -> None:
    groups = b"\x08\x01" + b"\x9b\x06" * (100 << 10)  # start-group tags: upb refuses them itself
    assert limits.record_problem(groups) == ""
    cut = b"\x08\x01" + b"\xff" * (100 << 10)  # not a varint
    assert limits.record_problem(cut) == ""
