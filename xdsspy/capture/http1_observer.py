"""HTTP/1.1 read from the side of the wire: Envoy's REST polls and their answers, nothing answered.

httptools (llhttp, the parser behind Node.js and uvicorn) splits each
direction into messages; requests and responses are paired in order, as
HTTP/1.1 pairs them. Discovery polls are published through rest_events;
other requests pass unrecorded.

A body with a Content-Length (what Envoy sends, and what most control
planes answer) does not go through the parser: httptools hands every body
over as a new bytes object, and that copy of each 1 MB answer cost a fifth
of the capture loop's time. The observer feeds the parser each head only
(up to its blank line), counts the body itself as views of the chunks the
relay gave, and starts a fresh parser for the next message. Chunked bodies,
and answers that end with the connection, are left to the parser for the
rest of the connection.

What the observer cannot follow (an upgrade to another protocol, a HEAD
request whose answer has no body to expect, a head or trailers longer than
MAX_HEAD) raises Unfollowable: the relay stops watching that connection and
goes on forwarding it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Generic
from typing import Protocol
from typing import TypeVar

import httptools

from xdsspy import model
from xdsspy.capture import rest_events
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side


class Unfollowable(Exception):
    """The connection goes on in a way the observer cannot read."""


_HEAD_WINDOW = 8192
"""Bytes of a chunk copied at a time to look for the end of a head (heads are far smaller)."""
MAX_HEAD = 1 << 20
"""Bytes the parser may read without finishing a head (or trailers, or a chunk's extensions). A poll's
head is a few hundred bytes and Envoy refuses 60 KiB by default; past this the observer stops rather
than let httptools hold an endless head (it joins a header split across chunks by concatenation, and a
head of short headers becomes ten times its size in Python objects)."""


class _Callbacks(Protocol):
    def on_body(self, body: bytes | memoryview) -> None: ...

    def on_message_complete(self) -> None: ...


_Parser = TypeVar("_Parser", httptools.HttpRequestParser, httptools.HttpResponseParser)


class _Direction(Generic[_Parser]):
    """One direction: its parser, and the Content-Length body being counted past it, if any."""

    def __init__(self, make_parser: Callable[[_Callbacks], _Parser], callbacks: _Callbacks) -> None:
        self._make_parser: Callable[[_Callbacks], _Parser] = make_parser
        self.callbacks = callbacks
        self.parser: _Parser = make_parser(callbacks)
        self.body_left = 0  # bytes of a Content-Length body still to come, counted here, not parsed
        self.whole = False  # from here on the parser reads everything (chunked or close-delimited bodies)
        self.tail = b""  # the last bytes of the head so far, to find a blank line split across chunks
        self.unfinished = 0  # bytes fed to the parser since it last finished a head or passed body bytes

    def fresh_parser(self) -> None:
        self.parser = self._make_parser(self.callbacks)

    def progressed(self) -> None:
        """The parser finished a head or a message, or passed body bytes: what it holds is spent."""
        self.unfinished = 0

    def head_end(self, view: memoryview, pos: int) -> int:
        """Index in view just past the blank line that ends the head being read; -1 if it is not here."""
        start = pos
        while start < len(view):
            window = bytes(view[start : start + _HEAD_WINDOW])
            seen = self.tail + window  # seen[i] is view[start - len(tail) + i]
            found = seen.find(b"\r\n\r\n")
            if found >= 0:
                end = start - len(self.tail) + found + 4
                self.tail = b""
                return end
            self.tail = seen[-3:]
            start += len(window)
        return -1

    def plan_body(
        self, headers: list[tuple[bytes, bytes]], *, has_body: bool, unsized_until_close: bool
    ) -> bool:
        """After a head: count a Content-Length body here, or leave the rest of the connection to the
        parser. Returns whether the body runs to the end of the connection.

        has_body is False where no body follows whatever the headers say (an
        interim, 204 or 304 answer); unsized_until_close says that a body with
        neither length nor chunking runs to the end of the connection (an
        answer) rather than being absent (a request), RFC 9112 section 6.3.
        """
        if not has_body:
            return False
        lengths = [value for name, value in headers if name.lower() == b"content-length"]
        chunked = any(name.lower() == b"transfer-encoding" for name, _ in headers)
        until_close = unsized_until_close and not lengths and not chunked
        if self.whole:  # the parser already reads this body itself
            return until_close
        if chunked:
            self.whole = True
        elif len(lengths) == 1 and lengths[0].strip().isdigit():
            self.body_left = int(lengths[0])  # 0: the parser ends the message at the head itself
        elif lengths or unsized_until_close:
            self.whole = True  # unusual lengths, or a body the close ends: the parser judges
        return until_close


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
        self._owner.requests.progressed()
        self._poll = self._owner.request_started(self._url, self._headers)
        self._owner.requests.plan_body(self._headers, has_body=True, unsized_until_close=False)

    def on_body(self, body: bytes | memoryview) -> None:
        self._owner.requests.progressed()
        if self._poll is not None:
            self._poll.body(True, body)

    def on_message_complete(self) -> None:
        self._owner.requests.progressed()
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
        self._owner.responses.progressed()
        status = self._owner.response_status()
        self._interim = status < 200
        if not self._interim:
            self._poll = self._owner.response_started(status, self._headers)
        has_body = status >= 200 and status not in (204, 304)
        self._owner.close_delimited = self._owner.responses.plan_body(
            self._headers, has_body=has_body, unsized_until_close=True
        )

    def on_body(self, body: bytes | memoryview) -> None:
        self._owner.responses.progressed()
        if self._poll is not None:
            self._poll.body(False, body)

    def on_message_complete(self) -> None:
        self._owner.responses.progressed()
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
        self.requests = _Direction(httptools.HttpRequestParser, _Requests(self))
        self.responses = _Direction(httptools.HttpResponseParser, _Responses(self))
        self._waiting: collections.deque[rest_events.Poll | None] = collections.deque()
        self.close_delimited = False  # the answer being read has no length: the close ends it

    def feed(self, side: Side, data: bytes | memoryview) -> None:
        direction: _Direction[httptools.HttpRequestParser] | _Direction[httptools.HttpResponseParser]
        direction = self.requests if side is Side.DOWNSTREAM else self.responses
        callbacks = direction.callbacks
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end:
            if direction.body_left:  # a Content-Length body: handed on as views, never copied
                take = min(direction.body_left, end - pos)
                callbacks.on_body(view[pos : pos + take])
                pos += take
                direction.body_left -= take
                if not direction.body_left:
                    direction.fresh_parser()  # the old one still waits for the body it never saw
                    callbacks.on_message_complete()
                continue
            if direction.whole:
                self._parse(side, direction, view[pos:])
                return
            head_end = direction.head_end(view, pos)
            stop = end if head_end < 0 else head_end
            self._parse(side, direction, view[pos:stop])
            pos = stop

    def _parse(
        self,
        side: Side,
        direction: _Direction[httptools.HttpRequestParser] | _Direction[httptools.HttpResponseParser],
        data: memoryview,
    ) -> None:
        direction.unfinished += len(data)  # the callbacks set it back to 0 as the parser gets on
        try:
            direction.parser.feed_data(data)
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
        if direction.unfinished > MAX_HEAD:
            who = "Envoy" if side is Side.DOWNSTREAM else "the control plane"
            raise Unfollowable(f"{who} sent a head (or trailers) of more than {MAX_HEAD} bytes")

    # -- from the parsers -----------------------------------------------------------------

    def request_started(self, target: bytes, headers: list[tuple[bytes, bytes]]) -> rest_events.Poll | None:
        method = self.requests.parser.get_method()
        if method == b"HEAD":
            raise Unfollowable("a HEAD request: its answer's length cannot be followed")
        poll = None
        if rest_events.is_discovery_path(target):
            poll = rest_events.Poll(
                self.context,
                target=target,
                http_method=method.decode("latin-1"),
                http_version=self.requests.parser.get_http_version(),
                headers=headers,
            )
            poll.open()
        self._waiting.append(poll)
        return poll

    def response_status(self) -> int:
        return int(self.responses.parser.get_status_code())

    def response_started(self, status: int, headers: list[tuple[bytes, bytes]]) -> rest_events.Poll | None:
        if not self._waiting:
            raise Unfollowable(f"an HTTP {status} answer to no request")
        poll = self._waiting[0]
        if poll is not None:
            poll.answer(status, headers)
        return poll

    def response_finished(self) -> None:
        if self._waiting:
            self._waiting.popleft()

    # -- the connection ended -------------------------------------------------------------

    def connection_ended(self, cause: model.CloseCause, details: str) -> None:
        """Close every poll still open, saying why."""
        if cause is model.CloseCause.UPSTREAM and self.close_delimited and self._waiting:
            poll = self._waiting.popleft()  # its answer is complete: its body was to end with the connection
            if poll is not None and not poll.closed:
                poll.response_done()
        code, cause, details = self.context.ending(cause, details)
        for poll in self._waiting:
            if poll is not None and not poll.closed:
                poll.abandon(code, details, cause)
        self._waiting.clear()
