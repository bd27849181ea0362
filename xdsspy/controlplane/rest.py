"""RestControlPlane: a small xDS control plane for Envoy's REST polling (api_type REST), for tests and demos.

Envoy POSTs a JSON DiscoveryRequest to `/v3/discovery:<type>` every
refresh_delay; this server answers 200 with a JSON DiscoveryResponse holding
every resource of the type (or those named), or 304 Not Modified when the
request's version_info is already the current version, as go-control-plane's
REST gateway does. REST has no NACK: a rejected version only shows as the next
poll still carrying the old version_info, so every poll is kept with its
exact bytes (`polls`) for tests to look at.

It serves HTTP/1.1 and h2c on one port (hypercorn), from an event loop in a
thread of its own, so synchronous code drives it with plain calls. Resources
and versions live in the same Store as the gRPC control plane's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import hypercorn.asyncio
import hypercorn.config
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import json_format

from xdsspy.controlplane import resources
from xdsspy.controlplane import store as store_mod

START_TIMEOUT_S = 10.0

PATH_TYPES = {
    "/v3/discovery:clusters": resources.CLUSTER,
    "/v3/discovery:endpoints": resources.ENDPOINT,
    "/v3/discovery:listeners": resources.LISTENER,
    "/v3/discovery:routes": resources.ROUTE,
}
"""The REST paths served, and the type each serves (data-plane-api's google.api.http annotations)."""

Headers = list[tuple[bytes, bytes]]


@dataclasses.dataclass(frozen=True, slots=True)
class Poll:
    """One poll as the control plane saw it: exact bytes both ways."""

    path: str
    request: bytes
    status: int
    response: bytes
    version_info: str  # what the request said it has ("" on a first poll or an unreadable request)
    served_version: str  # the type's version when the poll was answered
    http_version: str  # "1.1" or "2" (h2c)
    monotonic_ns: int


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Headers
    body: bytes
    version_info: str  # what the request said it has
    served_version: str  # the type's version at the time of answering ("" if none)


def answer(store: store_mod.Store, path: str, body: bytes) -> Answer:
    """The answer to one poll. Pure: no I/O, so the protocol is tested without sockets."""
    type_url = PATH_TYPES.get(path)
    if type_url is None:
        return Answer(404, _TEXT, f"no xDS type is served at {path}\n".encode(), "", "")
    request = discovery_pb2.DiscoveryRequest()
    try:
        json_format.Parse(body, request, ignore_unknown_fields=True)
    except json_format.ParseError as e:
        return Answer(400, _TEXT, f"not a JSON DiscoveryRequest: {e}\n".encode(), "", "")
    snapshot = store.get(type_url)
    if not snapshot.is_set:
        return Answer(503, _TEXT, b"nothing to serve yet for this type\n", request.version_info, "")
    if request.version_info == snapshot.version:
        return Answer(304, [], b"", request.version_info, snapshot.version)
    names = set(request.resource_names)
    response = discovery_pb2.DiscoveryResponse(version_info=snapshot.version, type_url=type_url)
    for name, stored in snapshot.resources.items():
        if not names or name in names:
            response.resources.append(any_pb2.Any(type_url=type_url, value=stored.value))
    # Every type a resource or its typed_config can hold was imported by `resources`, so JSON can show it.
    text = json_format.MessageToJson(response, indent=None)
    headers = [(b"content-type", b"application/json")]
    return Answer(200, headers, text.encode(), request.version_info, snapshot.version)


_TEXT: Headers = [(b"content-type", b"text/plain; charset=utf-8")]


class RestControlPlane:
    """`with RestControlPlane("127.0.0.1:0") as cp:` serves REST xDS until the block ends."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self.port = port
        self.store = store_mod.Store()
        self._polls: list[Poll] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._serving: concurrent.futures.Future[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> RestControlPlane:
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config = hypercorn.config.Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.loglevel = "WARNING"
        config.accesslog = None
        config.graceful_timeout = 0.2
        config.keep_alive_timeout = 300
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="xdsspy-rest-control-plane", daemon=True
        )
        self._thread.start()

        stop = self._stop = asyncio.Event()  # binds to the loop that first waits on it
        self._serving = asyncio.run_coroutine_threadsafe(
            hypercorn.asyncio.serve(self._app, config, shutdown_trigger=stop.wait, mode="asgi"), loop
        )
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        stop = self._stop
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if self._serving is not None:
            try:
                self._serving.result(START_TIMEOUT_S)
            except Exception:
                pass  # shutting down: what hypercorn says on the way out is of no use here
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)
        loop.close()

    def __enter__(self) -> RestControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    # -- config and history ---------------------------------------------------------------

    def set_resources(self, type_url: str, messages: Iterable[resources.Message]) -> str:
        """Make messages the whole state of type_url under a new version; Envoy gets it at its next poll."""
        entries = []
        for message in messages:
            if resources.type_url_of(message) != type_url:
                raise ValueError(f"set_resources({type_url!r}) was given a {resources.type_url_of(message)}")
            entries.append((resources.name_of(message), message.SerializeToString(deterministic=True)))
        return self.set_raw(type_url, entries)

    def set_raw(
        self, type_url: str, entries: Iterable[tuple[str, bytes]], *, version: str | None = None
    ) -> str:
        """set_resources for serialised resources ((name, bytes) pairs), under `version` if given."""
        return self.store.set(type_url, entries, version=version).version

    @property
    def polls(self) -> list[Poll]:
        with self._lock:
            return list(self._polls)

    def wait_for_poll(
        self, condition: Callable[[Poll], bool], timeout: float = 10.0, *, after: int = 0
    ) -> Poll:
        """The first poll from index `after` on for which condition holds; waits for it to come."""
        deadline = time.monotonic() + timeout
        while True:
            for poll in self.polls[after:]:
                if condition(poll):
                    return poll
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no such poll within {timeout:g} s; polls so far: {len(self.polls)}")
            time.sleep(0.05)

    # -- serving --------------------------------------------------------------------------

    async def _app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        path = scope["raw_path"].decode("latin-1")
        result = answer(self.store, path, body)
        headers = result.headers
        if result.status != 304:
            headers = [*headers, (b"content-length", str(len(result.body)).encode())]
        poll = Poll(
            path,
            body,
            result.status,
            result.body,
            result.version_info,
            result.served_version,
            scope["http_version"],
            time.monotonic_ns(),
        )
        with self._lock:
            self._polls.append(poll)
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        await send({"type": "http.response.body", "body": result.body, "more_body": False})
