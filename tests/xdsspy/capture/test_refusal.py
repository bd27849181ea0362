"""xdsspy's answer for an unreachable control plane: 503 over HTTP/1.1, UNAVAILABLE over HTTP/2."""

from __future__ import annotations

import urllib.parse
from typing import TypeVar

import h2.config
import h2.connection
import h2.events
import httptools

from xdsspy.capture.h2_observer import PREFACE
from xdsspy.capture.refusal import Refusal

REASON = "control plane 127.0.0.1:18000 unreachable: connection refused"
ADS = b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
CDS = b"/v3/discovery:clusters"
E = TypeVar("E", bound=h2.events.Event)
HTTP1_POLL = b"POST /v3/discovery:clusters HTTP/1.1\r\nHost: cp\r\nContent-Length: 2\r\n\r\n{}"


class Answer:
    """httptools callbacks collecting one HTTP/1.1 response."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.complete = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete += 1


def _parse_http1(data: bytes) -> tuple[int, Answer]:
    answer = Answer()
    parser = httptools.HttpResponseParser(answer)
    parser.feed_data(data)
    return parser.get_status_code(), answer


def _one_byte_at_a_time(refusal: Refusal, data: bytes) -> bytes:
    return b"".join(refusal.feed(data[i : i + 1]) for i in range(len(data)))


def _h2_client() -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    client.initiate_connection()
    return client


def _request_headers(path: bytes, content_type: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":authority", b"xds_cluster"),
        (b":path", path),
        (b"content-type", content_type),
        (b"te", b"trailers"),
    ]


def _events_of(client: h2.connection.H2Connection, answer: bytes) -> list[h2.events.Event]:
    return list(client.receive_data(answer))


def _of(events: list[h2.events.Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def _grpc_exchange(reason: str) -> tuple[Refusal, list[h2.events.Event]]:
    refusal = Refusal(reason)
    client = _h2_client()
    client.send_headers(1, _request_headers(ADS, b"application/grpc"))
    client.send_data(1, b"\x00\x00\x00\x00\x00")
    answer = _one_byte_at_a_time(refusal, client.data_to_send())
    return refusal, _events_of(client, answer)


# -- HTTP/1.1 -------------------------------------------------------------------------------------


def test_an_http1_request_gets_a_503_with_the_reason_and_connection_close() -> None:
    refusal = Refusal(REASON)
    answer = refusal.feed(HTTP1_POLL)
    assert refusal.finished
    status, parsed = _parse_http1(answer)
    assert status == 503
    assert parsed.complete == 1
    assert (b"connection", b"close") in parsed.headers
    assert (b"content-type", b"text/plain; charset=utf-8") in parsed.headers
    assert parsed.body == f"xdsspy: {REASON}\n".encode()
    assert (b"content-length", str(len(parsed.body)).encode()) in parsed.headers


def test_an_http1_request_is_answered_only_once_it_has_fully_arrived() -> None:
    refusal = Refusal(REASON)
    outputs = [refusal.feed(HTTP1_POLL[i : i + 1]) for i in range(len(HTTP1_POLL))]
    assert outputs[:-1] == [b""] * (len(HTTP1_POLL) - 1)
    assert outputs[-1].startswith(b"HTTP/1.1 503 ")
    assert refusal.finished


def test_an_http1_request_with_its_body_still_missing_gets_no_answer_yet() -> None:
    refusal = Refusal(REASON)
    assert refusal.feed(HTTP1_POLL[:-1]) == b""
    assert not refusal.finished
    assert refusal.feed(HTTP1_POLL[-1:]).startswith(b"HTTP/1.1 503 ")


def test_an_http1_request_starting_like_the_http2_preface_is_still_http1() -> None:
    refusal = Refusal(REASON)
    request = b"PUT /v3/discovery:clusters HTTP/1.1\r\nHost: cp\r\nContent-Length: 0\r\n\r\n"
    assert refusal.feed(b"P") == b""  # could still be "PRI * HTTP/2.0"
    status, _ = _parse_http1(refusal.feed(request[1:]))
    assert status == 503


def test_pipelined_http1_requests_get_one_answer() -> None:
    refusal = Refusal(REASON)
    answer = refusal.feed(HTTP1_POLL + HTTP1_POLL)
    assert answer.count(b"HTTP/1.1 503 ") == 1
    assert refusal.finished


def test_bytes_that_are_not_http_still_get_a_503() -> None:
    refusal = Refusal(REASON)
    status, parsed = _parse_http1(refusal.feed(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
    assert refusal.finished
    assert status == 503
    assert parsed.body == f"xdsspy: {REASON}\n".encode()


def test_nothing_is_returned_after_the_http1_answer() -> None:
    refusal = Refusal(REASON)
    refusal.feed(HTTP1_POLL)
    assert refusal.finished
    assert refusal.feed(HTTP1_POLL) == b""
    assert refusal.feed(b"anything") == b""
    assert refusal.finished


def test_an_http1_upgrade_request_gets_a_503() -> None:
    refusal = Refusal(REASON)
    request = (
        b"GET /v3/discovery:clusters HTTP/1.1\r\nHost: cp\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    )
    answer = refusal.feed(request)
    assert refusal.finished
    status, _ = _parse_http1(answer)
    assert status == 503


# -- HTTP/2 ---------------------------------------------------------------------------------------


def test_http2_needs_the_whole_preface_before_answering() -> None:
    refusal = Refusal(REASON)
    outputs = [refusal.feed(PREFACE[i : i + 1]) for i in range(len(PREFACE))]
    assert outputs[:-1] == [b""] * (len(PREFACE) - 1)
    assert outputs[-1] != b""  # the server's SETTINGS, once the preface is whole
    assert not refusal.finished
    client = _h2_client()
    client.data_to_send()
    events = _events_of(client, outputs[-1])
    assert _of(events, h2.events.RemoteSettingsChanged)
    assert not _of(events, h2.events.ConnectionTerminated)


def test_http2_settings_alone_are_acknowledged_without_finishing() -> None:
    refusal = Refusal(REASON)
    client = _h2_client()
    answer = _one_byte_at_a_time(refusal, client.data_to_send())
    assert not refusal.finished
    events = _events_of(client, answer)
    assert _of(events, h2.events.SettingsAcknowledged)
    assert not _of(events, h2.events.ConnectionTerminated)


def test_a_grpc_request_gets_a_trailers_only_unavailable_with_the_reason_then_goaway() -> None:
    refusal, events = _grpc_exchange(REASON)
    assert refusal.finished
    (response,) = _of(events, h2.events.ResponseReceived)
    assert isinstance(response, h2.events.ResponseReceived)
    assert response.stream_id == 1
    headers = dict(response.headers or [])
    assert headers[b":status"] == b"200"
    assert headers[b"content-type"] == b"application/grpc"
    assert headers[b"grpc-status"] == b"14"
    message = urllib.parse.unquote(headers[b"grpc-message"].decode("ascii"))
    assert message == f"xdsspy: {REASON}"
    assert not _of(events, h2.events.DataReceived)
    assert [e.stream_id for e in _of(events, h2.events.StreamEnded)] == [1]
    (goaway,) = _of(events, h2.events.ConnectionTerminated)
    assert isinstance(goaway, h2.events.ConnectionTerminated)
    assert goaway.error_code == 0
    assert goaway.last_stream_id == 1
    assert events.index(goaway) > events.index(response)


def test_a_grpc_request_with_a_content_type_suffix_is_grpc() -> None:
    refusal = Refusal(REASON)
    client = _h2_client()
    client.send_headers(1, _request_headers(ADS, b"application/grpc+proto"), end_stream=True)
    events = _events_of(client, refusal.feed(client.data_to_send()))
    (response,) = _of(events, h2.events.ResponseReceived)
    assert dict(response.headers or [])[b"grpc-status"] == b"14"


def test_the_grpc_message_is_percent_encoded_utf8() -> None:
    reason = "50% of cp-é unreachable\r\n"
    _, events = _grpc_exchange(reason)
    (response,) = _of(events, h2.events.ResponseReceived)
    raw = dict(response.headers or [])[b"grpc-message"]
    assert raw == b"xdsspy: 50%25 of cp-%C3%A9 unreachable%0D%0A"
    assert all(0x20 <= byte <= 0x7E for byte in raw)
    assert urllib.parse.unquote(raw.decode("ascii")) == f"xdsspy: {reason}"


def test_a_rest_request_over_h2c_gets_a_503_with_the_reason_then_goaway() -> None:
    refusal = Refusal(REASON)
    client = _h2_client()
    client.send_headers(1, _request_headers(CDS, b"application/json"))
    client.send_data(1, b"{}", end_stream=True)
    events = _events_of(client, _one_byte_at_a_time(refusal, client.data_to_send()))
    assert refusal.finished
    (response,) = _of(events, h2.events.ResponseReceived)
    assert isinstance(response, h2.events.ResponseReceived)
    headers = dict(response.headers or [])
    assert headers[b":status"] == b"503"
    assert b"grpc-status" not in headers
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    body = b"".join(e.data for e in _of(events, h2.events.DataReceived))
    assert body == f"xdsspy: {REASON}\n".encode()
    assert headers[b"content-length"] == str(len(body)).encode()
    assert [e.stream_id for e in _of(events, h2.events.StreamEnded)] == [1]
    (goaway,) = _of(events, h2.events.ConnectionTerminated)
    assert goaway.error_code == 0
    assert events.index(goaway) > events.index(response)


def test_nothing_is_returned_after_the_http2_answer() -> None:
    refusal, _ = _grpc_exchange(REASON)
    assert refusal.finished
    client = _h2_client()
    client.send_headers(1, _request_headers(ADS, b"application/grpc"), end_stream=True)
    assert refusal.feed(client.data_to_send()) == b""
    assert refusal.feed(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00") == b""


def test_an_http2_protocol_error_finishes_with_a_goaway() -> None:
    refusal = Refusal(REASON)
    client = _h2_client()
    hello = refusal.feed(client.data_to_send())
    # a DATA frame on stream 0 is a connection error
    answer = refusal.feed(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    assert refusal.finished
    events = _events_of(client, hello + answer)
    (goaway,) = _of(events, h2.events.ConnectionTerminated)
    assert goaway.error_code != 0
    assert refusal.feed(b"more") == b""
