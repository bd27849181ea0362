"""Hostile HTTP/2 for the observer and its stream publisher: garbage, mutated conversations, huge lengths.

Whatever either peer sends, the observer and the publisher behind it raise nothing but Malformed
(the watcher then stops reading and forwarding goes on), publish only events the recording can store,
and hold no more memory than the bytes that passed (issue 14, point 5).
"""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from typing import Any

import h2.config
import h2.connection
import h2.events
import hpack
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import model
from xdsspy.capture import h2_observer
from xdsspy.capture import h2_streams
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import watch
from xdsspy.capture.h2_observer import PREFACE
from xdsspy.capture.h2_observer import Side
from xdsspy.record import codec
from xdsspy.testing import mutations
from xdsspy.testing.sinks import ListSink

D, U = Side.DOWNSTREAM, Side.UPSTREAM
ADS = b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
GRPC_REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", ADS),
    (b":authority", b"xds"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
    (b"grpc-timeout", b"5S"),
    (b"x-trace-bin", b"AAEC"),
]
GZIP_REQUEST = [*GRPC_REQUEST, (b"grpc-encoding", b"gzip")]
POLL_REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/v3/discovery:clusters"),
    (b":authority", b"xds"),
    (b"content-type", b"application/json"),
]
GRPC_RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
GZIP_RESPONSE = [*GRPC_RESPONSE, (b"grpc-encoding", b"gzip")]
TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]
SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"

Log = list[tuple[Side, bytes]]


def grpc_message(payload: bytes, *, compressed: bool = False) -> bytes:
    return bytes([compressed]) + len(payload).to_bytes(4, "big") + payload


def _pump(client: h2.connection.H2Connection, server: h2.connection.H2Connection, log: Log) -> None:
    """Moves what each side has to send to the other until both are quiet, logging it in wire order."""
    moved = True
    while moved:
        moved = False
        for side, sender, receiver in ((D, client, server), (U, server, client)):
            data = sender.data_to_send()
            if not data:
                continue
            moved = True
            log.append((side, data))
            for event in receiver.receive_data(data):
                if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                    receiver.acknowledge_received_data(event.flow_controlled_length, event.stream_id)


