"""The forwarding path: each Envoy connection relayed byte for byte to its own control-plane connection.

xdsspy does not terminate HTTP/2 or HTTP/1.1: what Envoy sends reaches the
control plane unchanged (frames, SETTINGS, pings, GOAWAYs, flow control) and
the other way round, so every gRPC method, call shape, header, trailer and
status passes as it would without xdsspy, and a message of any size passes
without being parsed or copied into a message object. A watcher
(capture.watch) reads a copy of each chunk beside the path and publishes the
streams it sees; it never blocks, raises into, or slows down on anything
slower than a dict update and a deque append.

Measured on this project's machine, relaying bytes this way costs a fraction
of terminating gRPC in grpcio and re-sending (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import ssl
import sys
import typing
from collections.abc import Callable
from collections.abc import Sequence

from xdsspy import aio
from xdsspy import model
from xdsspy.addresses import Address
from xdsspy.capture import listeners as listeners_mod
from xdsspy.capture import refusal as refusal_mod
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import tlsconfig
from xdsspy.capture import watch as watch_mod
from xdsspy.capture.h2_observer import PREFACE
from xdsspy.capture.h2_observer import Side

CONNECT_TIMEOUT_S = 10.0
READ_BUFFER_BYTES = 1 << 20
"""Each socket is read into a buffer this big, so a 1 MB poll answer or a large push arrives in one read
and leaves in one write (uvloop's own reads stop at 256 KB): fewer wakeups for xdsspy and for the peer
that reads what it writes (docs/performance.md)."""
LINGER_S = 2.0  # after answering for an unreachable control plane, before closing Envoy's connection


@dataclasses.dataclass(frozen=True, slots=True)
class Upstream:
    """Where a relay connects, and how."""

    address: Address
    tls: dict[bool, ssl.SSLContext] | None = (
        None  # by "Envoy speaks HTTP/2": ALPN must offer what Envoy speaks
    )
    server_hostname: str | None = None
    label: str = ""

    def __str__(self) -> str:
        return self.label or str(self.address)


class ReadBuffers:
    """The read buffers of one relay's sockets: each read takes one and gives it back, reused once
    nothing holds it any more.

    A buffer given away with its view stays held while the recorder keeps
    the message it holds: until the recorder has compressed it (every 2 ms),
    or for a block's linger (20 ms) if it is the first copy of a body the
    recorder looks for repeats of. Zeroing a new 1 MiB buffer for every
    read cost an eighth of the capture loop's time; one whose views are all
    gone (sys.getrefcount) is read into again instead.
    """

    def __init__(self, size: int = READ_BUFFER_BYTES, keep: int = 32) -> None:
        self.size = size
        self._keep = keep
        self._given: collections.deque[bytearray] = collections.deque()

    def take(self) -> bytearray:
        for _ in range(len(self._given)):
            buffer = self._given.popleft()
            if sys.getrefcount(buffer) == 2:  # `buffer` and the call's argument: nobody else
                return buffer
            self._given.append(buffer)
        return bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        """A buffer back from a read, free already or handed on with a view; beyond `keep`, the oldest
        are left to the collector."""
        self._given.append(buffer)
        if len(self._given) > self._keep:
            self._given.popleft()


WatchFactory = Callable[[int, str], watch_mod.ConnectionWatch]
"""Builds the watcher of a new connection from its id and peer name."""


class Relay:
    """Listens, and relays every accepted connection to the upstream, watched."""

    def __init__(self, upstream: Upstream, make_watch: WatchFactory, ids: sink_mod.Ids) -> None:
        self.upstream = upstream
        self._make_watch = make_watch
        self._ids = ids
        self._listeners: listeners_mod.Listeners | None = None
        self.buffers = ReadBuffers()
        self._links: set[_Link] = set()
        self._stopped = asyncio.Event()
        self.shutting_down = False
        self.bound: list[str] = []
        self.listen_tls: ssl.SSLContext | None = None  # Envoy dials xdsspy over TLS (decrypted, then watched)

    async def start(self, listen: Sequence[Address]) -> list[str]:
        """Bind every listen address and start serving; returns the addresses actually bound."""
        self._listeners = listeners_mod.Listeners(
            self._downstream_factory, tls=self.listen_tls, on_handshake_failure=self._handshake_failed
        )
        self.bound += await self._listeners.start(listen)
        return self.bound

    def _handshake_failed(self, peer: str, error: OSError) -> None:
        """Envoy's TLS handshake with xdsspy's listener failed: recorded, naming Envoy's side."""
        if self.shutting_down:
            return
        watch = self._make_watch(self._ids.new_connection(), peer)
        why = _reason(error, Side.DOWNSTREAM)
        watch.failed(f"Envoy {peer} (downstream) failed its TLS handshake with xdsspy: {why}")

    def _downstream_factory(self, peer: str) -> Callable[[], _End]:
        return lambda: _End(self, Side.DOWNSTREAM, peer)

    async def stop(self, grace: float = 1.0) -> None:
        del grace  # bytes already handed to the kernel are delivered; nothing else is held back
        self.shutting_down = True
        if self._listeners is not None:
            await self._listeners.close()
        for link in list(self._links):
            link.close(model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down")
        if self._listeners is not None:
            await self._listeners.wait_closed()
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()

    # -- links ----------------------------------------------------------------------------

    def accepted(self, downstream: _End) -> _Link:
        ident = self._ids.new_connection()
        link = _Link(self, downstream, self._make_watch(ident, downstream.peer))
        self._links.add(link)
        if self.upstream.tls is None:
            aio.spawn(link.connect(None), name=f"connection {ident}: connect to {self.upstream}")
        else:
            link.sniff_first()  # TLS offers Envoy's protocol by ALPN, so learn it before connecting
        return link

    def forget(self, link: _Link) -> None:
        self._links.discard(link)


Chunk = bytes | memoryview
"""What the relay hands on: bytes, or a view of a read buffer that was given away with it."""


class _End(asyncio.BufferedProtocol):
    """One socket of a link: Envoy's side or the control plane's.

    The socket is read into a buffer of READ_BUFFER_BYTES from the relay's
    pool, which an idle socket does not hold (a thousand Envoys must not cost
    a gigabyte). A read that fills at least half of it is handed on as a
    view, and the buffer goes with it (the other socket's transport or the
    watcher may keep the view until they are done), so a large chunk is
    never copied in Python; a smaller read is copied out and its buffer is
    free again at once, so a trickle of small chunks never pins a large
    buffer each.
    """

    def __init__(self, relay: Relay, side: Side, peer: str) -> None:
        self.relay = relay
        self.side = side
        self.peer = peer
        self.link: _Link | None = None
        self.transport: asyncio.Transport | None = None
        self._buffer: bytearray | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        if self.side is Side.DOWNSTREAM:
            if not self.peer:
                self.peer = listeners_mod.peer_name(transport.get_extra_info("peername"))
            self.transport.pause_reading()  # until the upstream side is connected
            self.link = self.relay.accepted(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._buffer is None:
            self._buffer = self.relay.buffers.take()
        return memoryview(self._buffer)  # not the bytearray: asyncio's TLS reads into slices of it

    def buffer_updated(self, nbytes: int) -> None:
        assert self.link is not None and self._buffer is not None
        buffer, self._buffer = self._buffer, None  # an idle socket holds no buffer: back to the pool
        self.relay.buffers.give(buffer)
        view = memoryview(buffer)[:nbytes]
        if nbytes * 2 >= len(buffer):
            self.link.received(self.side, view)  # the buffer goes with the view
        else:
            data = bytes(view)
            view.release()  # the buffer is free again at once
            self.link.received(self.side, data)

    def eof_received(self) -> bool:
        assert self.link is not None
        return self.link.eof(self.side)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.lost(self.side, exc)

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.pause_reading(self.side.other)

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.resume_reading(self.side.other)


class _Link:
    """An Envoy connection, its control-plane connection and the watcher between them."""

    def __init__(self, relay: Relay, downstream: _End, watch: watch_mod.ConnectionWatch) -> None:
        self.relay = relay
        self.down = downstream
        self.up: _End | None = None
        self.watch = watch
        self.refusal: refusal_mod.Refusal | None = None
        self.closed = False
        self._eof: set[Side] = set()
        self._paused: set[Side] = set()
        # Envoy's bytes held until the upstream connection is up (or refused). Reading is paused
        # meanwhile, but an event loop may deliver what it already read (uvloop does).
        self._held: list[Chunk] | None = []
        self._sniffing = False  # TLS upstream: waiting for Envoy's first bytes to pick ALPN
        self._first_to_end: Side | None = None
        self._lingering = False
        self._heard_upstream = False  # a TLS control plane that closes before a byte refused xdsspy

    def sniff_first(self) -> None:
        self._sniffing = True
        self._resume(Side.DOWNSTREAM)

    async def connect(self, http2: bool | None) -> None:
        upstream = self.relay.upstream
        loop = asyncio.get_running_loop()
        end = _End(self.relay, Side.UPSTREAM, str(upstream))
        end.link = self
        try:
            if upstream.address.is_unix:
                connecting = loop.create_unix_connection(lambda: end, upstream.address.unix_path)
            else:
                connecting = loop.create_connection(
                    lambda: end,
                    upstream.address.host,
                    upstream.address.port,
                    ssl=None if upstream.tls is None else upstream.tls[bool(http2)],
                    server_hostname=upstream.server_hostname if upstream.tls else None,
                )
            await asyncio.wait_for(connecting, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ssl.SSLError) as e:
            if not self.closed:
                self._refuse(f"control plane {upstream} unreachable: {_reason(e)}")
            return
        if self.closed:
            if end.transport is not None:
                end.transport.close()
            return
        chosen = _alpn(end)
        if upstream.tls is not None and http2 and chosen != "h2":
            end.link = None  # this connection is dropped on purpose: its end is not the link's end
            if end.transport is not None:
                end.transport.close()
            self._refuse(
                f"control plane {upstream} does not speak HTTP/2 over TLS (ALPN gave {chosen or 'nothing'}),"
                " and Envoy speaks h2c to xdsspy"
            )
            return
        self.up = end
        held, self._held = self._held or [], None
        if held and end.transport is not None:
            end.transport.write(b"".join(held))
        self._resume(Side.DOWNSTREAM)

    def _refuse(self, reason: str) -> None:
        """Answer Envoy for a control plane that cannot be used, then close (capture.refusal)."""
        self.refusal = refusal_mod.Refusal(reason)
        self.watch.upstream_unreachable(reason)
        held, self._held = self._held or [], None
        for data in held:
            self._hold_or_answer(data)  # read by the watcher when they arrived
        self._resume(Side.DOWNSTREAM)

    def received(self, side: Side, data: Chunk) -> None:
        """Pass a chunk on, then let the watcher read it: reading never delays the bytes."""
        if side is Side.UPSTREAM:
            self._heard_upstream = True
            if self.down.transport is not None:
                self.down.transport.write(data)
            self.watch.feed(side, data)
        elif self.up is not None and self.up.transport is not None:
            self.up.transport.write(data)
            self.watch.feed(side, data)
        else:
            self.watch.feed(side, data)  # read first: xdsspy's own answer to it must come after it
            self._hold_or_answer(data)

    def _hold_or_answer(self, data: Chunk) -> None:
        """Envoy's bytes while there is no control-plane connection: held until there is, or refused."""
        if self._held is not None:
            self._held.append(data)
            if self._sniffing:
                self._sniffed()
        elif self.refusal is not None:
            answer = self.refusal.feed(bytes(data))
            if answer:
                if self.down.transport is not None:
                    self.down.transport.write(answer)
                self.watch.feed(Side.UPSTREAM, answer)
            if self.refusal.finished:
                self._linger()

    def _sniffed(self) -> None:
        head = b"".join(self._held or [])[: len(PREFACE)]
        if PREFACE.startswith(head) and len(head) < len(PREFACE):
            return  # could still be HTTP/2
        self._sniffing = False
        assert self.down.transport is not None
        self.down.transport.pause_reading()
        ident = self.watch.connection
        aio.spawn(self.connect(head == PREFACE), name=f"connection {ident}: connect to {self.relay.upstream}")

    def _linger(self) -> None:
        """After xdsspy's own answer: end our side, read (and drop) what Envoy still sends, then close.

        Closing at once, with Envoy's unread bytes in the socket, would make
        the kernel reset the connection and could destroy the answer in flight.
        """
        transport = self.down.transport
        if transport is None or self.closed or self._lingering:
            return
        self._lingering = True
        if transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()
        reason = self.refusal.reason if self.refusal is not None else "refused"
        asyncio.get_running_loop().call_later(
            LINGER_S, self.close, model.CloseCause.UPSTREAM_UNAVAILABLE, reason
        )

    def eof(self, side: Side) -> bool:
        """One side finished sending: pass the half-close on, as TCP would have."""
        if self._first_to_end is None:
            self._first_to_end = side
            self.watch.side_finished(*_ending(side, None))
        self._eof.add(side)
        other = self._end(side.other)
        if other is not None and other.transport is not None and other.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                other.transport.write_eof()
            if len(self._eof) < 2:
                return True  # keep the other direction flowing
        self.lost(side, None)
        return False

    def lost(self, side: Side, exc: Exception | None) -> None:
        if self.refusal is not None:
            self.close(model.CloseCause.UPSTREAM_UNAVAILABLE, self.refusal.reason)
            return
        if side is Side.UPSTREAM and self.relay.upstream.tls is not None and not self._heard_upstream:
            # TLS 1.3 checks the client certificate after the handshake: a refused one shows only as this.
            why = f": {_reason(exc)}" if exc is not None else " (a client certificate it did not accept?)"
            self.watch.failed(
                f"the control plane {self.relay.upstream} closed the TLS connection before answering{why}"
            )
        # Whoever stopped sending first ended the connection; the other side only followed.
        first = self._first_to_end or side
        self.close(*_ending(first, exc if first is side else None))

    def close(self, cause: model.CloseCause, details: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.relay.shutting_down:
            cause, details = model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down"
        self.watch.connection_ended(cause, details)
        for end in (self.down, self.up):
            if end is not None and end.transport is not None:
                end.transport.close()  # sends what is queued, then closes
        self.relay.forget(self)

    # -- flow control ---------------------------------------------------------------------

    def pause_reading(self, side: Side) -> None:
        end = self._end(side)
        self._paused.add(side)
        if end is not None and end.transport is not None and not end.transport.is_closing():
            end.transport.pause_reading()

    def resume_reading(self, side: Side) -> None:
        self._paused.discard(side)
        self._resume(side)

    def _resume(self, side: Side) -> None:
        end = self._end(side)
        if side in self._paused or end is None or end.transport is None or end.transport.is_closing():
            return
        end.transport.resume_reading()

    def _end(self, side: Side) -> _End | None:
        return self.down if side is Side.DOWNSTREAM else self.up


def _ending(side: Side, exc: Exception | None) -> tuple[model.CloseCause, str]:
    """Why a connection ended, when `side` ended it first."""
    if side is Side.DOWNSTREAM:
        cause, who = model.CloseCause.DOWNSTREAM, "Envoy closed the connection"
    else:
        cause, who = model.CloseCause.UPSTREAM, "the control plane closed the connection"
    if exc is not None:
        who += f" ({_reason(exc, side)})"
    return cause, who


def _alpn(end: _End) -> str | None:
    ssl_object = end.transport.get_extra_info("ssl_object") if end.transport is not None else None
    return None if ssl_object is None else ssl_object.selected_alpn_protocol()


def _reason(error: BaseException, side: Side = Side.UPSTREAM) -> str:
    """What went wrong with the connection to `side` (the control plane's, by default), in words."""
    if isinstance(error, TimeoutError):
        return f"no connection within {CONNECT_TIMEOUT_S:.0f} s"
    if isinstance(error, ssl.SSLError):
        return tlsconfig.failure(error, downstream=side is Side.DOWNSTREAM)
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)  # "Connection refused", not asyncio's "Connect call failed (...)"
    return str(error) or type(error).__name__
