"""The ADS gRPC service on grpc.aio: one task per stream, raw bytes in and out, everything journaled.

Handlers get no (de)serialisers, so what is logged is exactly what crossed
the wire. Each stream has an inbox fed by its request reader and by pushes,
and a single loop that owns its protocol state, so a push and a request for
the same stream can never interleave halfway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import addresses
from xdsspy import aio
from xdsspy import model
from xdsspy.controlplane import delta
from xdsspy.controlplane import journal as journal_mod
from xdsspy.controlplane import protocol
from xdsspy.controlplane import sotw
from xdsspy.controlplane import store as store_mod

SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"
SOTW_METHOD = f"/{SERVICE}/StreamAggregatedResources"
DELTA_METHOD = f"/{SERVICE}/DeltaAggregatedResources"

MAX_MESSAGE_BYTES = 256 << 20
"""Room for Istio-sized pushes (100 MB and more) in both directions."""

HALF_CLOSE_GRACE_S = 0.1
"""How long an end of requests may wait to turn out to be a cancellation (see _why_requests_ended)."""

_CLIENT_DONE = None  # inbox marker: the client half-closed

_Inbox = asyncio.Queue[bytes | str | Exception | None]
"""Request bytes, a pushed type URL, the error that ended reading, or _CLIENT_DONE."""


class AdsServer:
    """Serves SotW and Delta ADS from a Store until stopped; lives on one event loop."""

    def __init__(self, store: store_mod.Store, journal: journal_mod.Journal, nonces: protocol.Nonces) -> None:
        self._store = store
        self._journal = journal
        self._nonces = nonces
        self._inboxes: dict[int, _Inbox] = {}
        self._server: grpc.aio.Server | None = None
        self._stopping = False

    async def start(
        self, address: addresses.Address, credentials: grpc.ServerCredentials | None = None
    ) -> int:
        """Bind address and serve (TLS with `credentials`); the bound TCP port (0 for a unix socket)."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # Fail loudly when the port is taken rather than share it with another server.
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "StreamAggregatedResources": grpc.stream_stream_rpc_method_handler(self._sotw),
                        "DeltaAggregatedResources": grpc.stream_stream_rpc_method_handler(self._delta),
                    },
                ),
            )
        )
        try:
            if credentials is not None:
                port = server.add_secure_port(address.grpc_target(), credentials)
            else:
                port = server.add_insecure_port(address.grpc_target())
        except RuntimeError as e:  # grpcio's "Failed to bind"; the reason went to its log
            raise OSError(f"control plane cannot listen on {address} (in use, or no such directory)") from e
        if not address.is_unix and port == 0:
            raise OSError(f"control plane cannot listen on {address}")
        await server.start()
        self._server = server
        return 0 if address.is_unix else port

    async def stop(self, grace: float) -> None:
        self._stopping = True
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def push(self, type_url: str) -> None:
        """Tell every open stream that type_url has a new version (call on the server's loop)."""
        for inbox in self._inboxes.values():
            inbox.put_nowait(type_url)

    async def _sotw(
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        stream = sotw.SotwStream(self._store, self._nonces)
        await self._serve(SOTW_METHOD, discovery_pb2.DiscoveryRequest, stream, context)

    async def _delta(
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        stream = delta.DeltaStream(self._store, self._nonces)
        await self._serve(DELTA_METHOD, discovery_pb2.DeltaDiscoveryRequest, stream, context)

    async def _serve(
        self,
        method: str,
        request_type: Any,
        stream: sotw.SotwStream | delta.DeltaStream,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> None:
        journal = self._journal
        stream_id = journal.open_stream(method, context.peer())
        inbox: _Inbox = asyncio.Queue()
        self._inboxes[stream_id] = inbox
        reader = aio.spawn(_read_requests(context, inbox), name=f"control plane stream {stream_id} reader")
        end = journal_mod.StreamEnd.ERROR
        try:
            while True:
                item = await inbox.get()
                if item is _CLIENT_DONE or isinstance(item, Exception):
                    end = await self._why_requests_ended(context, read_failed=item is not _CLIENT_DONE)
                    return
                if isinstance(item, bytes):
                    journal.message(stream_id, model.Direction.REQUEST, item)
                    try:
                        request = request_type.FromString(item)
                    except Exception as e:  # any parse failure is the client's error
                        end = journal_mod.StreamEnd.REJECTED
                        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request does not parse: {e}")
                        return
                    had_node = stream.node_id
                    outcome = stream.on_request(request)
                    if stream.node_id is not None and had_node is None:
                        journal.set_node(stream_id, stream.node_id)
                else:
                    outcome = stream.on_push(item)
                    version = self._store.get(item).version
                    journal.handled(stream_id, item, version, sent=bool(outcome.responses))
                self._note(stream_id, outcome.verdict)
                for response in outcome.responses:
                    raw = response.SerializeToString()
                    await context.write(raw)
                    journal.message(stream_id, model.Direction.RESPONSE, raw)
                    journal.sent(stream_id, response.type_url, _version_of(response), response.nonce)
        except asyncio.CancelledError:
            end = journal_mod.StreamEnd.SERVER_STOPPED if self._stopping else journal_mod.StreamEnd.CANCELLED
            raise
        except grpc.aio.AbortError:
            raise
        except Exception:
            end = journal_mod.StreamEnd.CANCELLED if context.cancelled() else journal_mod.StreamEnd.ERROR
            raise
        finally:
            reader.cancel()
            del self._inboxes[stream_id]
            journal.end_stream(stream_id, end)

    async def _why_requests_ended(
        self, context: grpc.aio.ServicerContext[Any, Any], *, read_failed: bool
    ) -> journal_mod.StreamEnd:
        """Tell a half-close from a cancellation, which grpc.aio also reports as the end of requests.

        A cancellation cancels this task within moments; a half-close does not.
        xDS clients practically never half-close, so the wait costs nothing.
        """
        if not self._stopping:
            await asyncio.sleep(HALF_CLOSE_GRACE_S)
        if self._stopping:
            return journal_mod.StreamEnd.SERVER_STOPPED
        if context.cancelled():
            return journal_mod.StreamEnd.CANCELLED
        return journal_mod.StreamEnd.ERROR if read_failed else journal_mod.StreamEnd.CLIENT_DONE

    def _note(self, stream_id: int, verdict: protocol.Verdict | None) -> None:
        if verdict is None:
            return
        if verdict.kind == protocol.RequestKind.INITIAL:
            self._journal.subscribed(stream_id, verdict.type_url)
        elif verdict.kind == protocol.RequestKind.ACK:
            self._journal.ack(stream_id, verdict.type_url, verdict.version, verdict.nonce)
        elif verdict.kind == protocol.RequestKind.NACK:
            self._journal.nack(
                stream_id,
                verdict.type_url,
                verdict.version,
                verdict.nonce,
                error_code=verdict.error_code,
                error_message=verdict.error_message,
                last_good_version=verdict.request_version,
            )


def _version_of(response: Any) -> str:
    if isinstance(response, discovery_pb2.DeltaDiscoveryResponse):
        return str(response.system_version_info)
    return str(response.version_info)


async def _read_requests(context: grpc.aio.ServicerContext[Any, Any], inbox: _Inbox) -> None:
    """Move requests into the stream's inbox until the client half-closes or reading fails."""
    try:
        while True:
            request = await context.read()
            if request is grpc.aio.EOF:
                break
            inbox.put_nowait(bytes(request))
    except Exception as e:  # the stream loop decides what a failed read means
        inbox.put_nowait(e)
        return
    inbox.put_nowait(_CLIENT_DONE)
