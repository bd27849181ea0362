"""One REST poll as one stream: which paths are polls, the events' order, and polls that end early."""

from __future__ import annotations

import pytest

from xdsspy import model
from xdsspy.capture import rest_events
from xdsspy.capture import sink as sink_mod
from xdsspy.grpc_status import Code
from xdsspy.testing import sinks
from xdsspy.testing.sinks import ListSink

CDS = "/v3/discovery:clusters"
REQUEST_BODY = b'{"node":{"id":"envoy-1"}}'
RESPONSE_BODY = b'{"version_info":"1","resources":[]}'


def _poll(
    *,
    target: bytes = CDS.encode(),
    max_body_bytes: int = 1 << 20,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[rest_events.Poll, ListSink]:
    sink = ListSink()
    ids = sink_mod.Ids()
    for _ in range(8):
        ids.new_stream()  # so that the poll is stream 9
    context = sink_mod.ConnectionContext(5, "10.0.0.2:51000", sink, sink_mod.Stamper(), ids, max_body_bytes)
    poll = rest_events.Poll(
        context,
        target=target,
        http_method="POST",
        http_version="1.1",
        headers=headers
        if headers is not None
        else [(b"Host", b"cp"), (b"Content-Type", b"application/json")],
    )
    return poll, sink


def _answered(poll: rest_events.Poll, status: int = 200) -> None:
    poll.open()
    poll.body(True, REQUEST_BODY)
    poll.request_done()
    poll.answer(status, [(b"Content-Type", b"application/json")])


# -- which targets are polls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/v3/discovery:clusters",
        b"/v3/discovery:listeners",
        b"/v3/discovery:routes",
        b"/v3/discovery:endpoints",
        b"/v3/discovery:secrets",
        b"/v3/discovery:runtime",
        b"/v2/discovery:listeners",
        b"/v3/discovery:clusters?node=envoy-1",
        b"/v3/discovery:clusters?",
        b"/v3/discovery:clusters?a=/b?c",
        b"/v10/discovery:clusters",
    ],
)
def test_is_discovery_path_accepts_xds_rest_endpoints(target: bytes) -> None:
    assert rest_events.is_discovery_path(target)


@pytest.mark.parametrize(
    "target",
    [
        b"/healthz",
        b"/stats",
        b"/",
        b"",
        b"/v3/discovery",
        b"/v3/discovery:",
        b"/v3/discovery:?x=1",
        b"/v3/discovery:clusters/",
        b"/v3/discovery:clusters/extra",
        b"/discovery:clusters",
        b"/v/discovery:clusters",
        b"/vx/discovery:clusters",
        b"/V3/discovery:clusters",
        b"v3/discovery:clusters",
        b"/api/v3/discovery:clusters",
        b"//v3/discovery:clusters",
        b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
        b"http://cp:18000/v3/discovery:clusters",
    ],
)
def test_is_discovery_path_rejects_everything_else(target: bytes) -> None:
    assert not rest_events.is_discovery_path(target)


@pytest.mark.parametrize(
    ("path", "recorded"),
    [
        (b"/v3/discovery:clusters", True),
        (b"/v2/discovery:secrets", True),
        (b"/v3/discovery:scoped-routes", True),
        (b"/v3/discovery:clusters/x", False),
        (b"/healthz", False),
        (b"/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters", False),
    ],
)
def test_which_paths_are_polls(path: bytes, recorded: bool) -> None:
    assert rest_events.is_discovery_path(path) is recorded


# -- a complete poll ------------------------------------------------------------------------------


def test_a_poll_publishes_open_request_headers_response_and_close_in_order() -> None:
    poll, sink = _poll()
    _answered(poll)
    poll.body(False, RESPONSE_BODY)
    poll.response_done()
    assert sink.kinds() == sinks.POLL
    assert [e.seq for e in sink.events] == [1, 2, 3, 4, 5]
    assert {(e.connection, e.stream) for e in sink.events} == {(5, 9)}
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.details, closed.cause, closed.trailers, closed.method) == (
        Code.OK,
        "HTTP 200",
        model.CloseCause.UPSTREAM,
        (),
        CDS,
    )
    assert poll.closed and poll.answered and poll.status == 200


