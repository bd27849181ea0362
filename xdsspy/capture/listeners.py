"""Where Envoys connect: bind each listen address (TCP or Unix socket, TLS or not) and hand on what connects.

Every accepted connection goes to the protocol the relay makes for its peer.
Over TLS, the listeners accept and await each handshake themselves instead of
handing the context to an asyncio server, because a server's failed
handshakes reach no code of ours (asyncio and uvloop log them only in debug
mode): an expired or unknown certificate on either side would leave no trace.
A failed handshake goes to `on_handshake_failure` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import stat
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Sequence
from typing import Any

from xdsspy import aio
from xdsspy.addresses import Address

LISTEN_BACKLOG = 100  # asyncio's default for create_server
HANDSHAKE_TIMEOUT_S = 10.0  # for an Envoy that starts a TLS handshake with xdsspy's listener to finish it

ProtocolFor = Callable[[str], Callable[[], asyncio.BaseProtocol]]
"""The protocol factory for connections from a peer ("" where each connection's own address names it)."""
HandshakeFailure = Callable[[str, OSError], None]
"""Told of a TLS handshake that failed: the peer's name and the error (ssl.SSLError, or a timeout's)."""


class Listeners:
    """Every listen address of one relay: `await start(addresses)`, then `close()` and `wait_closed()`."""

    def __init__(
        self,
        protocol_for: ProtocolFor,
        *,
        tls: ssl.SSLContext | None = None,
        on_handshake_failure: HandshakeFailure | None = None,
    ) -> None:
        self._protocol_for = protocol_for
        self._tls = tls
        self._on_handshake_failure = on_handshake_failure
        self._servers: list[asyncio.Server] = []
        self._tls_sockets: list[socket.socket] = []
        self._tls_tasks: set[asyncio.Task[None]] = set()  # accepting on them, and handshakes under way
        self.closing = False

    async def start(self, listen: Sequence[Address]) -> list[str]:
        """Bind every listen address and start accepting; returns the addresses actually bound."""
        loop = asyncio.get_running_loop()
        bound = []
        for address in listen:
            if self._tls is not None:
                bound.append(self._listen_tls(address))
            elif address.is_unix:
                remove_stale_socket(address.unix_path)
                peer = f"unix:{address.unix_path}"
                server = await loop.create_unix_server(self._protocol_for(peer), address.unix_path)
                os.chmod(address.unix_path, 0o600)  # who may connect is who may read the recording's secrets
                bound.append(str(address))
                self._servers.append(server)
            else:
                server = await loop.create_server(
                    self._protocol_for(""), address.host, address.port, reuse_address=True
                )
                bound.append(str(address.with_port(server.sockets[0].getsockname()[1])))
                self._servers.append(server)
        return bound

    def _listen_tls(self, address: Address) -> str:
        if address.is_unix:
            remove_stale_socket(address.unix_path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(address.unix_path)
            os.chmod(address.unix_path, 0o600)  # who may connect is who may read the recording's secrets
            bound, peer = str(address), f"unix:{address.unix_path}"
        else:
            family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
            listener = socket.create_server((address.host, address.port), family=family)  # SO_REUSEADDR
            bound, peer = str(address.with_port(listener.getsockname()[1])), ""
        listener.listen(LISTEN_BACKLOG)
        listener.setblocking(False)
        self._tls_sockets.append(listener)
        self._spawn(self._accept_tls(listener, peer), f"accept TLS on {bound}")
        return bound

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = aio.spawn(work, name=name)
        self._tls_tasks.add(task)
        task.add_done_callback(self._tls_tasks.discard)

    async def _accept_tls(self, listener: socket.socket, peer: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError:  # out of file descriptors, say: as asyncio's servers do, wait and go on
                await asyncio.sleep(0.1)
                continue
            name = peer or peer_name(address)
            self._spawn(self._handshake(sock, name), f"TLS handshake with {name}")

    async def _handshake(self, sock: socket.socket, peer: str) -> None:
        """The TLS handshake of one accepted connection; on success the protocol has it (connection_made)."""
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                self._protocol_for(peer), sock, ssl=self._tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S
            )
        except OSError as e:  # the transport has closed the socket
            # One that closes before a word of TLS (a TCP probe) failed nothing: nothing to tell.
            failed = isinstance(e, ssl.SSLError | ConnectionAbortedError)
            if failed and not self.closing and self._on_handshake_failure is not None:
                self._on_handshake_failure(peer, e)

    async def close(self) -> None:
        """Stop accepting (connections already handed on are not touched); handshakes under way end."""
        self.closing = True
        for server in self._servers:
            server.close()
        tasks = list(self._tls_tasks)
        for task in tasks:
            task.cancel()  # accepting, and handshakes not finished: their transports close
        await asyncio.gather(*tasks, return_exceptions=True)  # no longer watching the sockets
        for listener in self._tls_sockets:
            listener.close()

    async def wait_closed(self) -> None:
        """After close(): until the servers say every connection they made is gone."""
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()


def peer_name(peer: object) -> str:
    """The peer in grpcio's notation (ipv4:HOST:PORT, ipv6:[HOST]:PORT), which recordings have always used."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"ipv6:[{host}]:{port}" if ":" in str(host) else f"ipv4:{host}:{port}"
    return f"unix:{peer}" if peer else "unix:"


def remove_stale_socket(path: str) -> None:
    """A socket file left by an earlier run would make bind() fail; anything else at the path is kept."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # nobody listens there any more
            else:
                raise OSError(f"{path}: another process is already listening there")
            finally:
                probe.close()
