"""gRPC streams and h2c discovery polls published from an observed connection.

A client and a server made with h2 talk to each other; every byte either
sends also goes, in wire order, through an h2_observer into the publisher
under test, as the relay's watcher does.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import random
import zlib
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from xdsspy import model
from xdsspy.capture import h2_observer
from xdsspy.capture import h2_streams
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side
from xdsspy.testing import sinks
from xdsspy.testing.sinks import ListSink

PEER = "ipv4:10.0.0.7:51234"
CONNECTION = 7
ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
BASE_REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", ADS.encode()),
    (b":authority", b"xds"),
]
GRPC_REQUEST = [*BASE_REQUEST, (b"content-type", b"application/grpc"), (b"te", b"trailers")]
GRPC_RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
OK_TRAILERS = [(b"grpc-status", b"0")]


class Wire:
    """An h2 client (Envoy) and server (the control plane) whose bytes pass the observer and publisher."""

    def __init__(
        self, *, max_message_bytes: int = 1 << 20, ids: sink_mod.Ids | None = None, true_binary: bool = False
    ) -> None:
        self.sink = ListSink()
        self.publisher = h2_streams.StreamPublisher(
            sink_mod.ConnectionContext(
                CONNECTION, PEER, self.sink, sink_mod.Stamper(), ids or sink_mod.Ids(), max_message_bytes
            )
        )
        self.observer = h2_observer.ConnectionObserver(self.publisher)
        self.client = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        # h2 refuses NUL in header values; a server that allows grpc's "true binary" metadata does not.
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=False, header_encoding=None, validate_inbound_headers=not true_binary
            )
        )
        self.log: list[tuple[Side, bytes]] = []  # what passed, in wire order
        self.client.initiate_connection()
        self.server.initiate_connection()
        self.pump()

    def pump(self) -> None:
        while True:
            down = self.client.data_to_send()
            up = self.server.data_to_send()
            if not down and not up:
                return
            if down:
                self.log.append((Side.DOWNSTREAM, down))
                self.observer.feed(Side.DOWNSTREAM, down)
                _acknowledge(self.server, self.server.receive_data(down))
            if up:
                self.log.append((Side.UPSTREAM, up))
                self.observer.feed(Side.UPSTREAM, up)
                _acknowledge(self.client, self.client.receive_data(up))

    def request(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], *, end_stream: bool = False
    ) -> None:
        self.client.send_headers(stream_id, headers, end_stream=end_stream)
        self.pump()

    def respond(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], *, end_stream: bool = False
    ) -> None:
        self.server.send_headers(stream_id, headers, end_stream=end_stream)
        self.pump()

    def send(self, side: Side, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """data in as many DATA frames as the peer's maximum frame size needs."""
        conn = self.client if side is Side.DOWNSTREAM else self.server
        size = conn.max_outbound_frame_size
        pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        for i, piece in enumerate(pieces):
            conn.send_data(stream_id, piece, end_stream=end_stream and i == len(pieces) - 1)
            self.pump()


def _acknowledge(conn: h2.connection.H2Connection, events: list[h2.events.Event]) -> None:
    """Gives flow-control credit back, so tests can send more than the initial 64 KiB window."""
    for event in events:
        if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)


def frame(payload: bytes, *, compressed: bool = False) -> bytes:
    return bytes([1 if compressed else 0]) + len(payload).to_bytes(4, "big") + payload


def only(events: list[Any]) -> Any:
    assert len(events) == 1, events
    return events[0]


def grpc_stream_to_trailers(wire: Wire, stream_id: int = 1) -> None:
    wire.request(stream_id, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, stream_id, frame(b"req"))
    wire.respond(stream_id, GRPC_RESPONSE)
    wire.send(Side.UPSTREAM, stream_id, frame(b"resp"))
    wire.respond(stream_id, OK_TRAILERS, end_stream=True)


# -- gRPC streams -------------------------------------------------------------------------------


