"""HTTP reverse proxy for Envoy's REST xDS polling: forwards every request unchanged and publishes each poll.

With `api_type: REST` Envoy POSTs a JSON DiscoveryRequest to
`/v3/discovery:<type>` (or `/v2/...`) every refresh_delay and gets a JSON
DiscoveryResponse back, or 304 when nothing changed. Each such poll is
published as one stream (open, request body, response headers, response body,
close), the same events a gRPC call produces, so one recording holds a mixed
deployment. Bodies stay bytes: nothing here parses JSON, that is the decoder's
job in another process. Other paths are forwarded the same way, unrecorded,
since they are not xDS.

hypercorn serves HTTP/1.1 and h2c (prior knowledge, as Envoy speaks it when
the xDS cluster has HTTP/2 protocol options, and Upgrade) on one port; each
request goes on in the protocol it came in (rest_upstream.py), over http://
or https://. Every downstream connection gets upstream connections of its
own, as Envoy would have without xdsspy in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import socket
import ssl
import stat
import urllib.parse
from collections.abc import Sequence

import hypercorn.asyncio
import hypercorn.config
import hypercorn.typing as asgi

from xdsspy import aio
from xdsspy import errors
from xdsspy.addresses import Address
from xdsspy.capture import rest_exchange
from xdsspy.capture import rest_upstream
from xdsspy.capture import sink as sink_mod

DEFAULT_MAX_BODY_BYTES = 1 << 30
"""1 GiB, like the gRPC message limit: a REST poll carries the whole state of a type."""

IDLE_CONNECTION_S = 300.0
"""How long an idle downstream connection is kept open. Longer than any usual refresh_delay, so Envoy's
connection is not closed between polls by xdsspy when the control plane would have kept it."""

_DISCOVERY_PATH = re.compile(rb"^/v[0-9]+/discovery:[^/?]+$")


@dataclasses.dataclass(frozen=True, slots=True)
class RestProxyOptions:
    upstream: str  # http://HOST:PORT or https://HOST:PORT
    ca_file: str | None = None  # trust these CAs for an https upstream instead of the system's
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    idle_timeout_s: float = IDLE_CONNECTION_S


def parse_upstream(url: str) -> str:
    """Check an upstream URL (http:// or https://, a host, an optional port, no path) and normalise it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise errors.AddressError(f"{url!r}: the REST upstream must start with http:// or https://")
    try:
        port = parts.port
    except ValueError as e:
        raise errors.AddressError(f"{url!r}: {e}") from e
    if not parts.hostname:
        raise errors.AddressError(f"{url!r}: the REST upstream needs a host, e.g. http://127.0.0.1:8080")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise errors.AddressError(
            f"{url!r}: give only scheme, host and port; Envoy's request paths are forwarded as they are"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def is_discovery_path(path: bytes) -> bool:
    """Whether a request path is an xDS REST endpoint (`/v3/discovery:clusters`, ...), hence recorded."""
    return _DISCOVERY_PATH.match(path) is not None


class _Connection:
    """One downstream connection (one Envoy connection) and the upstream clients serving it."""

    def __init__(self, ident: int, peer: str) -> None:
        self.ident = ident
        self.peer = peer
        self.upstream: rest_upstream.Client | None = None
        self.active = 0
        self.forget_timer: asyncio.TimerHandle | None = None


class RestProxy:
    """Forwards HTTP requests to one upstream URL and publishes every xDS poll that passes."""

    def __init__(
        self,
        options: RestProxyOptions,
        sink: sink_mod.Sink,
        stamper: sink_mod.Stamper,
        ids: sink_mod.Ids | None = None,
    ) -> None:
        self._options = options
        self._upstream = parse_upstream(options.upstream)
        self.sink = sink
        self.stamper = stamper
        self.max_body_bytes = options.max_body_bytes
        self._ids = ids or sink_mod.Ids()  # shared with the gRPC proxy when both run
        self._tls = _tls_contexts(self._upstream, options.ca_file)
        self._connections: dict[object, _Connection] = {}
        self._shutdown = asyncio.Event()
        self.shutting_down = False
        self._server: asyncio.Task[None] | None = None
        self._config = hypercorn.config.Config()
        self.bound: list[str] = []

    @property
    def upstream(self) -> str:
        """The upstream as a normalised URL, e.g. http://127.0.0.1:8080."""
        return self._upstream

    async def start(self, listen: Sequence[Address]) -> list[str]:
        """Bind every listen address and start serving; returns the addresses bound, as http:// URLs."""
        sockets = []
        try:
            for address in listen:
                sockets.append(_bind(address))
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        config = self._config
        config.bind = [f"fd://{sock.fileno()}" for sock in sockets]
        config.keep_alive_timeout = self._options.idle_timeout_s
        config.keep_alive_max_requests = 1 << 62  # Envoy polls forever on one connection; let it
        config.include_server_header = False  # the upstream's own date and server headers pass instead
        config.include_date_header = False
        config.h11_max_incomplete_size = 1 << 20  # request line and headers
        config.h2_max_header_list_size = 1 << 20
        config.accesslog = None
        config.loglevel = "WARNING"  # no "Running on ..." lines; errors still reach stderr
        for address, sock in zip(listen, sockets, strict=True):
            if address.is_unix:
                self.bound.append(f"http://{address}")
            else:
                self.bound.append(f"http://{address.with_port(sock.getsockname()[1])}")
            sock.listen(1024)  # connections queue from now on, even before hypercorn's first accept
            sock.detach()  # hypercorn owns the descriptor from here
        self._server = aio.spawn(
            hypercorn.asyncio.serve(self._asgi, config, shutdown_trigger=self._shutdown.wait, mode="asgi"),
            name="rest proxy server",
        )
        return self.bound

    async def stop(self, grace: float = 1.0) -> None:
        """Stop accepting, give polls in flight `grace` seconds, then cancel the rest."""
        self.shutting_down = True
        self._config.graceful_timeout = grace  # read by hypercorn when the shutdown begins
        self._shutdown.set()
        server = self._server
        if server is not None:
            await asyncio.wait((server,), timeout=grace + 5.0)
            if not server.done():
                server.cancel()
                await asyncio.wait((server,))
            elif not server.cancelled() and server.exception() is not None:
                pass  # hypercorn's own failure, already on stderr; the capture is ending anyway
        for conn in list(self._connections.values()):
            if conn.forget_timer is not None:
                conn.forget_timer.cancel()
            if conn.upstream is not None:
                await conn.upstream.aclose()
        self._connections.clear()

    # -- connections ----------------------------------------------------------------------

    def _connection_for(self, scope: asgi.HTTPScope) -> tuple[object, _Connection]:
        """The connection a request came on, known by its peer address.

        A TCP peer (host, port) names one connection while it is open, and an
        entry is forgotten only after the idle time after which hypercorn
        closes that connection anyway. Unix-socket peers have no address, so
        they share one entry, as they share one peer name in gRPC.
        """
        client = scope["client"]
        key: object = client
        conn = self._connections.get(key)
        if conn is None:
            conn = _Connection(self._ids.new_connection(), _peer_name(client))
            self._connections[key] = conn
        if conn.forget_timer is not None:
            conn.forget_timer.cancel()
            conn.forget_timer = None
        conn.active += 1
        return key, conn

    def _release(self, key: object, conn: _Connection) -> None:
        conn.active -= 1
        if conn.active == 0 and not self.shutting_down:
            conn.forget_timer = asyncio.get_running_loop().call_later(
                self._options.idle_timeout_s + 1.0, self._forget, key, conn
            )

    def _forget(self, key: object, conn: _Connection) -> None:
        if conn.active == 0 and self._connections.get(key) is conn:
            del self._connections[key]
            if conn.upstream is not None:
                aio.spawn(conn.upstream.aclose(), name=f"close upstream client of connection {conn.ident}")

    def _client(self, conn: _Connection) -> rest_upstream.Client:
        if conn.upstream is None:
            conn.upstream = rest_upstream.Client(self._upstream, self._tls, self._options.idle_timeout_s)
        return conn.upstream

    # -- one request ----------------------------------------------------------------------

    async def _asgi(
        self, scope: asgi.Scope, receive: asgi.ASGIReceiveCallable, send: asgi.ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # a WebSocket: returning without accepting makes hypercorn refuse it
        key, conn = self._connection_for(scope)
        stream = self._ids.new_stream() if is_discovery_path(scope["raw_path"]) else 0
        try:
            await rest_exchange.Exchange(
                self,
                self._client(conn),
                {"connection": conn.ident, "stream": stream},
                conn.peer,
                scope,
                receive,
                send,
            ).run()
        finally:
            self._release(key, conn)


def _tls_contexts(upstream: str, ca_file: str | None) -> dict[bool, ssl.SSLContext] | None:
    """One verifying context per protocol (httpcore sets ALPN on the context it gets); None for http://."""
    if not upstream.startswith("https://"):
        return None
    try:
        return {http2: ssl.create_default_context(cafile=ca_file) for http2 in (False, True)}
    except (OSError, ssl.SSLError) as e:
        raise errors.XdsspyError(f"cannot load the CA certificates in {ca_file}: {e}") from e


async def _lifespan(receive: asgi.ASGIReceiveCallable, send: asgi.ASGISendCallable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _bind(address: Address) -> socket.socket:
    if address.is_unix:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(address.unix_path).st_mode):
                os.remove(address.unix_path)  # a stale socket from an earlier run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address.unix_path
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in address.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        target = (address.host, address.port)
    try:
        sock.bind(target)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _peer_name(client: tuple[str, int] | None) -> str:
    """The peer in the form grpcio uses, so REST and gRPC streams name peers alike."""
    if client is None:
        return "unix:"
    host, port = client
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
