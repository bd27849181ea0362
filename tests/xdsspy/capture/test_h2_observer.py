"""HTTP/2 read from the side of the wire: byte streams made by h2 (and hyperframe) fed to the observer.

The peers' bytes reach the observer in whatever chunks the sockets gave, so
every property is checked against several ways of cutting the same bytes.
"""

from __future__ import annotations

import itertools
import random
import struct
from typing import Any

import h2.config
import h2.connection
import h2.settings
import hpack
import pytest
from hyperframe.frame import ContinuationFrame
from hyperframe.frame import DataFrame
from hyperframe.frame import Frame
from hyperframe.frame import GoAwayFrame
from hyperframe.frame import HeadersFrame
from hyperframe.frame import PingFrame
from hyperframe.frame import PriorityFrame
from hyperframe.frame import PushPromiseFrame
from hyperframe.frame import RstStreamFrame
from hyperframe.frame import SettingsFrame
from hyperframe.frame import WindowUpdateFrame

from xdsspy.capture import h2_observer
from xdsspy.capture.h2_observer import PREFACE
from xdsspy.capture.h2_observer import ConnectionObserver
from xdsspy.capture.h2_observer import DirectionObserver
from xdsspy.capture.h2_observer import Malformed
from xdsspy.capture.h2_observer import Side

Call = tuple[Any, ...]

METHOD = b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", METHOD),
    (b":authority", b"xds_cluster"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]


class Recorder:
    """A Listener that writes down every call, with DATA pieces copied to bytes."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.pieces: list[memoryview] = []

    def on_headers(self, side: Side, stream_id: int, headers: h2_observer.Headers, end_stream: bool) -> None:
        self.calls.append(
            ("headers", side, stream_id, [(bytes(k), bytes(v)) for k, v in headers], end_stream)
        )

    def on_data(self, side: Side, stream_id: int, piece: memoryview) -> None:
        self.pieces.append(piece)
        self.calls.append(("data", side, stream_id, bytes(piece)))

    def on_end_stream(self, side: Side, stream_id: int) -> None:
        self.calls.append(("end", side, stream_id))

    def on_reset(self, side: Side, stream_id: int, error_code: int) -> None:
        self.calls.append(("reset", side, stream_id, error_code))

    def on_goaway(self, side: Side, last_stream_id: int, error_code: int, debug: bytes) -> None:
        self.calls.append(("goaway", side, last_stream_id, error_code, bytes(debug)))

    def joined(self) -> list[Call]:
        """The calls, adjacent DATA pieces of a stream joined: how pieces fall depends on the chunks."""
        out: list[Call] = []
        for call in self.calls:
            if call[0] == "data" and out and out[-1][:3] == call[:3]:
                out[-1] = (*call[:3], out[-1][3] + call[3])
            else:
                out.append(call)
        return out


def server_observer(listener: Any) -> DirectionObserver:
    """The control plane's side, past its preface (a server always starts with SETTINGS)."""
    observer = DirectionObserver(Side.UPSTREAM, listener)
    observer.feed(SettingsFrame(0).serialize())
    return observer


def pair() -> tuple[h2.connection.H2Connection, h2.connection.H2Connection]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    client.initiate_connection()
    server.initiate_connection()
    return client, server


def exchange(
    client: h2.connection.H2Connection, server: h2.connection.H2Connection, down: list[bytes], up: list[bytes]
) -> None:
    """Moves everything each side has to send to the other, keeping a copy of each direction."""
    while True:
        to_server = client.data_to_send()
        to_client = server.data_to_send()
        if not to_server and not to_client:
            return
        if to_server:
            down.append(to_server)
            server.receive_data(to_server)
        if to_client:
            up.append(to_client)
            client.receive_data(to_client)


