"""Envoy's REST polls read from the side of an HTTP/1.1 connection: both directions, any byte split."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from xdsspy import model
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side
from xdsspy.capture.http1_observer import Http1Observer
from xdsspy.capture.http1_observer import Unfollowable
from xdsspy.testing import sinks
from xdsspy.testing.sinks import ListSink

CDS = "/v3/discovery:clusters"
LDS = "/v3/discovery:listeners"
REQUEST_BODY = b'{"node":{"id":"envoy-1"},"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}'
RESPONSE_BODY = (
    b'{"version_info":"1","resources":[],"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}'
)
NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
D = Side.DOWNSTREAM
U = Side.UPSTREAM

Step = tuple[Side, bytes]


def _observer(
    *, max_body_bytes: int = 1 << 20, connection: int = 7, ids: sink_mod.Ids | None = None
) -> tuple[Http1Observer, ListSink]:
    sink = ListSink()
    observer = Http1Observer(
        sink_mod.ConnectionContext(
            connection, "127.0.0.1:40000", sink, sink_mod.Stamper(), ids or sink_mod.Ids(), max_body_bytes
        )
    )
    return observer, sink


def _post(path: str = CDS, body: bytes = REQUEST_BODY, extra: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: cp.example\r\nContent-Type: application/json\r\n".encode()
    return head + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: cp.example\r\n\r\n".encode()


def _ok(body: bytes = RESPONSE_BODY, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body


def _chunks(body: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def _chunked_post(path: str = CDS, body: bytes = REQUEST_BODY) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: cp.example\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    return head + _chunks(body, 7)


def _chunked_ok(body: bytes = RESPONSE_BODY) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + _chunks(body, 11)
    )


def _feed(observer: Http1Observer, steps: list[Step]) -> None:
    for side, data in steps:
        observer.feed(side, data)


def _methods(events: list[model.Event]) -> set[str]:
    kinds = (model.StreamOpened, model.MessageSeen, model.ResponseHeadersSeen, model.StreamClosed)
    return {e.method for e in events if isinstance(e, kinds)}


def _untimed(events: list[model.Event]) -> list[model.Event]:
    return [dataclasses.replace(e, wall_ns=0, monotonic_ns=0) for e in events]


def _split_steps(steps: list[Step], cut: int | random.Random) -> list[Step]:
    """The same conversation, each side's bytes cut into pieces of `cut` bytes (or random sizes)."""
    out: list[Step] = []
    for side, data in steps:
        i = 0
        while i < len(data):
            size = cut if isinstance(cut, int) else cut.randint(1, 40)
            out.append((side, data[i : i + size]))
            i += size
    return out