def test_a_bidi_grpc_stream_is_published_in_wire_order() -> None:
    wire = Wire()
    wire.request(
        1,
        [
            *GRPC_REQUEST,
            (b"grpc-timeout", b"5S"),
            (b"user-agent", b"envoy/1.40.0"),
            (b"x-envoy-peer-metadata-id", b"sidecar~10.0.0.7"),
        ],
    )
    wire.send(Side.DOWNSTREAM, 1, frame(b"request one"))
    wire.respond(1, [*GRPC_RESPONSE, (b"x-served-by", b"cp-0")])
    wire.send(Side.UPSTREAM, 1, frame(b"response one") + frame(b"response two"))
    wire.send(Side.DOWNSTREAM, 1, frame(b"request two") + frame(b""))
    wire.send(Side.DOWNSTREAM, 1, b"", end_stream=True)
    wire.respond(
        1,
        [(b"grpc-status", b"5"), (b"grpc-message", b"caf%C3%A9%3A%20not%20found"), (b"x-debug", b"1")],
        end_stream=True,
    )

    assert wire.sink.kinds() == [
        "StreamOpened",
        "MessageSeen",
        "ResponseHeadersSeen",
        "MessageSeen",
        "MessageSeen",
        "MessageSeen",
        "MessageSeen",
        "StreamClosed",
    ]
    opened, req1, headers, resp1, resp2, req2, req3, closed = wire.sink.events
    assert isinstance(opened, model.StreamOpened)
    assert (opened.connection, opened.stream) == (CONNECTION, 1)
    assert opened.transport is model.Transport.GRPC
    assert opened.method == ADS
    assert opened.peer == PEER
    assert opened.http_method == ""
    assert opened.timeout_seconds == 5.0
    assert opened.metadata == (
        ("content-type", b"application/grpc"),
        ("te", b"trailers"),
        ("grpc-timeout", b"5S"),
        ("user-agent", b"envoy/1.40.0"),
        ("x-envoy-peer-metadata-id", b"sidecar~10.0.0.7"),
    )
    messages = [m for m in (req1, resp1, resp2, req2, req3) if isinstance(m, model.MessageSeen)]
    assert [(m.direction, m.raw) for m in messages] == [
        (model.Direction.REQUEST, b"request one"),
        (model.Direction.RESPONSE, b"response one"),
        (model.Direction.RESPONSE, b"response two"),
        (model.Direction.REQUEST, b"request two"),
        (model.Direction.REQUEST, b""),
    ]
    assert {(m.connection, m.stream, m.method) for m in messages} == {(CONNECTION, 1, ADS)}
    assert isinstance(headers, model.ResponseHeadersSeen)
    assert (headers.connection, headers.stream, headers.method) == (CONNECTION, 1, ADS)
    assert headers.http_status == 200
    assert headers.metadata == (("content-type", b"application/grpc"), ("x-served-by", b"cp-0"))
    assert closed == model.StreamClosed(
        seq=closed.seq,
        wall_ns=closed.wall_ns,
        monotonic_ns=closed.monotonic_ns,
        connection=CONNECTION,
        stream=1,
        code=5,
        details="café: not found",
        trailers=(("x-debug", b"1"),),
        cause=model.CloseCause.UPSTREAM,
        method=ADS,
    )


def test_binary_metadata_is_base64_decoded_and_true_binary_taken_as_is() -> None:
    wire = Wire(true_binary=True)
    trace = b"\x00\x01\xfe\xff binary"
    wire.request(
        1,
        [
            *GRPC_REQUEST,
            (b"x-trace-bin", base64.b64encode(trace).rstrip(b"=")),  # gRPC sends it unpadded
            (b"x-padded-bin", base64.b64encode(b"ab")),
            (b"x-raw-bin", b"\x00\x01\x02\xff"),  # "true binary": a NUL byte, then the value
            (b"x-not-base64-bin", b"not base64!"),
            (b"x-plain", b"dGV4dA"),  # not '-bin': left alone
        ],
    )
    opened = only(wire.sink.of(model.StreamOpened))
    assert opened.metadata[2:] == (
        ("x-trace-bin", trace),
        ("x-padded-bin", b"ab"),
        ("x-raw-bin", b"\x01\x02\xff"),
        ("x-not-base64-bin", b"not base64!"),
        ("x-plain", b"dGV4dA"),
    )


