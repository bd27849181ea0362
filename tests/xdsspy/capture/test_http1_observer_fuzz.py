"""Hostile HTTP/1.1 for the observer: garbage, mutated polls and answers, huge lengths, chunking abuse.

Whatever either peer sends, the observer raises nothing but Unfollowable (the watcher then stops
reading and forwarding goes on), publishes only events the recording can store, and holds no more
memory than its limits allow, whatever lengths the bytes declare (issue 14, point 5).
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import model
from xdsspy.capture import http1_observer
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import watch
from xdsspy.capture.h2_observer import Side
from xdsspy.record import codec
from xdsspy.testing import mutations
from xdsspy.testing.sinks import ListSink

D, U = Side.DOWNSTREAM, Side.UPSTREAM
BODY = b'{"node":{"id":"envoy-1"},"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}'
ANSWER = (
    b'{"version_info":"1","resources":[],"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}'
)

Log = list[tuple[Side, bytes]]


def _chunked(body: bytes, size: int) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


CONVERSATION: Log = [
    (D, b"POST /v3/discovery:clusters HTTP/1.1\r\nHost: cp\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY),
    (U, b"HTTP/1.1 100 Continue\r\n\r\n"),
    (U, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ANSWER)),
    (U, ANSWER),
    (D, b"POST /v3/discovery:listeners HTTP/1.1\r\nHost: cp\r\nTransfer-Encoding: chunked\r\n\r\n"),
    (D, _chunked(BODY, 7)),
    (D, b"GET /healthz HTTP/1.1\r\nHost: cp\r\n\r\n"),
    (U, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(ANSWER, 11)),
    (U, b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
    (D, b"POST /v3/discovery:routes HTTP/1.1\r\nHost: cp\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY),
    (U, b"HTTP/1.1 304 Not Modified\r\n\r\n"),
    (D, b"POST /v3/discovery:secrets HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"),
    (U, b"HTTP/1.0 200 OK\r\n\r\n" + ANSWER),
]


def _observer(sink: ListSink, max_body_bytes: int = 1 << 20) -> http1_observer.Http1Observer:
    context = sink_mod.ConnectionContext(
        7, "127.0.0.1:40000", sink, sink_mod.Stamper(), sink_mod.Ids(), max_body_bytes
    )
    return http1_observer.Http1Observer(context)


def _observe(log: Log, chunk: int) -> ListSink:
    """Feeds the log as the watcher does: stop at Unfollowable, then end the connection."""
    sink = ListSink()
    observer = _observer(sink)
    cause = model.CloseCause.UPSTREAM
    try:
        for side, data in log:
            for i in range(0, len(data), chunk):
                observer.feed(side, data[i : i + chunk])
    except http1_observer.Unfollowable as e:
        assert str(e)
        cause = model.CloseCause.PROXY_ERROR
    observer.connection_ended(cause, "the fuzz test ended the connection")
    for event in sink.events:
        assert codec.encode(event)
    return sink


def test_the_unmutated_conversation_is_published_whole() -> None:
    sink = _observe(CONVERSATION, 1 << 20)
    assert [e.method for e in sink.of(model.StreamOpened)] == [
        "/v3/discovery:clusters",
        "/v3/discovery:listeners",
        "/v3/discovery:routes",
        "/v3/discovery:secrets",
    ]
    assert [c.code for c in sink.of(model.StreamClosed)] == [0, 0, 0, 0]


_SPLICES = [
    b"\r\n",
    b"\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 99999999999\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Upgrade: h2c\r\nConnection: Upgrade\r\n",
    b"ffffffffffffffff\r\n",
    b"0\r\nX: y\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",
    b"HEAD / HTTP/1.1\r\n",
]


@settings(max_examples=400, deadline=None)
@given(
    log=mutations.damaged_copies(
        CONVERSATION,
        max_flips=4,
        spliced=st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from(_SPLICES)),
    ),
    chunk=st.sampled_from([1, 2, 5, 64, 1 << 20]),
)
def test_flipped_spliced_and_cut_conversations_raise_only_unfollowable(log: Log, chunk: int) -> None:
    _observe(log, chunk)


@settings(max_examples=300, deadline=None)
@given(log=st.lists(st.tuples(st.sampled_from([D, U]), st.binary(max_size=96)), max_size=6))
def test_arbitrary_bytes_on_either_side_raise_only_unfollowable(log: Log) -> None:
    _observe(log, 1 << 20)
    _observe([(D, b"POST /v3/discovery:clusters HTTP/1.1\r\nContent-Length: 3\r\n\r\n{}}"), *log], 3)


@settings(max_examples=200, deadline=None)
@given(log=st.lists(st.tuples(st.sampled_from([D, U]), st.binary(max_size=64)), max_size=8))
def test_the_watcher_never_raises_into_the_relay(log: Log) -> None:
    sink = ListSink()
    context = sink_mod.ConnectionContext(1, "127.0.0.1:1", sink, sink_mod.Stamper(), sink_mod.Ids(), 1 << 20)
    watcher = watch.ConnectionWatch(context)
    for side, data in [(D, b"POST /v3/discovery:clusters HTTP/1.1\r\n"), *log]:
        watcher.feed(side, data)
    watcher.connection_ended(model.CloseCause.UPSTREAM, "gone")
    for event in sink.events:
        assert codec.encode(event)


def _peak_while(steps: Log) -> tuple[int, str]:
    """Peak traced bytes while the observer reads `steps`, and why it stopped reading ("" if it did not)."""
    sink = ListSink()
    observer = _observer(sink)
    tracemalloc.start()
    try:
        for side, data in steps:
            observer.feed(side, data)
        return tracemalloc.get_traced_memory()[1], ""
    except http1_observer.Unfollowable as e:
        return tracemalloc.get_traced_memory()[1], str(e)
    finally:
        tracemalloc.stop()


_PIECE = 64 << 10
_POST = b"POST /v3/discovery:clusters HTTP/1.1\r\nHost: cp\r\n"
_OK = b"HTTP/1.1 200 OK\r\n"


_FLOODS = {
    # one header value that never ends: httptools joins its pieces by concatenation
    "long-value": [(D, _POST + b"X: ")] + [(D, b"a" * _PIECE)] * 256,
    # short headers: each a tuple and two bytes objects, ten times the bytes they came in
    "header-flood": [(D, _POST)] + [(D, b"X: y\r\n" * (_PIECE // 6))] * 256,
    "long-url": [(D, b"POST /v3/discovery:clusters?")] + [(D, b"a" * _PIECE)] * 256,
    "answer-header-flood": [(D, _POST + b"\r\n"), (U, _OK)] + [(U, b"X: y\r\n" * (_PIECE // 6))] * 256,
    "trailer-flood": [(D, _POST + b"Transfer-Encoding: chunked\r\n\r\n0\r\n")]
    + [(D, b"X: y\r\n" * (_PIECE // 6))] * 256,
    "chunk-extension": [(D, _POST + b"Transfer-Encoding: chunked\r\n\r\n5;")] + [(D, b"a" * _PIECE)] * 256,
}
_HUGE_BODIES = {
    "content-length-1tb": [(D, _POST + b"Content-Length: 1099511627776\r\n\r\n")]
    + [(D, bytes(_PIECE))] * 256,
    "chunk-size-1tb": [(D, _POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffff\r\n")]
    + [(D, bytes(_PIECE))] * 256,
    "until-close": [(D, _POST + b"\r\n"), (U, _OK + b"\r\n")] + [(U, bytes(_PIECE))] * 256,
}


@pytest.mark.parametrize("name", _FLOODS)
def test_a_head_that_never_ends_is_unfollowable_past_max_head(name: str) -> None:
    peak, why = _peak_while(_FLOODS[name])  # 16 MiB of it is sent
    assert f"sent a head (or trailers) of more than {http1_observer.MAX_HEAD} bytes" in why
    assert peak < 16 * http1_observer.MAX_HEAD


@pytest.mark.parametrize("name", _HUGE_BODIES)
def test_bodies_declaring_terabytes_are_followed_holding_no_more_than_the_limit(name: str) -> None:
    peak, why = _peak_while(_HUGE_BODIES[name])  # 16 MiB of it passes
    assert why == ""
    assert peak < 2 << 20  # the 1 MiB recording limit, and the parser's copies of the pieces passing