POLL = [(D, _post()), (U, _ok())]
CONVERSATION: list[Step] = [
    (D, _post()),
    (U, _ok()),
    (D, _get("/healthz")),
    (U, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"),
    (D, _chunked_post(LDS)),
    (U, _chunked_ok()),
    (D, _post(CDS + "?node=envoy-1", extra=b"Expect: 100-continue\r\n")),
    (U, CONTINUE + NOT_MODIFIED),
    (D, _post() + _post(LDS, b"{}")),
    (U, _ok(b'{"a":1}') + _ok(b'{"b":2}')),
]


def _conversation_events(steps: list[Step]) -> list[model.Event]:
    observer, sink = _observer()
    _feed(observer, steps)
    return _untimed(sink.events)


# -- one poll -------------------------------------------------------------------------------------


def test_a_poll_with_content_length_is_one_rest_stream_of_five_events() -> None:
    observer, sink = _observer()
    _feed(observer, POLL)
    assert sink.kinds() == sinks.POLL
    opened, request, headers, response, closed = sink.events
    assert isinstance(opened, model.StreamOpened)
    assert opened.transport is model.Transport.REST
    assert opened.method == CDS
    assert opened.http_method == "POST"
    assert opened.http_version == "1.1"
    assert opened.peer == "127.0.0.1:40000"
    assert opened.metadata == (
        ("host", b"cp.example"),
        ("content-type", b"application/json"),
        ("content-length", str(len(REQUEST_BODY)).encode()),
    )
    assert isinstance(request, model.MessageSeen)
    assert (request.direction, request.raw, request.method) == (model.Direction.REQUEST, REQUEST_BODY, CDS)
    assert isinstance(headers, model.ResponseHeadersSeen)
    assert headers.http_status == 200
    assert headers.metadata == (
        ("content-type", b"application/json"),
        ("content-length", str(len(RESPONSE_BODY)).encode()),
    )
    assert isinstance(response, model.MessageSeen)
    assert (response.direction, response.raw) == (model.Direction.RESPONSE, RESPONSE_BODY)
    assert isinstance(closed, model.StreamClosed)
    assert (closed.code, closed.details, closed.cause, closed.trailers) == (
        0,
        "HTTP 200",
        model.CloseCause.UPSTREAM,
        (),
    )
    assert {(e.connection, e.stream) for e in sink.events} == {(7, 1)}


def test_request_header_names_are_lowercased_and_values_kept_exactly() -> None:
    observer, sink = _observer()
    observer.feed(D, _post(extra=b"X-Envoy-Node-ID: Envoy-ONE\r\n"))
    opened = sink.events[0]
    assert isinstance(opened, model.StreamOpened)
    assert ("x-envoy-node-id", b"Envoy-ONE") in opened.metadata
    assert all(name == name.lower() for name, _ in opened.metadata)


def test_chunked_request_and_response_bodies_are_recorded_dechunked_and_whole() -> None:
    observer, sink = _observer()
    _feed(observer, [(D, _chunked_post()), (U, _chunked_ok())])
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 200")]


def test_a_304_answer_gives_an_empty_response_message_and_details_http_304() -> None:
    observer, sink = _observer()
    _feed(observer, [(D, _post()), (U, NOT_MODIFIED)])
    assert sink.kinds() == sinks.POLL
    headers = sink.of(model.ResponseHeadersSeen)[0]
    assert isinstance(headers, model.ResponseHeadersSeen)
    assert headers.http_status == 304
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b""]
    assert [(c.code, c.details, c.cause) for c in sinks.closed(sink.events)] == [
        (0, "HTTP 304", model.CloseCause.UPSTREAM)
    ]


# -- several exchanges on one connection ----------------------------------------------------------


def test_several_polls_on_one_keep_alive_connection_are_separate_streams() -> None:
    observer, sink = _observer()
    _feed(
        observer,
        [
            (D, _post(CDS, b'{"n":1}')),
            (U, _ok(b'{"r":1}')),
            (D, _post(LDS, b'{"n":2}')),
            (U, NOT_MODIFIED),
            (D, _post(CDS, b'{"n":3}')),
            (U, _ok(b'{"r":3}')),
        ],
    )
    opened = sink.of(model.StreamOpened)
    assert [(e.stream, e.method) for e in opened] == [(1, CDS), (2, LDS), (3, CDS)]
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b'{"r":1}', b"", b'{"r":3}']
    assert [(c.stream, c.details) for c in sinks.closed(sink.events)] == [
        (1, "HTTP 200"),
        (2, "HTTP 304"),
        (3, "HTTP 200"),
    ]


def test_pipelined_requests_are_paired_with_their_answers_in_order() -> None:
    observer, sink = _observer()
    observer.feed(D, _post(CDS, b'{"n":1}') + _post(LDS, b'{"n":2}'))
    assert sink.kinds() == ["StreamOpened", "MessageSeen", "StreamOpened", "MessageSeen"]
    observer.feed(U, _ok(b'{"r":1}', b"200 OK"))
    observer.feed(U, NOT_MODIFIED)
    by_stream: dict[int, list[model.Event]] = {}
    for event in sink.events:
        by_stream.setdefault(event.stream, []).append(event)
    assert sorted(by_stream) == [1, 2]
    first, second = by_stream[1], by_stream[2]
    assert _methods(first) == {CDS} and _methods(second) == {LDS}
    assert sinks.raws(first, model.Direction.REQUEST) == [b'{"n":1}']
    assert sinks.raws(first, model.Direction.RESPONSE) == [b'{"r":1}']
    assert [c.details for c in sinks.closed(first)] == ["HTTP 200"]
    assert sinks.raws(second, model.Direction.REQUEST) == [b'{"n":2}']
    assert sinks.raws(second, model.Direction.RESPONSE) == [b""]
    assert [c.details for c in sinks.closed(second)] == ["HTTP 304"]
    # the first answer closed the first poll before the second answer began
    assert sink.kinds()[4:] == [
        "ResponseHeadersSeen",
        "MessageSeen",
        "StreamClosed",
        "ResponseHeadersSeen",
        "MessageSeen",
        "StreamClosed",
    ]
    assert [e.stream for e in sink.events[4:]] == [1, 1, 1, 2, 2, 2]


