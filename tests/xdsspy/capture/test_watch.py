"""The per-connection watcher: picks HTTP/2 or HTTP/1.1 from Envoy's first bytes and never raises."""

from __future__ import annotations

import random
from typing import Any

import h2.config
import h2.connection
import pytest

from xdsspy import model
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import watch
from xdsspy.capture.h2_observer import Side
from xdsspy.testing.sinks import ListSink


def _watch(sink: Any) -> watch.ConnectionWatch:
    return watch.factory(sink, sink_mod.Stamper(), sink_mod.Ids(), 1 << 20)(7, "ipv4:127.0.0.1:5000")


def _grpc_exchange() -> tuple[bytes, bytes]:
    """Envoy's and the control plane's bytes for one unary gRPC call, made by h2."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    server.initiate_connection()
    server_hello = server.data_to_send()
    client.initiate_connection()
    request = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/x.Y/Z"), (b":authority", b"cp")]
    client.send_headers(1, [*request, (b"content-type", b"application/grpc")])
    client.send_data(1, b"\0\0\0\0\x03abc", end_stream=True)
    down = client.data_to_send()
    server.receive_data(down)
    server.send_headers(1, [(b":status", b"200"), (b"content-type", b"application/grpc")])
    server.send_data(1, b"\0\0\0\0\x02ok")
    server.send_headers(1, [(b"grpc-status", b"0")], end_stream=True)
    return down, server_hello + server.data_to_send()


def test_http2_is_recognised_even_when_the_server_speaks_first() -> None:
    sink = ListSink()
    w = _watch(sink)
    down, up = _grpc_exchange()
    w.feed(Side.UPSTREAM, up[:9])  # a gRPC server sends SETTINGS before it has seen anything
    for i in range(0, len(down), 5):  # the preface arrives in pieces
        w.feed(Side.DOWNSTREAM, down[i : i + 5])
    w.feed(Side.UPSTREAM, up[9:])
    assert w.is_http2 is True
    assert [type(e).__name__ for e in sink.events] == [
        "StreamOpened", "MessageSeen", "ResponseHeadersSeen", "MessageSeen", "StreamClosed",
    ]  # fmt: skip
    assert [e.raw for e in sink.of(model.MessageSeen)] == [b"abc", b"ok"]
    assert {e.connection for e in sink.events} == {7}
    assert sink.of(model.StreamOpened)[0].peer == "ipv4:127.0.0.1:5000"


def test_http1_is_recognised_from_a_request_line() -> None:
    sink = ListSink()
    w = _watch(sink)
    w.feed(Side.DOWNSTREAM, b"POST /v3/discovery:clusters HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
    w.feed(Side.UPSTREAM, b"HTTP/1.1 304 Not Modified\r\n\r\n")
    assert w.is_http2 is False
    closed = sink.of(model.StreamClosed)
    assert [(c.code, c.details) for c in closed] == [(0, "HTTP 304")]


def test_bytes_that_make_no_sense_stop_the_watch_once_with_a_note_and_never_raise() -> None:
    sink = ListSink()
    w = _watch(sink)
    w.feed(Side.DOWNSTREAM, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    w.feed(Side.DOWNSTREAM, b"\x00\x00\x04\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff")  # undecodable HPACK
    w.feed(Side.DOWNSTREAM, b"more garbage")
    w.feed(Side.UPSTREAM, b"and more")
    notes = sink.of(model.Note)
    assert len(notes) == 1 and notes[0].level == model.NoteLevel.ERROR
    assert "still forwarded unchanged" in notes[0].text and "header block" in notes[0].text
    assert not w.watching
    w.connection_ended(model.CloseCause.DOWNSTREAM, "gone")  # nothing more, no error
    assert len(sink.events) == 1


def test_a_failing_sink_does_not_reach_the_caller() -> None:
    class Broken:
        def publish(self, event: model.Event) -> None:
            raise OSError("disk gone")

    w = _watch(Broken())
    down, up = _grpc_exchange()
    w.feed(Side.DOWNSTREAM, down)
    w.feed(Side.UPSTREAM, up)
    w.connection_ended(model.CloseCause.DOWNSTREAM, "gone")


def test_streams_open_when_the_connection_ends_are_closed_with_its_cause() -> None:
    sink = ListSink()
    w = _watch(sink)
    down, _up = _grpc_exchange()
    w.feed(Side.DOWNSTREAM, down)
    w.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    closed = sink.of(model.StreamClosed)
    assert [(c.code, c.cause, c.details) for c in closed] == [
        (1, model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    ]


@pytest.mark.parametrize("http2", [True, False])
def test_answers_for_an_unreachable_control_plane_are_recorded_as_such(http2: bool) -> None:
    sink = ListSink()
    w = _watch(sink)
    w.upstream_unreachable("control plane 127.0.0.1:1 unreachable: Connection refused")
    if http2:
        down, up = _grpc_exchange()
        w.feed(Side.DOWNSTREAM, down)
        w.feed(Side.UPSTREAM, up)
    else:
        w.feed(Side.DOWNSTREAM, b"POST /v3/discovery:clusters HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
        w.feed(Side.UPSTREAM, b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
    closed = sink.of(model.StreamClosed)
    assert [c.cause for c in closed] == [model.CloseCause.UPSTREAM_UNAVAILABLE]
    if http2:
        w.feed(Side.UPSTREAM, b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x01\x00\x00\x00\x00")
        assert sink.of(model.Note)[-1].text.startswith("xdsspy, answering for the unreachable control plane,")


def test_without_a_recording_nothing_is_read() -> None:
    w = _watch(sink_mod.NullSink())
    assert not w.watching
    w.feed(Side.DOWNSTREAM, b"anything at all")


def test_envoy_stopping_to_send_on_http2_ends_its_streams_before_the_control_plane_reacts() -> None:
    """An HTTP/2 peer never half-closes: Envoy's EOF means it is gone, whatever the server does next."""
    sink = ListSink()
    w = _watch(sink)
    down, up = _grpc_exchange()
    w.feed(Side.DOWNSTREAM, down[: down.index(b"\0\0\0\0\x03abc") - 9])  # the stream is open, no message yet
    w.side_finished(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    w.feed(Side.UPSTREAM, up)  # the control plane's reaction, e.g. its reset or trailers
    w.connection_ended(model.CloseCause.UPSTREAM, "the control plane closed the connection")
    closed = sink.of(model.StreamClosed)
    assert [(c.code, c.cause) for c in closed] == [(1, model.CloseCause.DOWNSTREAM)]


def test_a_half_close_on_http1_leaves_the_poll_open_for_its_answer() -> None:
    sink = ListSink()
    w = _watch(sink)
    w.feed(Side.DOWNSTREAM, b"POST /v3/discovery:clusters HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
    w.side_finished(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    w.feed(Side.UPSTREAM, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    assert [(c.code, c.details) for c in sink.of(model.StreamClosed)] == [(0, "HTTP 200")]


def test_damaged_traffic_never_raises_and_is_named_at_most_once() -> None:
    """Seeded bit flips and cuts in a real exchange: whatever the watcher makes of them, it says so once."""
    down, up = _grpc_exchange()
    for seed in range(300):
        rng = random.Random(seed)
        damaged = [bytearray(down), bytearray(up)]
        for buffer in damaged:
            for _ in range(rng.randint(1, 4)):
                buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        sink = ListSink()
        w = _watch(sink)
        for side, buffer in zip((Side.DOWNSTREAM, Side.UPSTREAM), damaged, strict=True):
            data = bytes(buffer)
            cut = rng.randrange(len(data))
            w.feed(side, data[:cut])
            w.feed(side, data[cut:])
        w.connection_ended(model.CloseCause.DOWNSTREAM, "gone")
        stopped = [n for n in sink.of(model.Note) if n.level == model.NoteLevel.ERROR]
        assert len(stopped) <= 1, seed


def test_an_endless_header_block_stops_the_watch_instead_of_growing() -> None:
    sink = ListSink()
    w = _watch(sink)
    headers = b"\x00\x00\x01\x01\x00\x00\x00\x00\x01\x82"  # HEADERS without END_HEADERS
    continuation = (1 << 20).to_bytes(3, "big") + b"\x09\x00\x00\x00\x00\x01" + b"\x00" * (1 << 20)
    w.feed(Side.DOWNSTREAM, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + headers)
    for _ in range(20):
        w.feed(Side.DOWNSTREAM, continuation)
    notes = sink.of(model.Note)
    assert len(notes) == 1 and "grew past" in notes[0].text and not w.watching