def grpc_message(payload: bytes) -> bytes:
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def conversation() -> tuple[bytes, bytes]:
    """Both sides' bytes: a bidi stream, a call over several DATA frames, a reset, a GOAWAY."""
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, REQUEST)
    client.send_data(1, grpc_message(b"discovery request"))
    client.send_headers(3, [*REQUEST, (b"grpc-timeout", b"5S")])
    big = bytes(range(256)) * 150  # 38400 bytes: three DATA frames at the default 16384 maximum
    for i in range(0, len(big), 16384):
        client.send_data(3, big[i : i + 16384])
    client.send_data(3, b"", end_stream=True)
    client.send_headers(5, REQUEST)
    client.reset_stream(5, error_code=8)
    exchange(client, server, down, up)
    server.send_headers(1, RESPONSE)
    server.send_data(1, grpc_message(b"discovery response"))
    server.send_headers(3, RESPONSE)
    server.send_headers(3, TRAILERS, end_stream=True)
    server.send_headers(1, [(b"grpc-status", b"13"), (b"grpc-message", b"boom")], end_stream=True)
    server.close_connection(error_code=0, additional_data=b"shutting down", last_stream_id=5)
    exchange(client, server, down, up)
    return b"".join(down), b"".join(up)


def expected_conversation() -> list[Call]:
    d, u = Side.DOWNSTREAM, Side.UPSTREAM
    big = bytes(range(256)) * 150
    return [
        ("headers", d, 1, REQUEST, False),
        ("data", d, 1, grpc_message(b"discovery request")),
        ("headers", d, 3, [*REQUEST, (b"grpc-timeout", b"5S")], False),
        ("data", d, 3, big),
        ("end", d, 3),
        ("headers", d, 5, REQUEST, False),
        ("reset", d, 5, 8),
        ("headers", u, 1, RESPONSE, False),
        ("data", u, 1, grpc_message(b"discovery response")),
        ("headers", u, 3, RESPONSE, False),
        ("headers", u, 3, TRAILERS, True),
        ("headers", u, 1, [(b"grpc-status", b"13"), (b"grpc-message", b"boom")], True),
        ("goaway", u, 5, 0, b"shutting down"),
    ]


def observe(down_chunks: list[bytes], up_chunks: list[bytes]) -> Recorder:
    recorder = Recorder()
    observer = ConnectionObserver(recorder)
    for chunk in down_chunks:
        observer.feed(Side.DOWNSTREAM, chunk)
    for chunk in up_chunks:
        observer.feed(Side.UPSTREAM, chunk)
    return recorder