def test_open_carries_transport_target_http_method_peer_and_lowercased_headers() -> None:
    poll, sink = _poll(target=b"/v3/discovery:clusters?node=a", headers=[(b"X-Envoy-Node", b"Mixed-Case")])
    poll.open()
    (opened,) = sink.events
    assert isinstance(opened, model.StreamOpened)
    assert opened.transport is model.Transport.REST
    assert opened.method == "/v3/discovery:clusters?node=a"
    assert opened.http_method == "POST"
    assert opened.http_version == "1.1"
    assert opened.peer == "10.0.0.2:51000"
    assert opened.metadata == (("x-envoy-node", b"Mixed-Case"),)


def test_response_headers_carry_the_status_and_lowercased_headers() -> None:
    poll, sink = _poll()
    _answered(poll, 304)
    headers = sink.events[-1]
    assert isinstance(headers, model.ResponseHeadersSeen)
    assert headers.http_status == 304
    assert headers.metadata == (("content-type", b"application/json"),)
    assert headers.method == CDS


def test_a_304_without_body_publishes_an_empty_response_message() -> None:
    poll, sink = _poll()
    _answered(poll, 304)
    poll.response_done()
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b""]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 304")]


def test_body_pieces_are_joined_and_a_body_in_one_piece_is_handed_on_without_a_copy() -> None:
    poll, sink = _poll()
    poll.open()
    poll.body(True, memoryview(REQUEST_BODY)[:4])
    poll.body(True, memoryview(REQUEST_BODY)[4:])
    poll.request_done()
    poll.answer(200, [])
    answer = memoryview(bytearray(RESPONSE_BODY))
    poll.body(False, answer)
    poll.response_done()
    request, response = (e.raw for e in sink.events if isinstance(e, model.MessageSeen))
    assert request == REQUEST_BODY and type(request) is bytes
    assert response is answer  # the relay never writes into a view it handed on


def test_an_answer_before_the_request_is_done_publishes_the_request_body_first() -> None:
    poll, sink = _poll()
    poll.open()
    poll.body(True, REQUEST_BODY)
    poll.answer(200, [])
    poll.request_done()  # the request's end, seen after the answer began: nothing more
    assert sink.kinds() == ["StreamOpened", "MessageSeen", "ResponseHeadersSeen"]
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY]


def test_response_done_without_an_answer_closes_unavailable() -> None:
    poll, sink = _poll()
    poll.open()
    poll.request_done()
    poll.response_done()
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause) == (Code.UNAVAILABLE, model.CloseCause.UPSTREAM)
    assert closed.details == "the exchange ended without an answer"


def test_xdsspys_own_answer_closes_unavailable_with_the_reason() -> None:
    poll, sink = _poll()
    poll.context.unreachable = "control plane cp:18000 unreachable: connection refused"
    _answered(poll, 503)
    poll.body(False, b"xdsspy: control plane cp:18000 unreachable: connection refused\n")
    poll.response_done()
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [
        b"xdsspy: control plane cp:18000 unreachable: connection refused\n"
    ]
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause) == (Code.UNAVAILABLE, model.CloseCause.UPSTREAM_UNAVAILABLE)
    assert closed.details == "HTTP 503 from xdsspy: control plane cp:18000 unreachable: connection refused"


# -- the recording limit --------------------------------------------------------------------------


def test_a_request_body_over_the_limit_is_a_warning_note_instead_of_a_message() -> None:
    poll, sink = _poll(max_body_bytes=10)
    poll.open()
    poll.body(True, b"x" * 6)
    poll.body(True, b"x" * 6)
    poll.request_done()
    assert sink.kinds() == ["StreamOpened", "Note"]
    note = sink.events[1]
    assert isinstance(note, model.Note)
    assert note.level is model.NoteLevel.WARNING
    assert (note.connection, note.stream) == (5, 9)
    assert note.text == (
        "a request body of 12 bytes was forwarded but not recorded: over the limit of 10 bytes"
    )


def test_a_response_body_over_the_limit_closes_resource_exhausted_without_a_message() -> None:
    poll, sink = _poll(max_body_bytes=10)
    _answered(poll)
    poll.body(False, b"y" * 11)
    poll.response_done()
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == []
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause) == (Code.RESOURCE_EXHAUSTED, model.CloseCause.UPSTREAM)
    assert closed.details == (
        "HTTP 200; a 11-byte body was forwarded but not recorded: over the limit of 10 bytes"
    )


