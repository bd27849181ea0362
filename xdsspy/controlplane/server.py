"""ControlPlane: a small, honest xDS control plane that synchronous code can start, feed and watch.

It runs the ADS server (ads.py) on an event loop in a thread of its own, so a
test or a demo drives it with plain calls: set resources, wait for ACKs and
NACKs, read the exact bytes of every stream. The store and the journal
outlive stop(), so a restart on the same address serves the same config and
keeps one history, as a control plane that restarted would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import grpc

from xdsspy import addresses
from xdsspy.controlplane import ads
from xdsspy.controlplane import journal as journal_mod
from xdsspy.controlplane import protocol
from xdsspy.controlplane import resources
from xdsspy.controlplane import store as store_mod

_T = TypeVar("_T")

START_TIMEOUT_S = 10.0


class ControlPlane:
    """An ADS control plane (SotW and Delta) on one address: `with ControlPlane("127.0.0.1:0") as cp:`."""

    def __init__(
        self,
        address: str = "127.0.0.1:0",
        *,
        stop_grace_s: float = 0.2,
        keep_messages: bool = True,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        """keep_messages=False: the journal keeps no message bytes (see Journal). `credentials`: serve
        over TLS (grpc.ssl_server_credentials), as istiod serves on 15012."""
        self._credentials = credentials
        self._address = addresses.parse(address)
        self._stop_grace_s = stop_grace_s
        self.store = store_mod.Store()
        self.journal = journal_mod.Journal(keep_messages=keep_messages)
        self._nonces = protocol.Nonces()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ads.AdsServer | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Bind and serve; a restart binds the port the first start got, even if it was asked for 0."""
        if self._server is not None:
            raise RuntimeError("control plane is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="xdsspy-control-plane", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        server = ads.AdsServer(self.store, self.journal, self._nonces)
        try:
            port = self._call(server.start(self._address, self._credentials), START_TIMEOUT_S)
        except BaseException:
            self._close_loop()
            raise
        if not self._address.is_unix:
            self._address = self._address.with_port(port)
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving: open streams end (clients see them fail) and the port is released."""
        server, self._server = self._server, None
        if server is not None:
            try:
                self._call(server.stop(self._stop_grace_s), self._stop_grace_s + START_TIMEOUT_S)
            finally:
                self._close_loop()

    def __enter__(self) -> ControlPlane:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port (known after the first start; 0 for a unix socket)."""
        return self._address.port

    @property
    def address(self) -> str:
        """Where clients connect, in the form xdsspy and grpcio take: HOST:PORT or unix:PATH."""
        return self._address.grpc_target()

    # -- config ---------------------------------------------------------------------------

    def set_resources(self, type_url: str, messages: Iterable[resources.Message]) -> str:
        """Make messages the whole state of type_url under a new version, push it, return the version.

        Every connected stream subscribed to the type gets it: SotW streams the
        new version of what they asked for, Delta streams only what changed.
        A stream that is behind gets only the newest of several quick versions.
        """
        entries: list[tuple[str, bytes]] = []
        for message in messages:
            actual = resources.type_url_of(message)
            if actual != type_url:
                raise ValueError(f"set_resources({type_url!r}) was given a {actual}")
            entries.append((resources.name_of(message), message.SerializeToString(deterministic=True)))
        return self.set_raw(type_url, entries)

    def set_raw(
        self, type_url: str, entries: Iterable[tuple[str, bytes]], *, version: str | None = None
    ) -> str:
        """set_resources for serialised resources ((name, bytes) pairs), under `version` if given."""
        version = self.store.set(type_url, entries, version=version).version
        loop, server = self._loop, self._server
        if loop is not None and server is not None:
            loop.call_soon_threadsafe(server.push, type_url)
        return version

    def version(self, type_url: str) -> str:
        """The current version of type_url ("" if it was never set)."""
        return self.store.get(type_url).version

    # -- what happened --------------------------------------------------------------------

    @property
    def acks(self) -> list[journal_mod.Ack]:
        return self.journal.acks()

    @property
    def nacks(self) -> list[journal_mod.Nack]:
        return self.journal.nacks()

    @property
    def streams(self) -> list[journal_mod.StreamInfo]:
        return self.journal.streams()

    def messages(self, stream: int | None = None) -> list[journal_mod.LoggedMessage]:
        """Every message received and sent, in order, with exact bytes; of one stream if given."""
        return self.journal.messages(stream)

    def mark(self) -> int:
        """A point in the history: pass it as `after` to wait for what happens from now on."""
        return self.journal.mark()

    def wait_for_ack(
        self,
        type_url: str,
        version: str,
        timeout: float = 10.0,
        *,
        node_id: str | None = None,
        after: int = 0,
    ) -> journal_mod.Ack:
        """Wait until a client ACKs version of type_url (from node_id, after mark `after`, if given)."""

        def find() -> journal_mod.Ack | None:
            return next(
                (
                    a
                    for a in self.journal.acks(after)
                    if a.type_url == type_url
                    and a.version == version
                    and (node_id is None or a.node_id == node_id)
                ),
                None,
            )

        who = f" from node {node_id!r}" if node_id is not None else ""
        return self.journal.wait(find, timeout, f"ACK of {type_url} version {version!r}{who}")

    def wait_for_nack(
        self,
        type_url: str,
        version: str | None = None,
        timeout: float = 10.0,
        *,
        node_id: str | None = None,
        after: int = 0,
    ) -> journal_mod.Nack:
        """Wait until a client NACKs type_url (that version, if given); returns it with its error."""

        def find() -> journal_mod.Nack | None:
            return next(
                (
                    n
                    for n in self.journal.nacks()
                    if n.type_url == type_url
                    and (version is None or n.version == version)
                    and n.seq > after
                    and (node_id is None or n.node_id == node_id)
                ),
                None,
            )

        which = f" version {version!r}" if version is not None else ""
        return self.journal.wait(find, timeout, f"NACK of {type_url}{which}")

    def wait_for_stream(
        self, timeout: float = 10.0, *, node_id: str | None = None, after: int = 0
    ) -> journal_mod.StreamInfo:
        """Wait for a stream opened after mark `after` (whose client sent node_id, if given)."""

        def find() -> journal_mod.StreamInfo | None:
            return next(
                (
                    s
                    for s in self.journal.streams()
                    if s.opened_seq > after and (node_id is None or s.node_id == node_id)
                ),
                None,
            )

        who = f" from node {node_id!r}" if node_id is not None else ""
        return self.journal.wait(find, timeout, f"new stream{who}")

    def wait_for_stream_end(self, stream: int, timeout: float = 10.0) -> journal_mod.StreamInfo:
        def find() -> journal_mod.StreamInfo | None:
            info = self.journal.stream(stream)
            return info if info.end is not None else None

        return self.journal.wait(find, timeout, f"end of stream {stream}")

    # -- the loop thread ------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _close_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        if not thread.is_alive():
            loop.close()