def cut_at(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(offsets)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def random_chunks(data: bytes, rng: random.Random, largest: int) -> list[bytes]:
    chunks = []
    pos = 0
    while pos < len(data):
        size = rng.randint(1, largest)
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks


def frame_starts(data: bytes, start: int) -> list[int]:
    """Offsets of the frame headers in data, from start (after the preface, for Envoy's side)."""
    starts = []
    pos = start
    while pos < len(data):
        starts.append(pos)
        high, low = struct.unpack_from(">BH", data, pos)
        pos += 9 + ((high << 16) | low)
    assert pos == len(data)
    return starts


def frame_types(data: bytes, start: int) -> list[int]:
    return [data[pos + 3] for pos in frame_starts(data, start)]


def serialize(*frames: Frame) -> bytes:
    return b"".join(f.serialize() for f in frames)


def headers_frame(stream_id: int, block: bytes, *flags: str, **kwargs: Any) -> HeadersFrame:
    frame = HeadersFrame(stream_id, block, **kwargs)
    for flag in flags:
        frame.flags.add(flag)
    return frame


def feed_downstream(*frames: Frame) -> Recorder:
    recorder = Recorder()
    DirectionObserver(Side.DOWNSTREAM, recorder).feed(PREFACE + serialize(*frames))
    return recorder


# -- one conversation, every chunking -------------------------------------------------------


def test_a_whole_conversation_is_reported_in_wire_order() -> None:
    down, up = conversation()
    assert observe([down], [up]).joined() == expected_conversation()


def test_one_byte_chunks_give_the_same_calls() -> None:
    down, up = conversation()
    chunks = observe([down[i : i + 1] for i in range(len(down))], [up[i : i + 1] for i in range(len(up))])
    assert chunks.joined() == expected_conversation()


@pytest.mark.parametrize("seed", range(8))
def test_random_chunk_sizes_give_the_same_calls(seed: int) -> None:
    rng = random.Random(seed)
    down, up = conversation()
    largest = rng.choice([3, 10, 100, 5000])
    recorder = observe(random_chunks(down, rng, largest), random_chunks(up, rng, largest))
    assert recorder.joined() == expected_conversation()


@pytest.mark.parametrize("cut", range(1, len(PREFACE) + 1))
def test_a_chunk_boundary_inside_the_preface(cut: int) -> None:
    down, up = conversation()
    assert observe(cut_at(down, [cut]), [up]).joined() == expected_conversation()


def test_the_preface_arriving_in_three_tiny_chunks_then_the_rest() -> None:
    down, up = conversation()
    assert observe(cut_at(down, [1, 2, 20]), [up]).joined() == expected_conversation()


def test_a_chunk_ending_with_the_preface_and_part_of_a_frame_header() -> None:
    down, up = conversation()
    for inside in range(1, 9):
        recorder = observe(cut_at(down, [len(PREFACE) + inside]), [up])
        assert recorder.joined() == expected_conversation(), inside


def test_chunk_boundaries_inside_every_frame_header() -> None:
    down, up = conversation()
    down_starts = frame_starts(down, len(PREFACE))
    up_starts = frame_starts(up, 0)
    for inside in range(1, 9):
        down_chunks = cut_at(down, [s + inside for s in down_starts if s + inside < len(down)])
        up_chunks = cut_at(up, [s + inside for s in up_starts if s + inside < len(up)])
        assert observe(down_chunks, up_chunks).joined() == expected_conversation(), inside


def test_a_frame_header_split_over_three_chunks() -> None:
    down, up = conversation()
    [start, *_] = frame_starts(up, 0)
    assert observe([down], cut_at(up, [start + 2, start + 5])).joined() == expected_conversation()


def test_empty_chunks_change_nothing() -> None:
    down, up = conversation()
    down_chunks = [c for piece in cut_at(down, [5, 24, 30]) for c in (b"", piece)]
    up_chunks = [c for piece in cut_at(up, [4, 9]) for c in (piece, b"")]
    assert observe(down_chunks, up_chunks).joined() == expected_conversation()


def test_unpadded_data_is_handed_on_as_slices_of_the_chunk_not_copies() -> None:
    down, up = conversation()
    recorder = observe([down], [up])
    assert bytes(recorder.pieces[-1]) == grpc_message(b"discovery response")
    assert recorder.pieces[-1].obj is up


def test_data_pieces_follow_the_chunks() -> None:
    """DATA is streamed: a frame cut over chunks arrives as several pieces, before the frame is complete."""
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, REQUEST)
    client.send_data(1, b"x" * 1000)
    exchange(client, server, down, up)
    data = b"".join(down)
    recorder = Recorder()
    observer = DirectionObserver(Side.DOWNSTREAM, recorder)
    observer.feed(data[:-600])
    assert recorder.calls[-1] == ("data", Side.DOWNSTREAM, 1, b"x" * 400)
    observer.feed(data[-600:])
    assert recorder.calls[-1] == ("data", Side.DOWNSTREAM, 1, b"x" * 600)


# -- header blocks ----------------------------------------------------------------------------


def test_a_header_block_too_big_for_one_frame_is_split_into_continuations_by_h2() -> None:
    rng = random.Random(7)
    value = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40000))
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, [*REQUEST, (b"x-node-metadata", value)], end_stream=True)
    exchange(client, server, down, up)
    data = b"".join(down)
    assert h2_observer.CONTINUATION in frame_types(data, len(PREFACE))
    for chunks in ([data], [data[i : i + 1000] for i in range(0, len(data), 1000)]):
        recorder = observe(chunks, [])
        assert recorder.calls == [
            ("headers", Side.DOWNSTREAM, 1, [*REQUEST, (b"x-node-metadata", value)], True)
        ]


def test_a_header_block_in_one_byte_continuation_fragments() -> None:
    block = hpack.Encoder().encode(REQUEST)
    frames: list[Frame] = [headers_frame(1, block[:1], "END_STREAM")]
    frames += [ContinuationFrame(1, block[i : i + 1]) for i in range(1, len(block) - 1)]
    last = ContinuationFrame(1, block[-1:])
    last.flags.add("END_HEADERS")
    frames.append(last)
    assert feed_downstream(*frames).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, True)]


def test_empty_headers_and_continuation_payloads_are_allowed() -> None:
    block = hpack.Encoder().encode(REQUEST)
    empty_end = ContinuationFrame(1, b"")
    empty_end.flags.add("END_HEADERS")
    frames = [headers_frame(1, b""), ContinuationFrame(1, block), ContinuationFrame(1, b""), empty_end]
    assert feed_downstream(*frames).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, False)]


