"""One REST request and its answer: forwarded as they are, and published as one stream when it is a poll.

A poll becomes the same events a gRPC call does: StreamOpened (transport
REST, method = path and query, http_method, request headers), MessageSeen for
the request body, ResponseHeadersSeen with the HTTP status, MessageSeen for the
response body (empty for a 304, so every exchange is complete) and
StreamClosed. Its code is 0 for any HTTP answer the control plane gave (the
status is in the headers event and in details, "HTTP 304"); when xdsspy had
to answer itself, the code says why in gRPC terms: UNAVAILABLE for an
unreachable or broken upstream (Envoy got 503 or 502), RESOURCE_EXHAUSTED for
a body over the limit, CANCELLED when Envoy went away, INTERNAL for a failure
of xdsspy's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol

import hypercorn.typing as asgi

from xdsspy import aio
from xdsspy import model
from xdsspy.capture import rest_upstream
from xdsspy.capture import sink as sink_mod

# gRPC status codes for StreamClosed.code (see the module docstring).
OK = 0
CANCELLED = 1
RESOURCE_EXHAUSTED = 8
INTERNAL = 13
UNAVAILABLE = 14

Ending = tuple[int, str, model.CloseCause]
"""How a stream ended: StreamClosed's code, details and cause."""


class Owner(Protocol):
    """What an exchange needs from the proxy that accepted it."""

    sink: sink_mod.Sink
    stamper: sink_mod.Stamper
    max_body_bytes: int

    @property
    def upstream(self) -> str: ...

    @property
    def shutting_down(self) -> bool: ...


class _Disconnected(Exception):
    """Envoy went away before its request was complete."""


class _TooLarge(Exception):
    """A request body over the configured limit."""


