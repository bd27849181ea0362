"""One REST poll (HTTP/1.1 or h2c), published as one stream, the way a gRPC call is.

A poll becomes StreamOpened (transport REST, method = path and query,
http_method, request headers), MessageSeen for the request body,
ResponseHeadersSeen with the HTTP status, MessageSeen for the response body
(empty for a 304, so every exchange is complete) and StreamClosed. Its code is
0 for any HTTP answer the control plane gave (the status is in the headers
event and in details, "HTTP 304"); when the exchange did not complete, the
code says why in gRPC terms: UNAVAILABLE when the control plane could not be
reached or broke off, CANCELLED when Envoy went away, RESOURCE_EXHAUSTED when
a body was over the recording limit (it was forwarded all the same).
"""

from __future__ import annotations

import re

from xdsspy import model
from xdsspy.capture import sink as sink_mod
from xdsspy.grpc_status import Code

_DISCOVERY_PATH = re.compile(rb"\A/v[0-9]+/discovery:[^/?]+(\?.*)?\Z")


def is_discovery_path(target: bytes) -> bool:
    """Whether a request target is an xDS REST endpoint (`/v3/discovery:clusters`, ...), hence recorded."""
    return _DISCOVERY_PATH.match(target) is not None


class _Body:
    """A body as it passes, kept whole unless it grows over the limit.

    Pieces are kept as they come, views of the relay's chunks included: a
    chunk handed on as a view is never written into again while anything
    holds it (capture.relay), so a body that arrived in one piece is
    recorded without a copy."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes | memoryview] = []
        self.size = 0

    def add(self, piece: bytes | memoryview) -> None:
        self.size += len(piece)
        if self.size <= self.limit:
            self.parts.append(piece)
        else:
            self.parts = []

    @property
    def over_limit(self) -> bool:
        return self.size > self.limit

    def joined(self) -> bytes | memoryview:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class Poll:
    """The events of one request and its answer."""

    def __init__(
        self,
        context: sink_mod.ConnectionContext,
        *,
        target: bytes,
        http_method: str,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.context = context
        self._publish = context.publish
        self.ids = context.new_stream()
        self.method = target.decode("latin-1")
        self.http_method = http_method
        self.http_version = http_version
        self.headers = headers
        self._limit = context.max_message_bytes
        self._request: _Body | None = _Body(self._limit)
        self._response: _Body | None = None
        self.status = 0
        self.answered = False
        self.closed = False

    def open(self) -> None:
        self._publish(
            model.StreamOpened(
                **self.context.stamp(),
                **self.ids,
                transport=model.Transport.REST,
                method=self.method,
                http_method=self.http_method,
                http_version=self.http_version,
                peer=self.context.peer,
                metadata=_metadata(self.headers),
            )
        )

    def body(self, from_envoy: bool, piece: bytes | memoryview) -> None:
        target = self._request if from_envoy else self._response
        if target is not None:
            target.add(piece)

    def request_done(self) -> None:
        """Envoy's request is complete: publish its body."""
        request, self._request = self._request, None
        if request is None:
            return
        if request.over_limit:
            self._note(
                f"a request body of {request.size} bytes was forwarded but not recorded:"
                f" over the limit of {self._limit} bytes"
            )
            return
        self._message(model.Direction.REQUEST, request.joined())

    def answer(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """The control plane's final response headers."""
        self.request_done()  # a server may answer before reading all of the request
        self.answered = True
        self.status = status
        self._response = _Body(self._limit)
        self._publish(
            model.ResponseHeadersSeen(
                **self.context.stamp(),
                **self.ids,
                metadata=_metadata(headers),
                http_status=status,
                method=self.method,
            )
        )

    def response_done(self) -> None:
        """The answer is complete."""
        response, self._response = self._response, None
        if response is None:
            self._close(Code.UNAVAILABLE, "the exchange ended without an answer", model.CloseCause.UPSTREAM)
            return
        if response.over_limit:
            details = (
                f"HTTP {self.status}; a {response.size}-byte body was forwarded but not recorded:"
                f" over the limit of {self._limit} bytes"
            )
            self._close(Code.RESOURCE_EXHAUSTED, details, model.CloseCause.UPSTREAM)
            return
        self._message(model.Direction.RESPONSE, response.joined())
        if self.context.unreachable:  # the answer was xdsspy's own
            details = f"HTTP {self.status} from xdsspy: {self.context.unreachable}"
            self._close(Code.UNAVAILABLE, details, model.CloseCause.UPSTREAM_UNAVAILABLE)
            return
        self._close(Code.OK, f"HTTP {self.status}", model.CloseCause.UPSTREAM)

    def abandon(self, code: int, details: str, cause: model.CloseCause) -> None:
        """The exchange ended early: publish what passed of it and why it ended."""
        if self.closed:
            return
        if self._request is not None and self._request.size:
            self.request_done()
        self._request = None
        response, self._response = self._response, None
        if response is not None:
            if response.size and not response.over_limit:
                self._message(model.Direction.RESPONSE, response.joined())
            details = f"HTTP {self.status}, then {details} after {response.size} body bytes"
        self._close(code, details, cause)

    def _message(self, direction: model.Direction, raw: bytes | memoryview) -> None:
        self._publish(
            model.MessageSeen(
                **self.context.stamp(), **self.ids, direction=direction, raw=raw, method=self.method
            )
        )

    def _note(self, text: str) -> None:
        self.context.note(model.NoteLevel.WARNING, text, self.ids["stream"])

    def _close(self, code: int, details: str, cause: model.CloseCause) -> None:
        self.closed = True
        self._publish(
            model.StreamClosed(
                **self.context.stamp(),
                **self.ids,
                code=code,
                details=details,
                trailers=(),
                cause=cause,
                method=self.method,
            )
        )


def _metadata(headers: list[tuple[bytes, bytes]]) -> model.Metadata:
    return tuple((k.decode("latin-1").lower(), v) for k, v in headers)