def test_padded_headers() -> None:
    block = hpack.Encoder().encode(REQUEST)
    frame = headers_frame(1, block, "END_HEADERS", "PADDED", pad_length=33)
    assert feed_downstream(frame).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, False)]


def test_padded_headers_with_nothing_but_padding_before_continuations() -> None:
    block = hpack.Encoder().encode(REQUEST)
    first = headers_frame(1, b"", "PADDED", "END_STREAM", pad_length=255)
    rest = ContinuationFrame(1, block)
    rest.flags.add("END_HEADERS")
    assert feed_downstream(first, rest).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, True)]


def test_headers_with_priority_made_by_h2() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, REQUEST, priority_weight=200, priority_depends_on=0, priority_exclusive=True)
    exchange(client, server, down, up)
    data = b"".join(down)
    headers_at = [p for p in frame_starts(data, len(PREFACE)) if data[p + 3] == h2_observer.HEADERS]
    assert [data[p + 4] & h2_observer.FLAG_PRIORITY for p in headers_at] == [h2_observer.FLAG_PRIORITY]
    assert observe([data], []).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, False)]


@pytest.mark.parametrize("pad_length", [0, 1, 200])
def test_padded_headers_with_priority(pad_length: int) -> None:
    block = hpack.Encoder().encode(REQUEST)
    frame = headers_frame(
        3, block, "END_HEADERS", "PADDED", "PRIORITY", pad_length=pad_length, depends_on=1, stream_weight=15
    )
    assert feed_downstream(frame).calls == [("headers", Side.DOWNSTREAM, 3, REQUEST, False)]


def test_priority_and_continuation_together() -> None:
    block = hpack.Encoder().encode(REQUEST)
    first = headers_frame(1, block[:3], "PRIORITY", depends_on=0, stream_weight=255, exclusive=True)
    rest = ContinuationFrame(1, block[3:])
    rest.flags.add("END_HEADERS")
    assert feed_downstream(first, rest).calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, False)]


def test_the_hpack_table_is_kept_across_many_requests_on_one_connection() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    node = (b"x-envoy-node-id", b"sidecar~10.1.2.3~productpage-v1-6b746f74dc-9stvs.default~default.svc")
    first = len(b"".join(down))
    for stream_id in range(1, 100, 2):
        client.send_headers(stream_id, [*REQUEST, node, (b"x-request-number", str(stream_id).encode())])
        client.send_data(stream_id, grpc_message(b"hi"), end_stream=True)
        exchange(client, server, down, up)
    data = b"".join(down)
    calls = observe([data], []).calls
    assert [c for c in calls if c[0] == "headers"] == [
        ("headers", Side.DOWNSTREAM, s, [*REQUEST, node, (b"x-request-number", str(s).encode())], False)
        for s in range(1, 100, 2)
    ]
    headers_at = [p for p in frame_starts(data, first) if data[p + 3] == h2_observer.HEADERS]
    sizes = [int.from_bytes(data[p : p + 3], "big") for p in headers_at]
    assert sizes[1] < sizes[0] - len(node[1]) // 2  # the node header went into the dynamic table
    assert len(set(sizes[1:])) <= 3  # and every later request refers to it
    # The later blocks only make sense with the table the earlier ones built.
    with pytest.raises(Malformed, match="cannot decode a header block"):
        observe([data[:first], data[headers_at[1] :]], [])


def test_the_response_decoder_follows_a_table_size_change_asked_by_the_client() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    server_header = (b"x-control-plane", b"istiod-5f4c8d7b9-abcde")
    client.send_headers(1, REQUEST)
    exchange(client, server, down, up)
    server.send_headers(1, [*RESPONSE, server_header])
    exchange(client, server, down, up)
    client.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0})
    exchange(client, server, down, up)
    client.send_headers(3, REQUEST)
    exchange(client, server, down, up)
    server.send_headers(3, [*RESPONSE, server_header])
    exchange(client, server, down, up)
    calls = observe([b"".join(down)], [b"".join(up)]).calls
    assert [c for c in calls if c[1] is Side.UPSTREAM] == [
        ("headers", Side.UPSTREAM, 1, [*RESPONSE, server_header], False),
        ("headers", Side.UPSTREAM, 3, [*RESPONSE, server_header], False),
    ]