def test_a_100_continue_before_the_answer_is_not_taken_as_the_answer() -> None:
    observer, sink = _observer()
    request = _post(extra=b"Expect: 100-continue\r\n")
    head, body = request[: -len(REQUEST_BODY)], REQUEST_BODY
    _feed(observer, [(D, head), (U, CONTINUE), (D, body)])
    assert sink.of(model.ResponseHeadersSeen) == []
    assert sinks.closed(sink.events) == []
    observer.feed(U, _ok())
    headers = sink.of(model.ResponseHeadersSeen)
    assert [h.http_status for h in headers] == [200]
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 200")]


def test_a_100_continue_sent_with_the_answer_in_one_piece_is_skipped() -> None:
    observer, sink = _observer()
    _feed(observer, [(D, _post()), (U, CONTINUE + _ok())])
    assert [h.http_status for h in sink.of(model.ResponseHeadersSeen)] == [200]
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200"]


# -- byte splits ----------------------------------------------------------------------------------


def test_the_reference_conversation_gives_the_expected_streams() -> None:
    events = _conversation_events(CONVERSATION)
    assert [(c.stream, c.code, c.details) for c in sinks.closed(events)] == [
        (1, 0, "HTTP 200"),
        (2, 0, "HTTP 200"),
        (3, 0, "HTTP 304"),
        (4, 0, "HTTP 200"),
        (5, 0, "HTTP 200"),
    ]
    assert sinks.raws(events, model.Direction.RESPONSE) == [
        RESPONSE_BODY,
        RESPONSE_BODY,
        b"",
        b'{"a":1}',
        b'{"b":2}',
    ]


def test_one_byte_chunks_give_the_same_events() -> None:
    assert _conversation_events(_split_steps(CONVERSATION, 1)) == _conversation_events(CONVERSATION)


@pytest.mark.parametrize("seed", range(20))
def test_random_chunkings_give_the_same_events(seed: int) -> None:
    rng = random.Random(seed)
    assert _conversation_events(_split_steps(CONVERSATION, rng)) == _conversation_events(CONVERSATION)


def test_an_answer_before_the_request_body_ends_publishes_the_request_body_seen_so_far() -> None:
    """A server may answer before reading all of the request: the request message comes first."""
    observer, sink = _observer()
    request = _post()
    observer.feed(D, request[:-30])
    observer.feed(U, _ok(b"too large", b"413 Payload Too Large"))
    observer.feed(D, request[-30:])
    assert sink.kinds() == sinks.POLL
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY[:-30]]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b"too large"]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 413")]
    _feed(observer, POLL)  # the connection is still followed
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 413", "HTTP 200"]