def test_binary_trailers_are_decoded_too() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    details = b"\x08\x03\x12\x04oops"  # a google.rpc.Status
    wire.respond(
        1,
        [*GRPC_RESPONSE, (b"grpc-status", b"3"), (b"grpc-status-details-bin", base64.b64encode(details))],
        end_stream=True,
    )
    closed = only(wire.sink.of(model.StreamClosed))
    assert closed.trailers == (("content-type", b"application/grpc"), ("grpc-status-details-bin", details))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"5S", 5.0),
        (b"100m", 0.1),
        (b"2M", 120.0),
        (b"1H", 3600.0),
        (b"250u", 250e-6),
        (b"7000n", 7e-6),
        (b"99999999S", 99999999.0),
        (b"", 0.0),
        (b"5", 0.0),
        (b"S", 0.0),
        (b"5s", 0.0),
        (b"1.5S", 0.0),
        (b"-1S", 0.0),
    ],
)
def test_timeout_from_grpc_timeout(value: bytes, seconds: float) -> None:
    wire = Wire()
    wire.request(1, [*GRPC_REQUEST, (b"grpc-timeout", value)] if value else GRPC_REQUEST)
    assert only(wire.sink.of(model.StreamOpened)).timeout_seconds == pytest.approx(seconds)


def test_grpc_content_type_variants_are_grpc() -> None:
    wire = Wire()
    request = [(k, b"application/grpc+proto" if k == b"content-type" else v) for k, v in GRPC_REQUEST]
    wire.request(1, request)
    assert only(wire.sink.of(model.StreamOpened)).transport is model.Transport.GRPC


def test_a_trailers_only_response_closes_the_stream_without_response_headers() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, 1, frame(b"req"), end_stream=True)
    wire.respond(
        1,
        [*GRPC_RESPONSE, (b"grpc-status", b"12"), (b"grpc-message", b"unknown%20service")],
        end_stream=True,
    )
    assert wire.sink.kinds() == ["StreamOpened", "MessageSeen", "StreamClosed"]
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.details, closed.cause) == (12, "unknown service", model.CloseCause.UPSTREAM)
    assert closed.trailers == (("content-type", b"application/grpc"),)


def test_an_unparsable_grpc_status_is_not_recorded_as_ok() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, GRPC_RESPONSE)
    wire.respond(1, [(b"grpc-status", b"oops"), (b"grpc-message", b"broken server")], end_stream=True)
    closed = only(wire.sink.of(model.StreamClosed))
    assert closed.code in (2, 13)


def test_trailers_without_grpc_status_map_the_http_status() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, [(b":status", b"503"), (b"content-type", b"text/plain")], end_stream=True)
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.details) == (14, "no grpc-status in the trailers (HTTP status 503)")


def test_trailers_without_grpc_status_after_response_headers() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, GRPC_RESPONSE)
    wire.respond(1, [(b"x-trailer", b"v")], end_stream=True)
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.details) == (2, "no grpc-status in the trailers (HTTP status 200)")
    assert closed.trailers == (("x-trailer", b"v"),)


def test_a_response_ended_by_data_without_trailers() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, GRPC_RESPONSE)
    wire.send(Side.UPSTREAM, 1, frame(b"resp"), end_stream=True)
    assert wire.sink.kinds() == ["StreamOpened", "ResponseHeadersSeen", "MessageSeen", "StreamClosed"]
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause) == (2, model.CloseCause.UPSTREAM)
    assert closed.details == "the control plane ended the stream without trailers"


def test_the_client_half_closing_does_not_close_the_stream() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, 1, frame(b"only request"), end_stream=True)
    assert wire.sink.kinds() == ["StreamOpened", "MessageSeen"]
    wire.respond(1, GRPC_RESPONSE)
    wire.respond(1, OK_TRAILERS, end_stream=True)
    assert wire.sink.kinds() == ["StreamOpened", "MessageSeen", "ResponseHeadersSeen", "StreamClosed"]
    assert only(wire.sink.of(model.StreamClosed)).code == 0


def test_messages_split_over_many_data_frames_are_whole() -> None:
    wire = Wire()
    big = bytes(range(256)) * 1000  # 256000 bytes: many frames and window updates
    wire.request(1, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, 1, frame(big) + frame(b"small"))
    wire.respond(1, GRPC_RESPONSE)
    wire.send(Side.UPSTREAM, 1, frame(big[::-1]))
    assert [(m.direction, m.raw) for m in wire.sink.of(model.MessageSeen)] == [
        (model.Direction.REQUEST, big),
        (model.Direction.REQUEST, b"small"),
        (model.Direction.RESPONSE, big[::-1]),
    ]