def test_push_promise_blocks_are_decoded_so_the_table_stays_in_step() -> None:
    encoder = hpack.Encoder()
    pushed = [(b":method", b"GET"), (b":path", b"/pushed"), (b"x-pushed-header", b"indexed now")]
    promise = PushPromiseFrame(1, promised_stream_id=2, data=encoder.encode(pushed), pad_length=4)
    promise.flags.add("END_HEADERS")
    promise.flags.add("PADDED")
    response = [(b":status", b"200"), (b"x-pushed-header", b"indexed now")]
    block = encoder.encode(response)
    assert len(block) < 4  # both headers are references into the dynamic table
    recorder = Recorder()
    server_observer(recorder).feed(serialize(promise, headers_frame(1, block, "END_HEADERS")))
    assert recorder.calls == [("headers", Side.UPSTREAM, 1, response, False)]


# -- DATA, resets, GOAWAY, frames that change nothing ----------------------------------------------


def test_padded_data_made_by_h2_is_unpadded() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, REQUEST)
    client.send_data(1, grpc_message(b"padded"), pad_length=100)
    client.send_data(1, grpc_message(b"also padded"), pad_length=0, end_stream=True)
    exchange(client, server, down, up)
    data = b"".join(down)
    expected = [
        ("headers", Side.DOWNSTREAM, 1, REQUEST, False),
        ("data", Side.DOWNSTREAM, 1, grpc_message(b"padded")),
        ("data", Side.DOWNSTREAM, 1, grpc_message(b"also padded")),
        ("end", Side.DOWNSTREAM, 1),
    ]
    assert observe([data], []).calls == expected
    assert observe([data[i : i + 1] for i in range(len(data))], []).calls == expected


def test_padded_data_with_nothing_but_padding_only_ends_the_stream() -> None:
    data = DataFrame(1, b"", pad_length=9)
    data.flags.add("PADDED")
    data.flags.add("END_STREAM")
    assert feed_downstream(data).calls == [("end", Side.DOWNSTREAM, 1)]


def test_end_of_stream_on_data_comes_after_the_last_piece() -> None:
    last = DataFrame(1, b"tail")
    last.flags.add("END_STREAM")
    empty_end = DataFrame(3, b"")
    empty_end.flags.add("END_STREAM")
    recorder = feed_downstream(DataFrame(1, b"head"), last, DataFrame(3, b""), empty_end)
    assert recorder.calls == [
        ("data", Side.DOWNSTREAM, 1, b"head"),
        ("data", Side.DOWNSTREAM, 1, b"tail"),
        ("end", Side.DOWNSTREAM, 1),
        ("end", Side.DOWNSTREAM, 3),
    ]


def test_data_frames_larger_than_the_default_maximum_are_read() -> None:
    """The peers may have agreed on a larger SETTINGS_MAX_FRAME_SIZE; an observer reads whatever they send."""
    payload = random.Random(3).randbytes(100_000)
    recorder = Recorder()
    observer = server_observer(recorder)
    data = serialize(DataFrame(1, payload))
    for i in range(0, len(data), 8192):
        observer.feed(data[i : i + 8192])
    assert recorder.joined() == [("data", Side.UPSTREAM, 1, payload)]


def test_rst_stream_reported_with_its_code() -> None:
    recorder = feed_downstream(RstStreamFrame(1, error_code=8), RstStreamFrame(7, error_code=0xB))
    assert recorder.calls == [("reset", Side.DOWNSTREAM, 1, 8), ("reset", Side.DOWNSTREAM, 7, 0xB)]


def test_rst_stream_made_by_h2_on_both_sides() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.send_headers(1, REQUEST)
    client.send_headers(3, REQUEST)
    exchange(client, server, down, up)
    client.reset_stream(1, error_code=h2.errors.ErrorCodes.CANCEL)
    server.reset_stream(3, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
    exchange(client, server, down, up)
    calls = observe([b"".join(down)], [b"".join(up)]).calls
    assert [c for c in calls if c[0] == "reset"] == [
        ("reset", Side.DOWNSTREAM, 1, 8),
        ("reset", Side.UPSTREAM, 3, 7),
    ]


def test_goaway_reported_with_code_last_stream_and_debug_data() -> None:
    recorder = Recorder()
    frames = serialize(
        GoAwayFrame(0, last_stream_id=41, error_code=0xB, additional_data=b"too_many_pings"),
        GoAwayFrame(0, last_stream_id=0x7FFFFFFF, error_code=0),
    )
    server_observer(recorder).feed(frames)
    assert recorder.calls == [
        ("goaway", Side.UPSTREAM, 41, 0xB, b"too_many_pings"),
        ("goaway", Side.UPSTREAM, 0x7FFFFFFF, 0, b""),
    ]


def test_goaway_made_by_h2_from_envoy() -> None:
    client, server = pair()
    down: list[bytes] = []
    up: list[bytes] = []
    exchange(client, server, down, up)
    client.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR, additional_data=b"bad frame")
    exchange(client, server, down, up)
    assert observe([b"".join(down)], []).calls == [("goaway", Side.DOWNSTREAM, 0, 1, b"bad frame")]


