"""HTTP/1.1 read from the side of the wire: Envoy's REST polls and their answers, nothing answered.

httptools (llhttp, the parser behind Node.js and uvicorn) splits each
direction into messages; requests and responses are paired in order, as
HTTP/1.1 pairs them. Discovery polls are published through rest_events;
other requests pass unrecorded. What the observer cannot follow (an upgrade
to another protocol, a HEAD request whose answer has no body to expect)
raises Unfollowable: the relay stops watching that connection and goes on
forwarding it.
"""

from __future__ import annotations

import collections

import httptools

from xdsspy import model
from xdsspy.capture import rest_events
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side


class Unfollowable(Exception):
    """The connection goes on in a way the observer cannot read."""


class _Requests:
    """httptools callbacks for Envoy's side."""

    def __init__(self, owner: Http1Observer) -> None:
        self._owner = owner
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._poll: rest_events.Poll | None = None

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._poll = self._owner.request_started(self._url, self._headers)

    def on_body(self, body: bytes) -> None:
        if self._poll is not None:
            self._poll.body(True, body)

    def on_message_complete(self) -> None:
        if self._poll is not None:
            self._poll.request_done()
        self._poll = None


class _Responses:
    """httptools callbacks for the control plane's side."""

    def __init__(self, owner: Http1Observer) -> None:
        self._owner = owner
        self._headers: list[tuple[bytes, bytes]] = []
        self._poll: rest_events.Poll | None = None
        self._interim = False

    def on_message_begin(self) -> None:
        self._headers = []

    def on_status(self, status: bytes) -> None:
        pass

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._owner.response_status()
        self._interim = status < 200
        if not self._interim:
            self._poll = self._owner.response_started(status, self._headers)

    def on_body(self, body: bytes) -> None:
        if self._poll is not None:
            self._poll.body(False, body)

    def on_message_complete(self) -> None:
        if self._interim:
            return
        if self._poll is not None:
            self._poll.response_done()
        self._poll = None
        self._owner.response_finished()


class Http1Observer:
    """Both directions of one HTTP/1.1 connection."""

    def __init__(self, context: sink_mod.ConnectionContext) -> None:
        self.context = context
        self._request_parser = httptools.HttpRequestParser(_Requests(self))
        self._response_parser = httptools.HttpResponseParser(_Responses(self))
        self._waiting: collections.deque[rest_events.Poll | None] = collections.deque()
        self._close_delimited = False  # the answer being read has no length: the close ends it

    def feed(self, side: Side, data: bytes | memoryview) -> None:
        parser = self._request_parser if side is Side.DOWNSTREAM else self._response_parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserCallbackError as e:
            cause = e.__context__
            raise (
                cause if isinstance(cause, Exception) else Unfollowable(str(e))
            ) from e  # ours, not the bytes'
        except httptools.HttpParserUpgrade as e:
            raise Unfollowable("the connection switched protocols (HTTP upgrade)") from e
        except httptools.HttpParserError as e:
            who = "Envoy's requests" if side is Side.DOWNSTREAM else "the control plane's answers"
            raise Unfollowable(f"{who} are not HTTP/1.1 xdsspy can follow: {e}") from e

    # -- from the parsers -----------------------------------------------------------------

    def request_started(self, target: bytes, headers: list[tuple[bytes, bytes]]) -> rest_events.Poll | None:
        method = self._request_parser.get_method()
        if method == b"HEAD":
            raise Unfollowable("a HEAD request: its answer's length cannot be followed")
        poll = None
        if rest_events.is_discovery_path(target):
            poll = rest_events.Poll(
                self.context,
                target=target,
                http_method=method.decode("latin-1"),
                http_version=self._request_parser.get_http_version(),
                headers=headers,
            )
            poll.open()
        self._waiting.append(poll)
        return poll

    def response_status(self) -> int:
        return int(self._response_parser.get_status_code())

    def response_started(self, status: int, headers: list[tuple[bytes, bytes]]) -> rest_events.Poll | None:
        if not self._waiting:
            raise Unfollowable(f"an HTTP {status} answer to no request")
        poll = self._waiting[0]
        if poll is not None:
            poll.answer(status, headers)
        self._close_delimited = _body_ends_with_the_connection(status, headers)
        return poll

    def response_finished(self) -> None:
        if self._waiting:
            self._waiting.popleft()

    # -- the connection ended -------------------------------------------------------------

    def connection_ended(self, cause: model.CloseCause, details: str) -> None:
        """Close every poll still open, saying why."""
        if cause is model.CloseCause.UPSTREAM and self._close_delimited and self._waiting:
            poll = self._waiting.popleft()  # its answer is complete: its body was to end with the connection
            if poll is not None and not poll.closed:
                poll.response_done()
        code, cause, details = self.context.ending(cause, details)
        for poll in self._waiting:
            if poll is not None and not poll.closed:
                poll.abandon(code, details, cause)
        self._waiting.clear()


def _body_ends_with_the_connection(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """An answer without Content-Length or chunking ends when the server closes (RFC 9112 section 6.3)."""
    if status in (204, 304) or status < 200:
        return False
    names = {name.lower() for name, _ in headers}
    return b"content-length" not in names and b"transfer-encoding" not in names