def test_gzip_messages_are_recorded_decompressed() -> None:
    wire = Wire()
    wire.request(1, [*GRPC_REQUEST, (b"grpc-encoding", b"gzip"), (b"grpc-accept-encoding", b"gzip")])
    request = b"node { id: 'sidecar' } " * 50
    wire.send(Side.DOWNSTREAM, 1, frame(gzip.compress(request), compressed=True) + frame(b"plain too"))
    wire.respond(1, [*GRPC_RESPONSE, (b"grpc-encoding", b"gzip")])
    response = b"resources " * 200
    wire.send(Side.UPSTREAM, 1, frame(gzip.compress(response), compressed=True))
    assert [m.raw for m in wire.sink.of(model.MessageSeen)] == [request, b"plain too", response]
    assert wire.sink.of(model.Note) == []


def test_deflate_responses_are_recorded_decompressed() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, [*GRPC_RESPONSE, (b"grpc-encoding", b"deflate")])
    wire.send(Side.UPSTREAM, 1, frame(zlib.compress(b"deflated " * 30), compressed=True))
    assert [m.raw for m in wire.sink.of(model.MessageSeen)] == [b"deflated " * 30]


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [(b"gzip", b"this is not gzip"), (b"snappy", b"\x0a\x24whatever")],
)
def test_a_message_that_cannot_be_decompressed_is_noted_and_recorded_as_sent(
    encoding: bytes, payload: bytes
) -> None:
    wire = Wire()
    wire.request(1, [*GRPC_REQUEST, (b"grpc-encoding", encoding)])
    wire.send(Side.DOWNSTREAM, 1, frame(payload, compressed=True))
    assert wire.sink.kinds() == ["StreamOpened", "Note", "MessageSeen"]
    note = only(wire.sink.of(model.Note))
    assert note.level is model.NoteLevel.WARNING
    assert (note.connection, note.stream) == (CONNECTION, 1)
    assert note.text.startswith("a compressed request message could not be decompressed (")
    assert note.text.endswith("); recorded as sent")
    assert only(wire.sink.of(model.MessageSeen)).raw == payload


def test_a_message_over_the_limit_is_noted_not_recorded_and_the_next_one_is() -> None:
    wire = Wire(max_message_bytes=1000)
    wire.request(1, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, 1, frame(b"x" * 50_000) + frame(b"y" * 1000))
    wire.respond(1, GRPC_RESPONSE)
    wire.send(Side.UPSTREAM, 1, frame(b"z" * 1001) + frame(b"after"))
    wire.respond(1, OK_TRAILERS, end_stream=True)
    assert wire.sink.kinds() == [
        "StreamOpened",
        "Note",
        "MessageSeen",
        "ResponseHeadersSeen",
        "Note",
        "MessageSeen",
        "StreamClosed",
    ]
    assert [m.raw for m in wire.sink.of(model.MessageSeen)] == [b"y" * 1000, b"after"]
    assert [n.text for n in wire.sink.of(model.Note)] == [
        "a request message of 50000 bytes was forwarded but not recorded: over the limit of 1000 bytes"
        " (--max-message-bytes)",
        "a response message of 1001 bytes was forwarded but not recorded: over the limit of 1000 bytes"
        " (--max-message-bytes)",
    ]
    assert {(n.level, n.stream) for n in wire.sink.of(model.Note)} == {(model.NoteLevel.WARNING, 1)}
    assert only(wire.sink.of(model.StreamClosed)).code == 0


def test_a_reset_by_envoy_closes_the_stream_as_cancelled_by_downstream() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.respond(1, GRPC_RESPONSE)
    wire.client.reset_stream(1, error_code=h2.errors.ErrorCodes.CANCEL)
    wire.pump()
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause, closed.trailers) == (1, model.CloseCause.DOWNSTREAM, ())
    assert closed.details == "Envoy reset the stream (HTTP/2 error code 8)"
    assert closed.method == ADS


@pytest.mark.parametrize(
    ("error_code", "status"),
    [
        (h2.errors.ErrorCodes.NO_ERROR, 13),
        (h2.errors.ErrorCodes.PROTOCOL_ERROR, 13),
        (h2.errors.ErrorCodes.REFUSED_STREAM, 14),
        (h2.errors.ErrorCodes.CANCEL, 1),
        (h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, 8),
        (h2.errors.ErrorCodes.INADEQUATE_SECURITY, 7),
    ],
)
def test_a_reset_by_the_control_plane_closes_the_stream_with_the_upstream_cause(
    error_code: h2.errors.ErrorCodes, status: int
) -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.server.reset_stream(1, error_code=error_code)
    wire.pump()
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause) == (status, model.CloseCause.UPSTREAM)
    assert closed.details == f"the control plane reset the stream (HTTP/2 error code {int(error_code)})"