def test_frames_that_change_nothing_are_passed_over() -> None:
    block = hpack.Encoder().encode(REQUEST)
    recorder = feed_downstream(
        SettingsFrame(0, {h2.settings.SettingCodes.MAX_FRAME_SIZE: 1 << 20}),
        PingFrame(0, b"12345678"),
        WindowUpdateFrame(0, window_increment=1 << 20),
        PriorityFrame(1, depends_on=0, stream_weight=9),
        headers_frame(1, block, "END_HEADERS", "END_STREAM"),
    )
    assert recorder.calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, True)]


def test_frames_of_unknown_types_are_passed_over() -> None:
    block = hpack.Encoder().encode(REQUEST)
    body = b"an extension we do not know"
    unknown = struct.pack(">BHBBL", 0, len(body), 0xFA, 0xFF, 1) + body
    empty_unknown = struct.pack(">BHBBL", 0, 0, 0x10, 0, 0)
    recorder = Recorder()
    DirectionObserver(Side.DOWNSTREAM, recorder).feed(
        PREFACE + unknown + empty_unknown + headers_frame(1, block, "END_HEADERS").serialize() + unknown
    )
    assert recorder.calls == [("headers", Side.DOWNSTREAM, 1, REQUEST, False)]


def test_the_control_plane_needs_no_preface() -> None:
    block = hpack.Encoder().encode(RESPONSE)
    recorder = Recorder()
    observer = ConnectionObserver(recorder)
    observer.feed(Side.UPSTREAM, serialize(SettingsFrame(0), headers_frame(1, block, "END_HEADERS")))
    assert recorder.calls == [("headers", Side.UPSTREAM, 1, RESPONSE, False)]


def test_each_direction_has_its_own_hpack_decoder() -> None:
    """Each peer indexes headers into its own table; one shared decoder would misread the last block."""
    down_encoder = hpack.Encoder()
    up_encoder = hpack.Encoder()
    shared = (b"x-shared", b"the same on both sides")
    recorder = Recorder()
    observer = ConnectionObserver(recorder)
    observer.feed(
        Side.DOWNSTREAM, PREFACE + headers_frame(1, down_encoder.encode([shared]), "END_HEADERS").serialize()
    )
    observer.feed(
        Side.UPSTREAM,
        SettingsFrame(0).serialize()
        + headers_frame(1, up_encoder.encode([(b"x-other", b"value")]), "END_HEADERS").serialize(),
    )
    observer.feed(
        Side.UPSTREAM,
        headers_frame(1, up_encoder.encode([(b"x-other", b"value")]), "END_HEADERS").serialize(),
    )
    observer.feed(Side.DOWNSTREAM, headers_frame(3, down_encoder.encode([shared]), "END_HEADERS").serialize())
    assert recorder.calls == [
        ("headers", Side.DOWNSTREAM, 1, [shared], False),
        ("headers", Side.UPSTREAM, 1, [(b"x-other", b"value")], False),
        ("headers", Side.UPSTREAM, 1, [(b"x-other", b"value")], False),
        ("headers", Side.DOWNSTREAM, 3, [shared], False),
    ]


def test_side_other() -> None:
    assert Side.DOWNSTREAM.other is Side.UPSTREAM
    assert Side.UPSTREAM.other is Side.DOWNSTREAM