class Exchange:
    """Forwards one request on one downstream connection; publishes it if `stream` is not 0."""

    def __init__(
        self,
        owner: Owner,
        client: rest_upstream.Client,
        ids: model.StreamIds,
        peer: str,
        scope: asgi.HTTPScope,
        receive: asgi.ASGIReceiveCallable,
        send: asgi.ASGISendCallable,
    ) -> None:
        self.owner = owner
        self.client = client
        self.ids = ids
        self.recorded = ids["stream"] != 0
        self.peer = peer
        self.scope = scope
        self.receive = receive
        self.send = send
        query = scope["query_string"]
        self.target = scope["raw_path"] + (b"?" + query if query else b"")
        self.method = self.target.decode("latin-1")
        self.answered = False  # response headers went to Envoy
        self.response_chunks: list[bytes] | None = None  # the upstream's body, once it is being relayed

    def publish(self, event: model.Event) -> None:
        if self.recorded:
            self.owner.sink.publish(event)

    def stamp(self) -> model.Stamp:
        return self.owner.stamper.stamp()

    async def run(self) -> None:
        headers = list(self.scope["headers"])
        if self.recorded:
            self.publish(
                model.StreamOpened(
                    **self.stamp(),
                    **self.ids,
                    transport=model.Transport.REST,
                    method=self.method,
                    http_method=self.scope["method"],
                    peer=self.peer,
                    metadata=_metadata(headers),
                )
            )
        try:
            body = await self._read_request()
        except _Disconnected:
            self._close(
                (CANCELLED, "Envoy disconnected while sending its request", model.CloseCause.DOWNSTREAM)
            )
            return
        except _TooLarge:
            limit = self.owner.max_body_bytes
            await self._answer(413, f"request body larger than the limit of {limit} bytes")
            details = f"HTTP 413 from xdsspy: request body over the limit of {limit} bytes, not forwarded"
            self._close((RESOURCE_EXHAUSTED, details, model.CloseCause.PROXY_ERROR))
            return
        if self.recorded:
            self.publish(
                model.MessageSeen(
                    **self.stamp(),
                    **self.ids,
                    direction=model.Direction.REQUEST,
                    raw=body,
                    method=self.method,
                )
            )
        # The request is read, so the only thing receive() can still say is that Envoy went away.
        forward = aio.spawn(self._forward(headers, body), name=f"rest stream {self.ids['stream']} forward")
        watch = aio.spawn(_disconnection(self.receive), name=f"rest stream {self.ids['stream']} watch")
        try:
            await asyncio.wait((forward, watch), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            forward.cancel()
            watch.cancel()
            cause = (
                model.CloseCause.PROXY_SHUTDOWN if self.owner.shutting_down else model.CloseCause.DOWNSTREAM
            )
            self._close((CANCELLED, "cancelled", cause))
            raise
        watch.cancel()
        if forward.done():
            error = forward.exception()
            if error is None:
                self._close(forward.result())
                return
            # A bug here must cost one poll (Envoy retries at its next refresh), not the proxy.
            details = f"xdsspy failed on this poll: {type(error).__name__}: {error}"
            self._close((INTERNAL, details, model.CloseCause.PROXY_ERROR))
            await self._answer(502, details)
            return
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forward
        self._close(
            (CANCELLED, "Envoy disconnected before the answer was complete", model.CloseCause.DOWNSTREAM)
        )

    def _close(self, ending: Ending) -> None:
        """Publish the upstream's body (as much of it as passed) and the end of the stream."""
        if not self.recorded:
            return
        chunks = self.response_chunks
        if chunks is not None:
            self.response_chunks = None
            raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self.publish(
                model.MessageSeen(
                    **self.stamp(),
                    **self.ids,
                    direction=model.Direction.RESPONSE,
                    raw=raw,
                    method=self.method,
                )
            )
        code, details, cause = ending
        self.publish(
            model.StreamClosed(
                **self.stamp(),
                **self.ids,
                code=code,
                details=details,
                trailers=(),
                cause=cause,
                method=self.method,
            )
        )

    async def _read_request(self) -> bytes:
        limit = self.owner.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message["body"]
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                chunks.append(chunk)
            if not message["more_body"]:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _forward(self, headers: list[tuple[bytes, bytes]], body: bytes) -> Ending:
        """Send the request upstream and relay the answer to Envoy."""
        upstream = self.owner.upstream
        try:
            response = await self.client.send(
                self.scope["method"],
                self.target,
                rest_upstream.forwardable(headers),
                body,
                http2=self.scope["http_version"] == "2",
            )
        except rest_upstream.Unreachable as e:
            await self._answer(503, f"upstream {upstream} unavailable: {e}")
            details = f"HTTP 503 from xdsspy: upstream unavailable: {e}"
            return UNAVAILABLE, details, model.CloseCause.UPSTREAM_UNAVAILABLE
        except rest_upstream.Failed as e:
            await self._answer(502, f"upstream {upstream} failed: {e}")
            details = f"HTTP 502 from xdsspy: upstream failed: {e}"
            return UNAVAILABLE, details, model.CloseCause.UPSTREAM_UNAVAILABLE
        try:
            return await self._relay(response)
        finally:
            await response.aclose()

    async def _relay(self, response: rest_upstream.Response) -> Ending:
        status = response.status
        self.publish(
            model.ResponseHeadersSeen(
                **self.stamp(),
                **self.ids,
                metadata=_metadata(response.headers),
                http_status=status,
                method=self.method,
            )
        )
        limit = self.owner.max_body_bytes
        declared = _content_length(response.headers)
        if declared is not None and declared > limit:
            await self._answer(502, f"response body of {declared} bytes is over the limit of {limit} bytes")
            details = (
                f"HTTP 502 from xdsspy: HTTP {status} with a {declared}-byte body, over the limit {limit}"
            )
            return RESOURCE_EXHAUSTED, details, model.CloseCause.PROXY_ERROR
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": rest_upstream.forwardable(response.headers),
            }
        )
        self.answered = True
        chunks: list[bytes] = []
        self.response_chunks = chunks
        size = 0
        try:
            async for chunk in response.chunks():
                size += len(chunk)
                if size > limit:
                    # The headers are gone: ending without the last body event cuts the response short.
                    details = (
                        f"HTTP {status}, cut after {size - len(chunk)} bytes: body over the limit {limit}"
                    )
                    return RESOURCE_EXHAUSTED, details, model.CloseCause.PROXY_ERROR
                chunks.append(chunk)
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        except rest_upstream.Failed as e:
            details = f"HTTP {status}, then the upstream failed after {size} body bytes: {e}"
            return UNAVAILABLE, details, model.CloseCause.UPSTREAM_UNAVAILABLE
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        return OK, f"HTTP {status}", model.CloseCause.UPSTREAM

    async def _answer(self, status: int, text: str) -> None:
        """xdsspy's own answer, when the upstream's cannot be passed on."""
        if self.answered:
            return
        self.answered = True
        body = f"xdsspy: {text}\n".encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


async def _disconnection(receive: asgi.ASGIReceiveCallable) -> None:
    """Returns when Envoy's side of the exchange is gone (once the request has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _metadata(headers: Iterable[tuple[bytes, bytes]]) -> model.Metadata:
    return tuple((k.decode("latin-1").lower(), v) for k, v in headers)


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for k, v in headers:
        if k == b"content-length" and v.strip().isdigit():
            return int(v)
    return None