def test_a_body_exactly_at_the_limit_is_recorded() -> None:
    poll, sink = _poll(max_body_bytes=10)
    poll.open()
    poll.body(True, b"a" * 10)
    poll.request_done()
    poll.answer(200, [])
    poll.body(False, b"b" * 4)
    poll.body(False, b"b" * 6)
    poll.response_done()
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [b"a" * 10]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b"b" * 10]
    assert [c.code for c in sinks.closed(sink.events)] == [0]


# -- abandon() ------------------------------------------------------------------------------------


def test_abandon_after_a_partial_request_body_publishes_it_then_closes() -> None:
    poll, sink = _poll()
    poll.open()
    poll.body(True, REQUEST_BODY[:7])
    poll.abandon(Code.CANCELLED, "Envoy closed the connection", model.CloseCause.DOWNSTREAM)
    assert sink.kinds() == ["StreamOpened", "MessageSeen", "StreamClosed"]
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY[:7]]
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause, closed.details) == (
        Code.CANCELLED,
        model.CloseCause.DOWNSTREAM,
        "Envoy closed the connection",
    )
    assert poll.closed


def test_abandon_before_any_request_body_publishes_no_message() -> None:
    poll, sink = _poll()
    poll.open()
    poll.abandon(Code.CANCELLED, "Envoy closed the connection", model.CloseCause.DOWNSTREAM)
    assert sink.kinds() == ["StreamOpened", "StreamClosed"]


def test_abandon_after_a_partial_response_body_publishes_it_and_counts_its_bytes() -> None:
    poll, sink = _poll()
    _answered(poll)
    poll.body(False, RESPONSE_BODY[:5])
    poll.body(False, RESPONSE_BODY[5:12])
    poll.abandon(Code.UNAVAILABLE, "the control plane closed the connection", model.CloseCause.UPSTREAM)
    assert sink.kinds() == sinks.POLL
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY[:12]]
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause) == (Code.UNAVAILABLE, model.CloseCause.UPSTREAM)
    assert closed.details == "HTTP 200, then the control plane closed the connection after 12 body bytes"


def test_abandon_right_after_the_response_headers_publishes_no_response_message() -> None:
    poll, sink = _poll()
    _answered(poll)
    poll.abandon(Code.CANCELLED, "Envoy closed the connection", model.CloseCause.DOWNSTREAM)
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == []
    (closed,) = sinks.closed(sink.events)
    assert closed.details == "HTTP 200, then Envoy closed the connection after 0 body bytes"


def test_abandon_with_a_response_over_the_limit_publishes_no_response_message() -> None:
    poll, sink = _poll(max_body_bytes=4)
    poll.open()
    poll.request_done()
    poll.answer(200, [])
    poll.body(False, b"z" * 9)
    poll.abandon(Code.UNAVAILABLE, "the control plane closed the connection", model.CloseCause.UPSTREAM)
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == []
    (closed,) = sinks.closed(sink.events)
    assert closed.details == "HTTP 200, then the control plane closed the connection after 9 body bytes"


def test_abandon_with_a_partial_request_over_the_limit_publishes_a_note() -> None:
    poll, sink = _poll(max_body_bytes=4)
    poll.open()
    poll.body(True, b"q" * 9)
    poll.abandon(Code.CANCELLED, "Envoy closed the connection", model.CloseCause.DOWNSTREAM)
    assert sink.kinds() == ["StreamOpened", "Note", "StreamClosed"]


def test_abandon_after_the_poll_closed_publishes_nothing() -> None:
    poll, sink = _poll()
    _answered(poll)
    poll.response_done()
    before = list(sink.events)
    poll.abandon(Code.CANCELLED, "Envoy closed the connection", model.CloseCause.DOWNSTREAM)
    assert sink.events == before


def test_abandon_twice_closes_once() -> None:
    poll, sink = _poll()
    poll.open()
    poll.abandon(Code.CANCELLED, "first", model.CloseCause.DOWNSTREAM)
    poll.abandon(Code.UNAVAILABLE, "second", model.CloseCause.UPSTREAM)
    assert [c.details for c in sinks.closed(sink.events)] == ["first"]