def test_a_reset_after_the_trailers_publishes_nothing_more() -> None:
    wire = Wire()
    grpc_stream_to_trailers(wire)
    before = list(wire.sink.events)
    wire.client.reset_stream(1, error_code=h2.errors.ErrorCodes.CANCEL)
    wire.pump()
    assert wire.sink.events == before


def test_a_stream_reset_inside_a_message_notes_the_bytes_that_passed() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.send(Side.DOWNSTREAM, 1, frame(b"0123456789")[:8])
    wire.client.reset_stream(1, error_code=h2.errors.ErrorCodes.CANCEL)
    wire.pump()
    assert wire.sink.kinds() == ["StreamOpened", "Note", "StreamClosed"]
    note = only(wire.sink.of(model.Note))
    assert note.text == "the stream ended inside a request message: 8 bytes of it passed"
    assert (note.level, note.connection, note.stream) == (model.NoteLevel.WARNING, CONNECTION, 1)


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (model.CloseCause.DOWNSTREAM, 1),
        (model.CloseCause.PROXY_SHUTDOWN, 1),
        (model.CloseCause.PROXY_ERROR, 1),
        (model.CloseCause.UPSTREAM, 14),
    ],
)
def test_the_connection_ending_closes_every_open_stream_with_its_cause(
    cause: model.CloseCause, code: int
) -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.request(3, GRPC_REQUEST)
    wire.respond(3, GRPC_RESPONSE)
    grpc_stream_to_trailers(wire, 5)  # already closed: not closed again
    wire.request(
        7, [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/healthz"), (b":authority", b"x")]
    )
    before = len(wire.sink.of(model.StreamClosed))
    wire.publisher.connection_ended(cause, "the connection went away")
    closed = wire.sink.of(model.StreamClosed)[before:]
    assert [(c.stream, c.code, c.details, c.cause) for c in closed] == [
        (1, code, "the connection went away", cause),
        (2, code, "the connection went away", cause),
    ]
    wire.publisher.connection_ended(cause, "again")
    assert len(wire.sink.of(model.StreamClosed)) == before + 2


def test_the_connection_ending_while_the_control_plane_is_unreachable() -> None:
    wire = Wire()
    wire.request(1, GRPC_REQUEST)
    wire.publisher.context.unreachable = "connect to 10.0.0.1:18000 refused"
    wire.publisher.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause, closed.details) == (
        14,
        model.CloseCause.UPSTREAM_UNAVAILABLE,
        "connect to 10.0.0.1:18000 refused",
    )


def test_trailers_sent_for_an_unreachable_control_plane_say_so_in_the_cause() -> None:
    wire = Wire()
    wire.publisher.context.unreachable = "no route to the control plane"
    wire.request(1, GRPC_REQUEST)
    wire.respond(
        1, [*GRPC_RESPONSE, (b"grpc-status", b"14"), (b"grpc-message", b"unreachable")], end_stream=True
    )
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause) == (14, model.CloseCause.UPSTREAM_UNAVAILABLE)


def test_goaway_is_noted_with_its_code_last_stream_and_debug_data() -> None:
    wire = Wire()
    grpc_stream_to_trailers(wire)
    wire.server.close_connection(
        error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, additional_data=b"too_many_pings"
    )
    wire.pump()
    note = wire.sink.events[-1]
    assert isinstance(note, model.Note)
    assert (note.connection, note.stream, note.level) == (CONNECTION, 0, model.NoteLevel.INFO)
    assert note.text == "the control plane sent GOAWAY (error code 11, last stream 1): too_many_pings"


def test_goaway_from_envoy_without_debug_data() -> None:
    wire = Wire()
    wire.client.close_connection()
    wire.pump()
    note = only(wire.sink.of(model.Note))
    assert note.text == "Envoy sent GOAWAY (error code 0, last stream 0)"