# -- which requests are recorded ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/stats", "/v3/discovery", "/discovery:clusters"])
def test_a_non_discovery_path_passes_unrecorded_and_a_later_poll_is_recorded(path: str) -> None:
    observer, sink = _observer()
    observer.feed(D, _get(path))
    observer.feed(U, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlive\n")
    assert sink.events == []
    _feed(observer, POLL)
    assert [e.method for e in sink.of(model.StreamOpened)] == [CDS]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200"]


def test_a_non_discovery_request_pipelined_before_a_poll_takes_the_first_answer() -> None:
    observer, sink = _observer()
    observer.feed(D, _get("/stats") + _post())
    observer.feed(U, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstats\n" + _ok())
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200"]


def test_a_query_string_on_a_discovery_path_is_kept_in_the_method() -> None:
    observer, sink = _observer()
    target = CDS + "?node=envoy-1&zone=a"
    _feed(observer, [(D, _post(target)), (U, _ok())])
    assert _methods(sink.events) == {target}
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200"]


def test_a_v2_discovery_path_is_recorded() -> None:
    observer, sink = _observer()
    _feed(observer, [(D, _post("/v2/discovery:listeners")), (U, _ok())])
    opened = sink.of(model.StreamOpened)
    assert [e.method for e in opened] == ["/v2/discovery:listeners"]
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200"]


# -- what cannot be followed ----------------------------------------------------------------------


def test_a_head_request_is_unfollowable() -> None:
    observer, sink = _observer()
    with pytest.raises(Unfollowable, match="HEAD"):
        observer.feed(D, b"HEAD " + CDS.encode() + b" HTTP/1.1\r\nHost: cp.example\r\n\r\n")
    assert sink.events == []


def test_an_upgrade_request_is_unfollowable_by_the_time_it_is_answered_101() -> None:
    observer, _ = _observer()
    request = (
        b"GET " + CDS.encode() + b" HTTP/1.1\r\nHost: cp.example\r\n"
        b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    answer = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00"
    with pytest.raises(Unfollowable, match="upgrade"):
        _feed(observer, [(D, request), (U, answer)])


def test_a_101_answer_is_unfollowable() -> None:
    observer, _ = _observer()
    observer.feed(D, _post(extra=b"Upgrade: websocket\r\n"))
    answer = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00"
    with pytest.raises(Unfollowable, match="switched protocols"):
        observer.feed(U, answer)


def test_garbage_from_envoy_is_unfollowable_naming_envoy() -> None:
    observer, sink = _observer()
    with pytest.raises(Unfollowable, match=re.escape("Envoy's requests are not HTTP/1.1")):
        observer.feed(D, b"\x00\x01\x02 not http at all\r\n\r\n")
    assert sink.events == []


def test_garbage_from_the_control_plane_is_unfollowable_naming_the_control_plane() -> None:
    observer, _ = _observer()
    observer.feed(D, _post())
    with pytest.raises(Unfollowable, match=re.escape("the control plane's answers are not HTTP/1.1")):
        observer.feed(U, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def test_an_answer_to_no_request_is_unfollowable() -> None:
    observer, _ = _observer()
    with pytest.raises(Unfollowable, match="answer to no request"):
        observer.feed(U, _ok())


# -- connections that end early -------------------------------------------------------------------


def test_the_control_plane_ending_mid_answer_publishes_the_partial_body_and_code_14() -> None:
    observer, sink = _observer()
    answer = _ok()
    cut = len(answer) - len(RESPONSE_BODY) + 10
    _feed(observer, [(D, _post()), (U, answer[:cut])])
    assert sinks.closed(sink.events) == []
    observer.connection_ended(model.CloseCause.UPSTREAM, "the control plane closed the connection")
    assert sink.kinds() == sinks.POLL
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY[:10]]
    (closed,) = sinks.closed(sink.events)
    assert closed.code == 14
    assert closed.cause is model.CloseCause.UPSTREAM
    assert "after 10 body bytes" in closed.details
    assert closed.details == "HTTP 200, then the control plane closed the connection after 10 body bytes"


def test_envoy_going_away_before_the_answer_gives_code_1_and_cause_downstream() -> None:
    observer, sink = _observer()
    observer.feed(D, _post())
    observer.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    assert sink.kinds() == ["StreamOpened", "MessageSeen", "StreamClosed"]
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause, closed.details) == (
        1,
        model.CloseCause.DOWNSTREAM,
        "Envoy closed the connection",
    )


def test_envoy_going_away_mid_request_publishes_the_partial_request_body() -> None:
    observer, sink = _observer()
    request = _post()
    observer.feed(D, request[:-5])
    assert sinks.raws(sink.events, model.Direction.REQUEST) == []
    observer.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY[:-5]]
    assert [(c.code, c.cause) for c in sinks.closed(sink.events)] == [(1, model.CloseCause.DOWNSTREAM)]


def test_every_pipelined_poll_still_open_is_closed_when_the_connection_ends() -> None:
    observer, sink = _observer()
    observer.feed(D, _post(CDS, b"{}") + _post(LDS, b"{}"))
    observer.connection_ended(model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down")
    closed = sinks.closed(sink.events)
    assert [(c.stream, c.code, c.cause, c.details) for c in closed] == [
        (1, 1, model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down"),
        (2, 1, model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down"),
    ]


def test_connection_ended_after_complete_polls_publishes_nothing_more() -> None:
    observer, sink = _observer()
    _feed(observer, POLL)
    before = list(sink.events)
    observer.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    assert sink.events == before


def test_a_response_delimited_by_the_connection_closing_is_complete() -> None:
    observer, sink = _observer()
    _feed(
        observer,
        [(D, _post()), (U, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + RESPONSE_BODY)],
    )
    observer.connection_ended(model.CloseCause.UPSTREAM, "the control plane closed the connection")
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 200")]


# -- an unreachable control plane -----------------------------------------------------------------


def test_an_unreachable_control_plane_closes_the_answered_poll_with_code_14() -> None:
    observer, sink = _observer()
    observer.context.unreachable = "control plane 127.0.0.1:1 unreachable: connection refused"
    body = b"xdsspy: control plane 127.0.0.1:1 unreachable: connection refused\n"
    answer = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    ) + body
    _feed(observer, [(D, _post()), (U, answer)])
    assert [h.http_status for h in sink.of(model.ResponseHeadersSeen)] == [503]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [body]
    (closed,) = sinks.closed(sink.events)
    assert closed.code == 14
    assert closed.cause is model.CloseCause.UPSTREAM_UNAVAILABLE
    assert closed.details.startswith("HTTP 503 from xdsspy")
    assert closed.details == "HTTP 503 from xdsspy: control plane 127.0.0.1:1 unreachable: connection refused"


def test_an_unreachable_control_plane_closes_an_unanswered_poll_with_its_reason() -> None:
    observer, sink = _observer()
    observer.context.unreachable = "control plane 127.0.0.1:1 unreachable: timed out"
    observer.feed(D, _post())
    observer.connection_ended(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")
    (closed,) = sinks.closed(sink.events)
    assert (closed.code, closed.cause, closed.details) == (
        14,
        model.CloseCause.UPSTREAM_UNAVAILABLE,
        "control plane 127.0.0.1:1 unreachable: timed out",
    )


# -- the recording limit --------------------------------------------------------------------------


def test_a_request_body_over_the_limit_gives_a_note_and_no_request_message() -> None:
    observer, sink = _observer(max_body_bytes=len(REQUEST_BODY) - 1)
    _feed(observer, [(D, _post()), (U, _ok(b"{}"))])
    assert sinks.raws(sink.events, model.Direction.REQUEST) == []
    notes = sink.of(model.Note)
    assert len(notes) == 1
    note = notes[0]
    assert isinstance(note, model.Note)
    assert note.level is model.NoteLevel.WARNING
    assert f"{len(REQUEST_BODY)} bytes" in note.text and "not recorded" in note.text
    assert (note.connection, note.stream) == (7, 1)
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b"{}"]
    assert [(c.code, c.details) for c in sinks.closed(sink.events)] == [(0, "HTTP 200")]


def test_a_response_body_over_the_limit_closes_with_code_8_and_no_response_message() -> None:
    observer, sink = _observer(max_body_bytes=len(RESPONSE_BODY) - 1)
    _feed(observer, [(D, _post(body=b"{}")), (U, _chunked_ok())])
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [b"{}"]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == []
    (closed,) = sinks.closed(sink.events)
    assert closed.code == 8
    assert closed.cause is model.CloseCause.UPSTREAM
    assert closed.details.startswith("HTTP 200;")
    assert f"{len(RESPONSE_BODY)}-byte body" in closed.details


def test_bodies_exactly_at_the_limit_are_recorded() -> None:
    observer, sink = _observer(max_body_bytes=len(RESPONSE_BODY))
    _feed(observer, [(D, _post(body=RESPONSE_BODY)), (U, _ok())])
    assert sinks.raws(sink.events, model.Direction.REQUEST) == [RESPONSE_BODY]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [RESPONSE_BODY]
    assert sink.of(model.Note) == []


# -- ids and order --------------------------------------------------------------------------------


def test_polls_draw_distinct_stream_ids_from_the_shared_ids_and_keep_their_connection() -> None:
    ids = sink_mod.Ids()
    assert ids.new_stream() == 1  # another proxy of the same capture took one
    first, first_sink = _observer(connection=3, ids=ids)
    second, second_sink = _observer(connection=4, ids=ids)
    _feed(first, POLL)
    _feed(second, POLL)
    _feed(first, [(D, _get("/healthz")), (U, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")])
    _feed(first, POLL)
    assert [(e.connection, e.stream) for e in first_sink.of(model.StreamOpened)] == [(3, 2), (3, 4)]
    assert [(e.connection, e.stream) for e in second_sink.of(model.StreamOpened)] == [(4, 3)]
    assert {e.connection for e in first_sink.events} == {3}
    assert ids.new_stream() == 5  # the health check took no stream id


def test_seq_numbers_increase_across_the_connection() -> None:
    events = _conversation_events(CONVERSATION)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_an_http_1_0_poll_is_recorded_as_such() -> None:
    observer, sink = _observer()
    observer.feed(Side.DOWNSTREAM, b"POST /v3/discovery:clusters HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}")
    observer.feed(Side.UPSTREAM, b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
    (opened,) = sink.of(model.StreamOpened)
    assert opened.http_version == "1.0"


# -- bodies counted past the parser ------------------------------------------------------------


def test_a_content_length_body_in_one_chunk_is_handed_on_as_a_view_of_that_chunk() -> None:
    body = b'{"version_info":"7","resources":[' + b"0" * 600_000 + b"]}"
    chunk = bytearray(_ok(body) + _ok(b'{"b":2}'))  # as the relay's read buffer, pipelined answers
    observer, sink = _observer()
    observer.feed(D, _post() + _post())
    observer.feed(U, memoryview(chunk))
    first, second = sinks.raws(sink.events, model.Direction.RESPONSE)
    assert isinstance(first, memoryview) and first.obj is chunk and first == body  # no copy
    assert second == b'{"b":2}'
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 200", "HTTP 200"]


def test_a_304_or_204_with_a_content_length_has_no_body_and_the_next_answer_follows() -> None:
    observer, sink = _observer()
    observer.feed(D, _post() + _post() + _post())
    observer.feed(U, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n")
    observer.feed(U, b"HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n" + _ok())
    assert [c.details for c in sinks.closed(sink.events)] == ["HTTP 304", "HTTP 204", "HTTP 200"]
    assert sinks.raws(sink.events, model.Direction.RESPONSE) == [b"", b"", RESPONSE_BODY]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"5, 6"])
def test_a_content_length_that_is_not_a_length_is_unfollowable(length: bytes) -> None:
    observer, _ = _observer()
    observer.feed(D, _post())
    with pytest.raises(Unfollowable, match=re.escape("not HTTP/1.1 xdsspy can follow")):
        observer.feed(U, b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\n{}")


def test_a_blank_line_split_at_every_point_across_chunks_ends_the_head_there() -> None:
    data = _post() + _post(LDS, b"{}")
    head_end = data.index(b"\r\n\r\n")
    for cut in range(head_end - 2, head_end + 5):
        observer, sink = _observer()
        observer.feed(D, data[:cut])
        observer.feed(D, data[cut:])
        assert sinks.raws(sink.events, model.Direction.REQUEST) == [REQUEST_BODY, b"{}"], cut
