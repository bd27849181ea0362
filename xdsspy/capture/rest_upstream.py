"""The REST proxy's side towards the control plane: one interface over aiohttp (HTTP/1.1) and httpcore (h2).

aiohttp's client parses HTTP/1.1 in C and hands the body over in whatever
pieces have arrived, which is what keeps a 1 MB poll cheap to relay; it has
no HTTP/2, so httpcore (httpx's transport layer, with h2) carries h2c and h2
requests. httpx itself is not used: it adds default headers, and importing it
loads its command line (rich, click, pygments) into the capture process.
Nothing that would change a message is on: no automatic headers, no
decompression, no redirects, no environment proxies, no timeouts (Envoy's own
request timeout governs: when it gives up, the request is cancelled here).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from collections.abc import Iterable

import aiohttp
import httpcore
import yarl

# RFC 9110 7.6.1: headers that describe one connection, not the message; never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"http2-settings",
    }
)

# aiohttp adds these unless told not to; a forwarded request carries only what Envoy sent.
_AIOHTTP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


_HTTPCORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.TimeoutException,
    httpcore.UnsupportedProtocol,
)


class Unreachable(Exception):
    """No connection to the upstream could be made: nothing was sent."""


class Failed(Exception):
    """The upstream connection broke, or what came back was not HTTP."""


def forwardable(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers in order with lower-case names, minus hop-by-hop ones and any the Connection header names.

    Names are lower-cased because HTTP/2 requires it and HTTP/1.1 ignores case.
    """
    lowered = [(k.lower(), v) for k, v in headers]
    named = {token.strip().lower() for k, v in lowered if k == b"connection" for token in v.split(b",")}
    return [(k, v) for k, v in lowered if k not in HOP_BY_HOP and k not in named]


class Response:
    """An upstream answer whose headers have arrived and whose body is read with chunks()."""

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: AsyncIterator[bytes], close: object
    ) -> None:
        self.status = status
        self.headers = headers  # lower-case names, in order, as received
        self._body = body
        self._close = close

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes in the pieces they arrived in; raises Failed if the upstream breaks off."""
        try:
            async for chunk in self._body:
                yield chunk
        except (aiohttp.ClientError, *_HTTPCORE_ERRORS) as e:
            raise Failed(_reason(e)) from e

    async def aclose(self) -> None:
        close = self._close
        if isinstance(close, aiohttp.ClientResponse):
            close.release()
        elif isinstance(close, httpcore.Response):
            await close.aclose()


class Client:
    """The upstream connections of one downstream connection, so each Envoy connection gets its own."""

    def __init__(self, base: str, tls: dict[bool, ssl.SSLContext] | None, idle_timeout_s: float) -> None:
        self._base = base  # scheme://host[:port], no trailing slash
        self._tls = tls  # by "is HTTP/2"; None for an http:// upstream
        self._idle_timeout_s = idle_timeout_s
        self._http1: aiohttp.ClientSession | None = None
        self._http2: httpcore.AsyncConnectionPool | None = None

    async def send(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, *, http2: bool
    ) -> Response:
        """Send one request (target = path and query, exactly as Envoy sent them) and wait for the headers."""
        if http2:
            return await self._send_http2(method, target, headers, body)
        return await self._send_http1(method, target, headers, body)

    async def _send_http1(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        if self._http1 is None:
            self._http1 = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=0,
                    keepalive_timeout=self._idle_timeout_s,
                    ssl=self._tls[False] if self._tls else False,
                ),
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=False,
                skip_auto_headers=_AIOHTTP_AUTO_HEADERS,
                read_bufsize=1 << 20,
            )
        url = yarl.URL(self._base + target.decode("latin-1"), encoded=True)
        try:
            response = await self._http1.request(
                method,
                url,
                data=body,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
                allow_redirects=False,
            )
        except aiohttp.ClientConnectorError as e:
            raise Unreachable(_reason(e)) from e
        except aiohttp.ClientError as e:
            raise Failed(_reason(e)) from e
        return Response(
            response.status,
            [(k.lower(), v) for k, v in response.raw_headers],
            response.content.iter_any(),
            response,
        )

    async def _send_http2(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        if self._http2 is None:
            self._http2 = httpcore.AsyncConnectionPool(
                ssl_context=self._tls[True] if self._tls else None,
                http1=False,
                http2=True,  # over http:// this is h2c with prior knowledge, as Envoy speaks it
                keepalive_expiry=self._idle_timeout_s,
            )
        if not any(k == b"host" for k, _ in headers):  # HTTP/2 needs an :authority
            headers = [(b"host", yarl.URL(self._base).raw_authority.encode("ascii")), *headers]
        request = httpcore.Request(
            method, self._base, headers=headers, content=body, extensions={"target": target}
        )
        try:
            response = await self._http2.handle_async_request(request)
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
            raise Unreachable(_reason(e)) from e
        except _HTTPCORE_ERRORS as e:
            raise Failed(_reason(e)) from e
        stream = response.aiter_stream()
        return Response(response.status, [(k.lower(), v) for k, v in response.headers], stream, response)

    async def aclose(self) -> None:
        if self._http1 is not None:
            await self._http1.close()
        if self._http2 is not None:
            await self._http2.aclose()


def _reason(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