def test_streams_get_distinct_ids_from_the_shared_counter_and_seq_increases() -> None:
    ids = sink_mod.Ids()
    assert ids.new_stream() == 1  # another proxy of the capture took one already
    wire = Wire(ids=ids)
    for stream_id in (1, 3, 5):
        wire.request(stream_id, GRPC_REQUEST)
    for stream_id in (1, 3, 5):
        wire.send(Side.DOWNSTREAM, stream_id, frame(f"on {stream_id}".encode()))
    opened = wire.sink.of(model.StreamOpened)
    assert [o.stream for o in opened] == [2, 3, 4]
    assert [(m.stream, m.raw) for m in wire.sink.of(model.MessageSeen)] == [
        (2, b"on 1"),
        (3, b"on 3"),
        (4, b"on 5"),
    ]
    seqs = [e.seq for e in wire.sink.events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert ids.new_stream() == 5


def test_a_stream_that_is_neither_grpc_nor_a_poll_publishes_nothing() -> None:
    wire = Wire()
    get = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/healthz"), (b":authority", b"cp")]
    wire.request(1, get, end_stream=True)
    wire.respond(1, [(b":status", b"200"), (b"content-type", b"text/plain")])
    wire.send(Side.UPSTREAM, 1, b"OK", end_stream=True)
    wire.request(3, [*BASE_REQUEST, (b"content-type", b"application/json")])  # the ADS path, not gRPC
    wire.send(Side.DOWNSTREAM, 3, frame(b"{}"))
    wire.server.reset_stream(3)
    wire.pump()
    wire.publisher.connection_ended(model.CloseCause.DOWNSTREAM, "gone")
    assert wire.sink.events == []


def without_times(events: list[model.Event]) -> list[model.Event]:
    return [dataclasses.replace(e, wall_ns=0, monotonic_ns=0) for e in events]


def replay(log: list[tuple[Side, bytes]], chunk_sizes: Callable[[], int]) -> list[model.Event]:
    sink = ListSink()
    publisher = h2_streams.StreamPublisher(
        sink_mod.ConnectionContext(CONNECTION, PEER, sink, sink_mod.Stamper(), sink_mod.Ids(), 1000)
    )
    observer = h2_observer.ConnectionObserver(publisher)
    for side, data in log:
        pos = 0
        while pos < len(data):
            size = chunk_sizes()
            observer.feed(side, data[pos : pos + size])
            pos += size
    return sink.events


def test_the_same_events_whatever_the_chunks() -> None:
    wire = Wire(max_message_bytes=1000)
    wire.request(1, [*GRPC_REQUEST, (b"grpc-encoding", b"gzip")])
    wire.send(Side.DOWNSTREAM, 1, frame(gzip.compress(b"zipped " * 40), compressed=True) + frame(b"a" * 5000))
    wire.request(
        3,
        [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/v3/discovery:secrets"),
            (b":authority", b"x"),
        ],
    )
    wire.send(Side.DOWNSTREAM, 3, b"{}", end_stream=True)
    wire.respond(1, GRPC_RESPONSE)
    wire.respond(3, [(b":status", b"200")])
    wire.send(Side.UPSTREAM, 1, frame(b"r1") + frame(b"") + frame(b"r2"))
    wire.send(Side.UPSTREAM, 3, b'{"resources": []}', end_stream=True)
    wire.respond(1, [(b"grpc-status", b"0"), (b"x-t", b"1")], end_stream=True)
    assert wire.sink.kinds() == [
        *("StreamOpened", "MessageSeen", "Note"),  # the gRPC stream's second message is over the limit
        *("StreamOpened", "MessageSeen"),
        *("ResponseHeadersSeen", "ResponseHeadersSeen"),
        *("MessageSeen", "MessageSeen", "MessageSeen"),
        *("MessageSeen", "StreamClosed", "StreamClosed"),
    ]
    expected = without_times(wire.sink.events)
    rng = random.Random(11)
    assert without_times(replay(wire.log, lambda: 1)) == expected
    for largest in (2, 9, 40, 1000):
        sizes = functools.partial(rng.randint, 1, largest)
        assert without_times(replay(wire.log, sizes)) == expected, largest


# -- REST polls over h2c ---------------------------------------------------------------------------


def test_a_rest_poll_over_h2c_is_published_like_a_poll_over_http1() -> None:
    wire = Wire()
    path = b"/v3/discovery:clusters"
    body = b'{"node": {"id": "sidecar"}, "version_info": "1"}'
    wire.request(
        1,
        [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path),
            (b":authority", b"xds"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    )
    wire.send(Side.DOWNSTREAM, 1, body[:10])
    wire.send(Side.DOWNSTREAM, 1, body[10:], end_stream=True)
    answer = b'{"version_info": "2", "resources": []}'
    wire.respond(1, [(b":status", b"200"), (b"content-type", b"application/json")])
    wire.send(Side.UPSTREAM, 1, answer, end_stream=True)

    assert wire.sink.kinds() == sinks.POLL
    opened, request, headers, response, closed = wire.sink.events
    assert isinstance(opened, model.StreamOpened)
    assert (opened.connection, opened.stream, opened.peer) == (CONNECTION, 1, PEER)
    assert (opened.transport, opened.method, opened.http_method, opened.http_version) == (
        model.Transport.REST,
        path.decode(),
        "POST",
        "2",
    )
    assert opened.metadata == (  # as over HTTP/1.1: :authority is the Host header
        ("host", b"xds"),
        ("content-type", b"application/json"),
        ("content-length", str(len(body)).encode()),
    )
    assert isinstance(request, model.MessageSeen)
    assert (request.direction, request.raw) == (model.Direction.REQUEST, body)
    assert isinstance(headers, model.ResponseHeadersSeen)
    assert headers.http_status == 200
    assert headers.metadata == (("content-type", b"application/json"),)
    assert isinstance(response, model.MessageSeen)
    assert (response.direction, response.raw) == (model.Direction.RESPONSE, answer)
    assert isinstance(closed, model.StreamClosed)
    assert (closed.code, closed.details, closed.cause, closed.trailers) == (
        0,
        "HTTP 200",
        model.CloseCause.UPSTREAM,
        (),
    )
    assert {(e.connection, e.stream) for e in wire.sink.events} == {(CONNECTION, 1)}


def test_a_rest_get_poll_answered_304_without_a_body() -> None:
    wire = Wire()
    target = b"/v3/discovery:listeners?version_info=7"
    wire.request(
        1,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", target), (b":authority", b"x")],
        end_stream=True,
    )
    wire.respond(1, [(b":status", b"304")], end_stream=True)
    assert wire.sink.kinds() == sinks.POLL
    opened = only(wire.sink.of(model.StreamOpened))
    assert (opened.method, opened.http_method) == (target.decode(), "GET")
    assert [m.raw for m in wire.sink.of(model.MessageSeen)] == [b"", b""]
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.details) == (0, "HTTP 304")


def test_a_rest_poll_reset_by_envoy() -> None:
    wire = Wire()
    wire.request(1, [*BASE_REQUEST[:2], (b":path", b"/v3/discovery:routes"), (b":authority", b"x")])
    wire.client.reset_stream(1, error_code=h2.errors.ErrorCodes.CANCEL)
    wire.pump()
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause) == (1, model.CloseCause.DOWNSTREAM)
    assert closed.details == "Envoy reset the stream (HTTP/2 error code 8)"


