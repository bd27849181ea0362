"""gRPC length-prefixed messages reassembled from DATA pieces, whatever way the sender cut them."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable

import pytest

from xdsspy.capture import grpc_messages
from xdsspy.capture.grpc_messages import Assembler
from xdsspy.capture.grpc_messages import Message
from xdsspy.capture.grpc_messages import Skipped


def frame(payload: bytes, *, compressed: bool = False) -> bytes:
    return bytes([1 if compressed else 0]) + len(payload).to_bytes(4, "big") + payload


def feed_all(assembler: Assembler, pieces: list[bytes]) -> list[Message | Skipped]:
    out: list[Message | Skipped] = []
    for piece in pieces:
        out.extend(assembler.feed(memoryview(piece)))
    return out


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """data cut at the given piece sizes (cycled until the data is used up)."""
    pieces = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        pieces.append(data[pos : pos + size])
        pos += size
        i += 1
    return pieces


def test_one_message_in_one_piece() -> None:
    assembler = Assembler(1024)
    assert assembler.feed(memoryview(frame(b"hello"))) == [Message(b"hello", False)]
    assert assembler.partial_bytes == 0


def test_a_message_split_across_many_pieces_comes_out_once_whole() -> None:
    payload = bytes(range(256)) * 4
    assembler = Assembler(4096)
    pieces = cut(frame(payload), [7])
    results = [assembler.feed(memoryview(p)) for p in pieces]
    assert all(r == [] for r in results[:-1])
    assert results[-1] == [Message(payload, False)]
    assert assembler.partial_bytes == 0


def test_several_messages_in_one_piece() -> None:
    data = frame(b"one") + frame(b"two") + frame(b"three")
    assert Assembler(100).feed(memoryview(data)) == [
        Message(b"one", False),
        Message(b"two", False),
        Message(b"three", False),
    ]


def test_zero_length_messages_are_messages() -> None:
    data = frame(b"") + frame(b"x") + frame(b"") + frame(b"", compressed=True)
    assert Assembler(100).feed(memoryview(data)) == [
        Message(b"", False),
        Message(b"x", False),
        Message(b"", False),
        Message(b"", True),
    ]


def test_a_zero_length_message_is_found_when_its_prefix_completes() -> None:
    assembler = Assembler(100)
    assert assembler.feed(memoryview(b"\0\0\0")) == []
    assert assembler.partial_bytes == 3
    assert assembler.feed(memoryview(b"\0\0")) == [Message(b"", False)]
    assert assembler.partial_bytes == 0


@pytest.mark.parametrize("split", [1, 2, 3, 4])
def test_the_prefix_split_across_pieces(split: int) -> None:
    data = frame(b"payload")
    assembler = Assembler(100)
    assert assembler.feed(memoryview(data[:split])) == []
    assert assembler.partial_bytes == split
    assert assembler.feed(memoryview(data[split:])) == [Message(b"payload", False)]


def test_the_prefix_split_one_byte_at_a_time_between_two_messages() -> None:
    data = frame(b"first") + frame(b"second")
    assert feed_all(Assembler(100), cut(data, [1])) == [Message(b"first", False), Message(b"second", False)]


def test_every_random_cut_gives_the_same_messages() -> None:
    rng = random.Random(20240601)
    payloads = [rng.randbytes(rng.choice([0, 1, 4, 5, 6, 100, 3000])) for _ in range(40)]
    data = b"".join(frame(p, compressed=i % 3 == 0) for i, p in enumerate(payloads))
    expected = [Message(p, i % 3 == 0) for i, p in enumerate(payloads)]
    for _ in range(50):
        sizes = [rng.randint(1, 64) for _ in range(20)]
        assembler = Assembler(1 << 20)
        assert feed_all(assembler, cut(data, sizes)) == expected
        assert assembler.partial_bytes == 0


def test_the_compressed_flag_is_reported() -> None:
    data = frame(b"zipped", compressed=True) + frame(b"plain")
    assert Assembler(100).feed(memoryview(data)) == [Message(b"zipped", True), Message(b"plain", False)]


def test_a_message_at_the_limit_is_kept() -> None:
    assert Assembler(5).feed(memoryview(frame(b"12345"))) == [Message(b"12345", False)]


def test_a_message_over_the_limit_is_skipped_and_the_next_one_found() -> None:
    data = frame(b"x" * 11) + frame(b"after")
    assert Assembler(10).feed(memoryview(data)) == [Skipped(11), Message(b"after", False)]


def test_an_oversized_message_spanning_many_pieces_is_skipped_once_and_the_next_one_found() -> None:
    big = bytes(range(256)) * 40
    data = frame(b"before") + frame(big) + frame(b"after") + frame(b"")
    assembler = Assembler(100)
    out = feed_all(assembler, cut(data, [3, 17, 1, 250]))
    assert out == [
        Message(b"before", False),
        Skipped(len(big)),
        Message(b"after", False),
        Message(b"", False),
    ]
    assert assembler.partial_bytes == 0


def test_skipping_ends_inside_a_piece_that_holds_the_next_prefix() -> None:
    """The piece finishing the skipped message also starts the next one: skipping must not eat it."""
    data = frame(b"B" * 50) + frame(b"next")  # the oversized message is data[:55]
    assembler = Assembler(10)
    assert assembler.feed(memoryview(data[:20])) == [Skipped(50)]
    assert assembler.partial_bytes == 0
    assert assembler.feed(memoryview(data[20:57])) == []  # its last 35 bytes and 2 of the next prefix
    assert assembler.partial_bytes == 2
    assert assembler.feed(memoryview(data[57:])) == [Message(b"next", False)]


def test_skipping_ends_exactly_at_a_piece_boundary() -> None:
    data = frame(b"B" * 50) + frame(b"next")
    assembler = Assembler(10)
    assert assembler.feed(memoryview(data[:5])) == [Skipped(50)]
    assert assembler.feed(memoryview(data[5:30])) == []
    assert assembler.feed(memoryview(data[30:55])) == []
    assert assembler.feed(memoryview(data[55:])) == [Message(b"next", False)]


def test_two_oversized_messages_in_a_row() -> None:
    data = frame(b"a" * 30) + frame(b"b" * 40) + frame(b"ok")
    for sizes in ([len(data)], [1], [6], [33, 2]):
        assert feed_all(Assembler(10), cut(data, sizes)) == [Skipped(30), Skipped(40), Message(b"ok", False)]


def test_partial_bytes_counts_prefix_and_payload_of_an_incomplete_message() -> None:
    assembler = Assembler(100)
    assert assembler.partial_bytes == 0
    assembler.feed(memoryview(frame(b"done") + frame(b"0123456789")[:9]))
    assert assembler.partial_bytes == 9  # 5 bytes of prefix and 4 of payload
    assembler.feed(memoryview(b"456"))
    assert assembler.partial_bytes == 12
    assert assembler.feed(memoryview(b"789")) == [Message(b"0123456789", False)]
    assert assembler.partial_bytes == 0


def test_pieces_are_not_kept_by_reference_after_a_message_is_returned() -> None:
    """Returned payloads are bytes, not views: the socket's buffers may be reused."""
    buffer = bytearray(frame(b"abc"))
    [message] = Assembler(100).feed(memoryview(buffer))
    buffer[5:8] = b"xyz"
    assert isinstance(message, Message)
    assert message.payload == b"abc"
    assert type(message.payload) is bytes


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("identity", lambda b: b),
        ("", lambda b: b),
    ],
)
def test_decompress_known_encodings(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    payload = b"resources " * 100
    assert grpc_messages.decompress(compress(payload), encoding) == payload


@pytest.mark.parametrize("encoding", ["snappy", "zstd", "GZIP", "br"])
def test_decompress_unknown_encoding_raises_value_error(encoding: str) -> None:
    with pytest.raises(ValueError, match=f"unknown grpc-encoding '{encoding}'"):
        grpc_messages.decompress(b"whatever", encoding)