def conversation() -> Log:
    """A real connection's bytes in wire order: SotW ADS, a gzip call, an h2c REST poll, a reset, GOAWAY."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    log: Log = []
    client.initiate_connection()
    server.initiate_connection()
    _pump(client, server, log)
    request = discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster")
    request.node.id = "sidecar~10.0.0.1~a.default~default.svc.cluster.local"
    response = discovery_pb2.DiscoveryResponse(version_info="1", nonce="n1", type_url=request.type_url)
    response.resources.add(type_url=request.type_url, value=b"\n\x07reviews")
    client.send_headers(1, GRPC_REQUEST)
    client.send_data(1, grpc_message(request.SerializeToString()))
    client.send_headers(3, GZIP_REQUEST)
    client.send_data(3, grpc_message(gzip.compress(request.SerializeToString()), compressed=True))
    client.send_headers(5, POLL_REQUEST)
    client.send_data(5, b'{"node":{"id":"n"},"type_url":"x"}', end_stream=True)
    client.send_headers(7, GRPC_REQUEST)
    client.reset_stream(7, error_code=8)
    _pump(client, server, log)
    server.send_headers(1, GRPC_RESPONSE)
    server.send_data(1, grpc_message(response.SerializeToString()))
    server.send_headers(3, GZIP_RESPONSE)
    server.send_data(3, grpc_message(gzip.compress(response.SerializeToString()), compressed=True))
    server.send_headers(3, TRAILERS, end_stream=True)
    server.send_headers(5, [(b":status", b"200"), (b"content-type", b"application/json")])
    server.send_data(5, b'{"version_info":"1","resources":[]}', end_stream=True)
    _pump(client, server, log)
    client.send_data(1, grpc_message(request.SerializeToString()))
    _pump(client, server, log)
    server.send_headers(1, [(b"grpc-status", b"13"), (b"grpc-message", b"boom%20")], end_stream=True)
    server.close_connection(error_code=0, additional_data=b"bye", last_stream_id=7)
    _pump(client, server, log)
    return log


CONVERSATION = conversation()


def _publisher(sink: ListSink, max_message_bytes: int = 1 << 20) -> h2_streams.StreamPublisher:
    context = sink_mod.ConnectionContext(
        7, "ipv4:10.0.0.7:1", sink, sink_mod.Stamper(), sink_mod.Ids(), max_message_bytes
    )
    return h2_streams.StreamPublisher(context)


def _observe(log: Log, chunk: int, max_message_bytes: int = 1 << 20) -> ListSink:
    """Feeds the log through observer and publisher as the watcher does: stop at Malformed, then end."""
    sink = ListSink()
    publisher = _publisher(sink, max_message_bytes)
    observer = h2_observer.ConnectionObserver(publisher)
    try:
        for side, data in log:
            for i in range(0, len(data), chunk):
                observer.feed(side, data[i : i + chunk])
    except h2_observer.Malformed as e:
        assert str(e)
        cause = model.CloseCause.PROXY_ERROR
    else:
        cause = model.CloseCause.UPSTREAM
    publisher.connection_ended(cause, "the fuzz test ended the connection")
    _check_recordable(sink.events)
    return sink


def _check_recordable(events: list[model.Event]) -> None:
    """Every event the capture publishes must encode as a record: a value out of a field's range would
    cost the record, and the recording would miss what the peers said."""
    for event in events:
        assert codec.encode(event)


def test_the_unmutated_conversation_is_published_whole() -> None:
    sink = _observe(CONVERSATION, 1 << 20)
    assert len(sink.of(model.StreamOpened)) == 4
    assert len(sink.of(model.MessageSeen)) == 7
    assert not [n for n in sink.of(model.Note) if n.level is not model.NoteLevel.INFO]


@settings(max_examples=300, deadline=None)
@given(
    log=mutations.damaged_copies(CONVERSATION, max_flips=6, spliced=st.binary(min_size=1, max_size=24)),
    chunk=st.sampled_from([1, 7, 9, 100, 1 << 20]),
)
def test_flipped_spliced_and_cut_conversations_raise_only_malformed(log: Log, chunk: int) -> None:
    _observe(log, chunk)


def _frame(kind: int, flags: int, stream: int, payload: bytes, length: int | None = None) -> bytes:
    length = len(payload) if length is None else length
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, kind, flags, stream) + payload


_HEADER_NAMES = [b":path", b":status", b"content-type", b"grpc-status", b"grpc-timeout", b"grpc-encoding",
                 b"grpc-message", b"x-bin", b":authority", b":method"]  # fmt: skip
_HEADER_VALUES = st.one_of(
    st.sampled_from([b"application/grpc", b"/v3/discovery:clusters", ADS, b"gzip", b"deflate", b"200"]),
    st.from_regex(rb"\A[-+ ]?[0-9_]{1,30}[HMSmun]?\Z"),
    st.sampled_from([b"9" * 400 + b"S", b"9" * 5000, b"4294967296", b"-1"]),  # past float, int(), uint32
    st.binary(max_size=12),
)
_headers = st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _HEADER_VALUES), max_size=6)
_frames = st.one_of(
    st.builds(  # a header block the observer can decode, with any names and values the peers chose
        lambda stream, headers, end: _frame(
            h2_observer.HEADERS, 0x4 | end, stream, hpack.Encoder().encode(headers)
        ),
        st.sampled_from([1, 3, 0, 0x7FFFFFFF]),
        _headers,
        st.sampled_from([0, 1]),
    ),
    st.builds(  # gRPC messages of any declared length and flag, cut anywhere
        lambda stream, flag, length, body, end: _frame(
            h2_observer.DATA, end, stream, bytes([flag]) + length.to_bytes(4, "big") + body
        ),
        st.sampled_from([1, 3]),
        st.sampled_from([0, 1, 2, 255]),
        st.sampled_from([0, 3, 1 << 20, (1 << 32) - 1]),
        st.binary(max_size=16),
        st.sampled_from([0, 1]),
    ),
    st.builds(  # any frame type, flags and stream, with the length it claims or another
        lambda kind, flags, stream, payload, length: _frame(kind, flags, stream, payload, length),
        st.integers(0, 12),
        st.integers(0, 255),
        st.sampled_from([0, 1, 3, 0xFFFFFFFF]),
        st.binary(max_size=24),
        st.one_of(st.none(), st.integers(0, 0xFFFFFF)),
    ),
    st.binary(max_size=16),
)


@settings(max_examples=400, deadline=None)
@given(
    down=st.lists(_frames, max_size=8),
    up=st.lists(_frames, max_size=8),
    encoding=st.sampled_from([b"gzip", b"deflate", b"identity", b"br"]),
)
def test_frames_of_any_shape_after_a_valid_start_raise_only_malformed(
    down: list[bytes], up: list[bytes], encoding: bytes
) -> None:
    opening = hpack.Encoder().encode([*GRPC_REQUEST, (b"grpc-encoding", encoding)])
    log: Log = [
        (D, PREFACE + SETTINGS_FRAME + _frame(h2_observer.HEADERS, 0x4, 1, opening)),
        (U, SETTINGS_FRAME + _frame(h2_observer.HEADERS, 0x4, 1, hpack.Encoder().encode(GZIP_RESPONSE))),
    ]
    for pair in zip(down, up, strict=False):
        log += [(D, pair[0]), (U, pair[1])]
    log += [(D, b"".join(down[len(up) :])), (U, b"".join(up[len(down) :]))]
    _observe(log, 1 << 20)


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from([D, U]), data=st.binary(max_size=256), preface=st.booleans())
def test_arbitrary_bytes_on_either_side_raise_only_malformed(side: Side, data: bytes, preface: bool) -> None:
    head: Log = [(D, PREFACE + SETTINGS_FRAME), (U, SETTINGS_FRAME)] if preface else []
    _observe([*head, (side, data)], 1 << 20)
    _observe([*head, (side, data)], 1)


@settings(max_examples=200, deadline=None)
@given(log=st.lists(st.tuples(st.sampled_from([D, U]), st.binary(max_size=64)), max_size=8))
def test_the_watcher_never_raises_into_the_relay(log: Log) -> None:
    sink = ListSink()
    context = sink_mod.ConnectionContext(
        1, "ipv4:10.0.0.7:1", sink, sink_mod.Stamper(), sink_mod.Ids(), 1 << 20
    )
    watcher = watch.ConnectionWatch(context)
    for side, data in [(D, PREFACE), *log]:
        watcher.feed(side, data)
    watcher.connection_ended(model.CloseCause.DOWNSTREAM, "gone")
    _check_recordable(sink.events)


def _peak_while(feed: list[tuple[Side, bytes]], max_message_bytes: int = 1 << 30) -> int:
    """Peak traced bytes while the observer reads `feed`, one fresh 64 KiB chunk at a time."""
    sink = ListSink()
    observer = h2_observer.ConnectionObserver(_publisher(sink, max_message_bytes))
    tracemalloc.start()
    try:
        for side, data in feed:
            observer.feed(side, data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_PIECE = bytes(64 << 10)
_OPEN = PREFACE + SETTINGS_FRAME + _frame(h2_observer.HEADERS, 0x4, 1, hpack.Encoder().encode(GRPC_REQUEST))


def test_a_4_gb_grpc_message_is_skipped_without_holding_its_bytes() -> None:
    declared = _frame(
        h2_observer.DATA, 0, 1, grpc_message(b"")[:1] + (0xFFFFFFFF).to_bytes(4, "big"), 0xFFFFFF
    )
    pieces = [(D, _PIECE[:]) for _ in range(64)]  # 4 MiB of the message passes
    assert _peak_while([(D, _OPEN + declared), *pieces]) < 1 << 20


def test_a_message_declared_under_the_limit_holds_only_the_bytes_that_passed() -> None:
    declared = _frame(h2_observer.DATA, 0, 1, b"\0" + ((1 << 30) - 1).to_bytes(4, "big"), 0xFFFFFF)
    pieces = [(D, bytes(64 << 10)) for _ in range(32)]  # 2 MiB
    assert _peak_while([(D, _OPEN + declared), *pieces]) < 4 << 20  # what passed, not what was declared


def test_a_header_frame_declaring_16_mb_holds_only_the_bytes_that_passed() -> None:
    declared = _frame(h2_observer.HEADERS, 0, 3, b"", 0xFFFFFF)
    pieces = [(D, bytes(64 << 10)) for _ in range(32)]
    assert _peak_while([(D, _OPEN + declared), *pieces]) < 4 << 20


def test_a_gzip_bomb_is_not_inflated_past_the_recording_limit() -> None:
    bomb = gzip.compress(bytes(256 << 20), compresslevel=9)  # 256 MiB in about 250 KiB
    frames = PREFACE + SETTINGS_FRAME
    frames += _frame(h2_observer.HEADERS, 0x4, 1, hpack.Encoder().encode(GZIP_REQUEST))
    message = grpc_message(bomb, compressed=True)
    for i in range(0, len(message), 16384):
        frames += _frame(h2_observer.DATA, 0, 1, message[i : i + 16384])
    sink = ListSink()
    observer = h2_observer.ConnectionObserver(_publisher(sink, 1 << 20))
    tracemalloc.start()
    try:
        observer.feed(D, frames)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    (seen,) = sink.of(model.MessageSeen)
    assert bytes(seen.raw) == bomb  # recorded as sent, with a note saying why
    (note,) = [n for n in sink.of(model.Note) if "inflates" in n.text]
    assert "inflates past the limit of 1048576 bytes" in note.text


_calls = st.lists(
    st.one_of(
        st.tuples(
            st.just("headers"), st.sampled_from([D, U]), st.sampled_from([1, 3]), _headers, st.booleans()
        ),
        st.tuples(st.just("data"), st.sampled_from([D, U]), st.sampled_from([1, 3]), st.binary(max_size=24)),
        st.tuples(st.just("end"), st.sampled_from([D, U]), st.sampled_from([1, 3])),
        st.tuples(
            st.just("reset"), st.sampled_from([D, U]), st.sampled_from([1, 3]), st.integers(0, 1 << 32)
        ),
        st.tuples(
            st.just("goaway"),
            st.sampled_from([D, U]),
            st.integers(0, 1 << 31),
            st.integers(0, 9),
            st.binary(max_size=8),
        ),
    ),
    max_size=10,
)


@settings(max_examples=500, deadline=None)
@given(calls=_calls, encoding=st.sampled_from([b"gzip", b"deflate", b"identity", b"br", b""]))
def test_any_sequence_of_listener_calls_publishes_only_recordable_events(
    calls: list[tuple[Any, ...]], encoding: bytes
) -> None:
    """The publisher behind the observer, driven directly: any headers in any order on any stream."""
    sink = ListSink()
    publisher = _publisher(sink)
    publisher.on_headers(D, 1, [*GRPC_REQUEST, (b"grpc-encoding", encoding)], False)
    publisher.on_headers(D, 3, POLL_REQUEST, False)
    for call in calls:
        if call[0] == "headers":
            publisher.on_headers(*call[1:])
        elif call[0] == "data":
            publisher.on_data(call[1], call[2], memoryview(call[3]))
        elif call[0] == "end":
            publisher.on_end_stream(*call[1:])
        elif call[0] == "reset":
            publisher.on_reset(*call[1:])
        else:
            publisher.on_goaway(*call[1:])
    publisher.connection_ended(model.CloseCause.UPSTREAM, "the fuzz test ended the connection")
    _check_recordable(sink.events)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"grpc-timeout", b"9" * 400 + b"S"),  # int * 3600.0 overflowed a float
        (b":status", b"4294967296"),  # past the uint32 a recording stores
        (b"grpc-status", b"99999999999"),
        (b"grpc-status", b"9" * 5000),  # past what int() reads
        (b":status", b"-1"),
    ],
)
def test_numbers_no_recording_can_hold_are_not_taken_as_numbers(name: bytes, value: bytes) -> None:
    sink = ListSink()
    publisher = _publisher(sink)
    publisher.on_headers(D, 1, [*GRPC_REQUEST, (name, value)], False)
    publisher.on_headers(U, 1, [*GRPC_RESPONSE, (name, value)], False)
    publisher.on_headers(U, 1, [(name, value)], True)
    _check_recordable(sink.events)
    assert [type(e).__name__ for e in sink.events] == ["StreamOpened", "ResponseHeadersSeen", "StreamClosed"]


class _Blocks:
    """A Listener keeping only the header lists."""

    def __init__(self) -> None:
        self.lists: list[h2_observer.Headers] = []

    def on_headers(self, side: Side, stream_id: int, headers: h2_observer.Headers, end_stream: bool) -> None:
        self.lists.append(headers)

    def on_data(self, side: Side, stream_id: int, piece: memoryview) -> None: ...

    def on_end_stream(self, side: Side, stream_id: int) -> None: ...

    def on_reset(self, side: Side, stream_id: int, error_code: int) -> None: ...

    def on_goaway(self, side: Side, last_stream_id: int, error_code: int, debug: bytes) -> None: ...


def _read_blocks(blocks: list[bytes]) -> list[h2_observer.Headers]:
    listener = _Blocks()
    observer = h2_observer.DirectionObserver(D, listener)
    observer.feed(PREFACE)
    for block in blocks:
        for start in range(0, len(block), 1 << 14):  # HEADERS then CONTINUATIONs, as a peer sends them
            last = start + (1 << 14) >= len(block)
            observer.feed(_frame(h2_observer.CONTINUATION if start else h2_observer.HEADERS, 0x4 * last, 1,
                                 block[start : start + (1 << 14)]))  # fmt: skip
    return listener.lists


@settings(max_examples=60, deadline=None)
@given(
    lists=st.lists(
        st.lists(
            st.tuples(st.sampled_from([b"x-a", b"x-b", b":path", b"grpc-status"]), st.binary(max_size=300)),
            min_size=1,
            max_size=200,
        ),
        min_size=1,
        max_size=3,
    ),
    huffman=st.booleans(),
)
def test_large_header_blocks_read_in_pieces_give_what_hpack_gives_in_one_call(
    lists: list[h2_observer.Headers], huffman: bool
) -> None:
    encoder = hpack.Encoder()
    blocks = [encoder.encode(headers, huffman=huffman) for headers in lists]
    whole = hpack.Decoder(max_header_list_size=1 << 24)
    assert _read_blocks(blocks) == [list(whole.decode(block, raw=True)) for block in blocks]


def test_a_block_of_a_million_tiny_literal_fields_is_read_in_linear_time() -> None:
    """hpack copies the rest of the block for each literal: in one call this block took minutes."""
    (headers,) = _read_blocks([b"\x00\x01a\x00" * (1 << 18)])  # 262,144 fields "a: "
    assert len(headers) == 1 << 18


@pytest.mark.parametrize(
    "block",
    [
        b"\x82" * 5000 + b"\x3f\xe1\x1f",  # a table size update after a field
        b"\x20\x20\x20" + b"\x82" * 5000,  # three
        b"\x82" * 5000 + b"\x00\x7f\xff\xff\xff\xff\xff\x7f",  # an integer longer than hpack reads
        b"\x82" * 5000 + b"\x00\x05abc",  # a string cut short
    ],
    ids=["update-after-a-field", "three-updates", "long-integer", "cut-string"],
)
def test_large_blocks_hpack_would_refuse_are_malformed(block: bytes) -> None:
    with pytest.raises(h2_observer.Malformed, match="cannot decode a header block"):
        _read_blocks([block])