def test_a_rest_poll_cut_by_the_connection_ending() -> None:
    wire = Wire()
    wire.request(1, [*BASE_REQUEST[:2], (b":path", b"/v3/discovery:routes"), (b":authority", b"x")])
    wire.send(Side.DOWNSTREAM, 1, b"{}", end_stream=True)
    wire.respond(1, [(b":status", b"200")])
    wire.send(Side.UPSTREAM, 1, b'{"ver')
    wire.publisher.connection_ended(model.CloseCause.UPSTREAM, "the control plane closed the connection")
    assert wire.sink.kinds() == sinks.POLL
    closed = only(wire.sink.of(model.StreamClosed))
    assert (closed.code, closed.cause) == (14, model.CloseCause.UPSTREAM)
    assert closed.details == "HTTP 200, then the control plane closed the connection after 5 body bytes"


def test_a_rest_body_over_the_limit_is_not_recorded() -> None:
    wire = Wire(max_message_bytes=100)
    wire.request(1, [*BASE_REQUEST[:2], (b":path", b"/v3/discovery:clusters"), (b":authority", b"x")])
    wire.send(Side.DOWNSTREAM, 1, b"{}", end_stream=True)
    wire.respond(1, [(b":status", b"200")])
    wire.send(Side.UPSTREAM, 1, b"r" * 101, end_stream=True)
    assert wire.sink.kinds() == ["StreamOpened", "MessageSeen", "ResponseHeadersSeen", "StreamClosed"]
    closed = only(wire.sink.of(model.StreamClosed))
    assert closed.code == 8
    assert "a 101-byte body was forwarded but not recorded" in closed.details