# -- not HTTP/2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"POST /v3/discovery:clusters HTTP/1.1\r\nHost: xds\r\ncontent-length: 2\r\n\r\n{}",
        b"GET ",  # too short to be a whole preface, yet already not one
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",  # right start, wrong end
        b"PRI * HTTP/1.1\r\n",
    ],
)
def test_envoy_bytes_that_do_not_start_with_the_preface_are_malformed(data: bytes) -> None:
    with pytest.raises(Malformed, match="did not start with the HTTP/2 connection preface"):
        ConnectionObserver(Recorder()).feed(Side.DOWNSTREAM, data)


def test_a_wrong_preface_is_caught_in_the_chunk_that_shows_it() -> None:
    observer = DirectionObserver(Side.DOWNSTREAM, Recorder())
    observer.feed(b"PRI * HTTP/2.0\r\n")
    with pytest.raises(Malformed, match="connection preface"):
        observer.feed(b"\r\nSM\r\nXY")


def test_garbage_after_a_short_valid_prefix_is_malformed() -> None:
    observer = DirectionObserver(Side.DOWNSTREAM, Recorder())
    observer.feed(b"PR")
    with pytest.raises(Malformed, match="connection preface"):
        observer.feed(b"OXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n")


def test_a_control_plane_answering_in_http1_is_malformed() -> None:
    observer = ConnectionObserver(Recorder())
    observer.feed(Side.DOWNSTREAM, PREFACE + SettingsFrame(0).serialize())
    with pytest.raises(Malformed, match="first frame is not SETTINGS"):
        observer.feed(
            Side.UPSTREAM, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )


@pytest.mark.parametrize(
    "intruder",
    [
        DataFrame(1, b"x"),
        headers_frame(3, b"\x82", "END_HEADERS"),
        PingFrame(0, b"12345678"),
        RstStreamFrame(1),
    ],
)
def test_a_frame_of_another_type_inside_a_header_block_is_malformed(intruder: Frame) -> None:
    block = hpack.Encoder().encode(REQUEST)
    with pytest.raises(
        Malformed, match=rf"frame type {intruder.type} inside a header block \(CONTINUATION expected\)"
    ):
        feed_downstream(headers_frame(1, block[:5]), intruder)


def test_the_intruder_is_caught_from_its_header_alone() -> None:
    """The frame header says enough; the observer does not wait for the intruder's payload."""
    block = hpack.Encoder().encode(REQUEST)
    observer = DirectionObserver(Side.DOWNSTREAM, Recorder())
    observer.feed(PREFACE + headers_frame(1, block[:5]).serialize())
    with pytest.raises(Malformed, match="frame type 0 inside a header block"):
        observer.feed(DataFrame(1, b"x" * 1000).serialize()[:9])


def test_a_continuation_without_a_header_block_is_malformed() -> None:
    lone = ContinuationFrame(1, b"\x82")
    lone.flags.add("END_HEADERS")
    with pytest.raises(Malformed, match="CONTINUATION on stream 1 without a header block to continue"):
        feed_downstream(lone)


def test_a_continuation_on_another_stream_is_malformed() -> None:
    block = hpack.Encoder().encode(REQUEST)
    other = ContinuationFrame(3, block[5:])
    other.flags.add("END_HEADERS")
    with pytest.raises(Malformed, match="CONTINUATION on stream 3"):
        feed_downstream(headers_frame(1, block[:5]), other)


def test_an_undecodable_header_block_is_malformed() -> None:
    # 0xBF indexes dynamic table entry 63, which an empty table does not have.
    with pytest.raises(Malformed, match="cannot decode a header block"):
        feed_downstream(headers_frame(1, b"\xbf", "END_HEADERS"))


def test_padding_longer_than_the_frame_is_malformed() -> None:
    recorder = Recorder()
    observer = server_observer(recorder)
    # A padded DATA frame of 4 bytes claiming 10 bytes of padding.
    frame = struct.pack(">BHBBL", 0, 4, h2_observer.DATA, h2_observer.FLAG_PADDED, 1) + b"\x0aabc"
    with pytest.raises(Malformed, match="padding longer than the frame"):
        observer.feed(frame)
    assert recorder.calls == []


def test_a_padded_frame_without_a_pad_length_is_malformed() -> None:
    frame = struct.pack(
        ">BHBBL", 0, 0, h2_observer.HEADERS, h2_observer.FLAG_PADDED | h2_observer.FLAG_END_HEADERS, 1
    )
    with pytest.raises(Malformed, match="padded frame without a pad length"):
        server_observer(Recorder()).feed(frame)
