"""A lean REST poller for the benchmark: Envoy's side of a poll, at little CPU of its own.

The REST throughput benchmark runs the client, the control plane and xdsspy
on one machine, so every millisecond the client spends on a poll is taken
from the others, and a slow client makes any proxy look better or worse
than it is. aiohttp's client spends 0.35 ms of Python per 1 MB poll direct
and twice that through a proxy (it handles fewer polls per wakeup); Envoy's
C++ client spends a small fraction of that on the HTTP part. This poller
keeps one HTTP/1.1 connection, sends a prebuilt request and reads the answer
with httptools (llhttp, the parser the capture uses), counting the body
rather than keeping it: what is left is the socket reads and the parse.
"""

from __future__ import annotations

import asyncio
import typing

import httptools


class PollError(Exception):
    """The answer was not one whole HTTP/1.1 response."""


class Poller(asyncio.BufferedProtocol):
    """One keep-alive connection: poll() sends the request and returns (status, body length)."""

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._buffer = bytearray(1 << 20)
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[tuple[int, int]] | None = None
        self._body_bytes = 0
        self._lost: BaseException | None = None

    # -- asyncio -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._buffer)

    def buffer_updated(self, nbytes: int) -> None:
        if self._answer is None or self._answer.done():
            self._fail(PollError(f"{nbytes} bytes arrived with no poll waiting for them"))
            return
        try:
            self._parser.feed_data(memoryview(self._buffer)[:nbytes])
        except httptools.HttpParserError as e:
            self._fail(PollError(f"not an HTTP/1.1 response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(PollError(f"connection closed during a poll: {exc or 'by the server'}"))

    # -- httptools -----------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self._parser.get_status_code(), self._body_bytes))

    # -- use -----------------------------------------------------------------

    async def poll(self) -> tuple[int, int]:
        """Send the request; the status and body length of its answer."""
        if self._lost is not None:
            raise self._lost
        assert self._transport is not None, "connect() first"
        self._answer = asyncio.get_running_loop().create_future()
        self._body_bytes = 0
        self._transport.write(self._request)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _fail(self, error: PollError) -> None:
        self._lost = self._lost or error
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        if self._transport is not None:
            self._transport.close()


def request(path: str, body: bytes, host: str = "127.0.0.1") -> bytes:
    """An Envoy-like poll: POST of a JSON DiscoveryRequest, keep-alive."""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def connect(port: int, request_bytes: bytes, host: str = "127.0.0.1") -> Poller:
    loop = asyncio.get_running_loop()
    _, poller = await loop.create_connection(lambda: Poller(request_bytes), host, port)
    return poller
