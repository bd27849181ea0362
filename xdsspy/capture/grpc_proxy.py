"""Generic raw-bytes gRPC forwarding: every method, every call shape, both ways, status included.

Each incoming call is handled as a bidirectional stream whatever its real
shape: on the wire a unary or server-streaming call is just a stream with one
request, so one handler forwards ADS, Delta, per-type services, Fetch*, LRS,
HDS, CSDS and methods nobody has invented yet. Messages are never parsed:
grpcio hands over the payload bytes when no (de)serialiser is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

from xdsspy import aio
from xdsspy import model
from xdsspy.addresses import Address
from xdsspy.capture import sink as sink_mod

DEFAULT_MAX_MESSAGE_BYTES = 1 << 30
"""1 GiB: Istio pushes for 10k+ clusters reach 100 MB and more."""

CHANNEL_IDLE_CLOSE_S = 30.0
_EOF_YIELDS = 3

# Headers grpcio manages itself; passing them on would be rejected or duplicated.
_NOT_FORWARDED = frozenset(
    {"user-agent", "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "host"}
)


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyOptions:
    upstream: Address
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


def _transport_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    limit = min(max_message_bytes, 2**31 - 1)
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.max_metadata_size", 1 << 20),
        ("grpc.http2.max_frame_size", 16777215),
    ]


def _server_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        *_transport_options(max_message_bytes),
        # Istio's bootstrap pings the xDS cluster every 30 s; grpc's default policy
        # would answer with GOAWAY "too_many_pings" and break Envoy's stream.
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def _metadata_bytes(md: Sequence[tuple[str, str | bytes]] | None) -> model.Metadata:
    if not md:
        return ()
    return tuple((k, v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape")) for k, v in md)


class _Connection:
    """One downstream peer (one Envoy connection) and its own upstream channel."""

    def __init__(self, ident: int, channel: grpc.aio.Channel) -> None:
        self.ident = ident
        self.channel = channel
        self.active_streams = 0
        self.close_timer: asyncio.TimerHandle | None = None


class GrpcProxy:
    """Forwards every gRPC call it receives to one upstream and publishes what passes."""

    def __init__(
        self,
        options: ProxyOptions,
        sink: sink_mod.Sink,
        stamper: sink_mod.Stamper,
        ids: sink_mod.Ids | None = None,
    ) -> None:
        self._options = options
        self._sink = sink
        self._stamper = stamper
        self._ids = ids or sink_mod.Ids()  # shared with the REST proxy when both run
        self._connections: dict[str, _Connection] = {}
        self._server: grpc.aio.Server | None = None
        self._shutting_down = False
        self.bound: list[str] = []

    async def start(self, listen: Sequence[Address]) -> list[str]:
        """Bind every listen address and start serving; returns the addresses actually bound."""
        server = grpc.aio.server(options=_server_options(self._options.max_message_bytes))
        server.add_generic_rpc_handlers((_GenericHandler(self),))
        for address in listen:
            port = server.add_insecure_port(address.grpc_target())
            if not address.is_unix and port == 0:
                raise OSError(f"cannot listen on {address}")
            self.bound.append(str(address if address.is_unix else address.with_port(port)))
        await server.start()
        self._server = server
        return self.bound

    async def stop(self, grace: float = 1.0) -> None:
        self._shutting_down = True
        if self._server is not None:
            await self._server.stop(grace)
        for conn in list(self._connections.values()):
            await conn.channel.close()
        self._connections.clear()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    # -- connections ----------------------------------------------------------------------

    def _connection_for(self, peer: str, user_agent: str | None) -> _Connection:
        conn = self._connections.get(peer)
        if conn is None:
            options = [
                *_transport_options(self._options.max_message_bytes),
                # Each Envoy gets its own upstream connection, as it would without xdsspy.
                ("grpc.use_local_subchannel_pool", 1),
            ]
            if user_agent:
                options.append(("grpc.primary_user_agent", user_agent))
            channel = grpc.aio.insecure_channel(self._options.upstream.grpc_target(), options=options)
            conn = _Connection(self._ids.new_connection(), channel)
            self._connections[peer] = conn
        if conn.close_timer is not None:
            conn.close_timer.cancel()
            conn.close_timer = None
        conn.active_streams += 1
        return conn

    def _release(self, peer: str, conn: _Connection) -> None:
        conn.active_streams -= 1
        if conn.active_streams == 0 and not self._shutting_down:
            loop = asyncio.get_running_loop()
            conn.close_timer = loop.call_later(CHANNEL_IDLE_CLOSE_S, self._close_idle, peer, conn)

    def _close_idle(self, peer: str, conn: _Connection) -> None:
        if conn.active_streams == 0 and self._connections.get(peer) is conn:
            del self._connections[peer]
            aio.spawn(conn.channel.close(), name=f"close upstream channel of connection {conn.ident}")

    # -- one call -------------------------------------------------------------------------

    async def handle(
        self,
        method: str,
        request_iterator: AsyncIterator[bytes],
        context: grpc.aio.ServicerContext[bytes, bytes],
    ) -> None:
        del request_iterator  # requests are read with context.read()
        peer = context.peer()
        metadata = tuple(context.invocation_metadata() or ())
        user_agent = next((str(v) for k, v in metadata if k == "user-agent"), None)
        conn = self._connection_for(peer, user_agent)
        stream = self._ids.new_stream()
        publish = self._sink.publish
        ids: model.StreamIds = {"connection": conn.ident, "stream": stream}
        remaining = context.time_remaining()
        timeout = remaining if remaining is not None and remaining < 1e8 else None
        publish(
            model.StreamOpened(
                **self._stamper.stamp(),
                **ids,
                transport=model.Transport.GRPC,
                method=method,
                peer=peer,
                metadata=_metadata_bytes(metadata),
                timeout_seconds=timeout or 0.0,
            )
        )
        forwarded = tuple((k, v) for k, v in metadata if k not in _NOT_FORWARDED and not k.startswith(":"))
        call = conn.channel.stream_stream(method)(metadata=forwarded, timeout=timeout)
        handler = asyncio.current_task()
        assert handler is not None
        pump = aio.spawn(
            self._pump_requests(context, call, method, ids, handler), name=f"stream {stream} envoy->upstream"
        )
        got_anything = False
        cause = model.CloseCause.UPSTREAM
        try:
            try:
                headers = await call.initial_metadata()
                if headers:
                    got_anything = True
                    publish(
                        model.ResponseHeadersSeen(
                            **self._stamper.stamp(), **ids, metadata=_metadata_bytes(headers), method=method
                        )
                    )
                    await context.send_initial_metadata(headers)
                # One message read ahead while the current one goes to Envoy: the overlap without
                # holding several 100 MB pushes per stream in memory.
                queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
                reader = aio.spawn(_read_into(call, queue), name=f"stream {stream} upstream reader")
                try:
                    while (response := await queue.get()) is not None:
                        got_anything = True
                        publish(
                            model.MessageSeen(
                                **self._stamper.stamp(),
                                **ids,
                                direction=model.Direction.RESPONSE,
                                raw=response,
                                method=method,
                            )
                        )
                        await context.write(response)
                    await reader
                finally:
                    reader.cancel()
                code = await call.code()
                details = await call.details() or ""
                trailers = await call.trailing_metadata()
            except grpc.aio.AioRpcError as e:
                code, details, trailers = e.code(), e.details() or "", e.trailing_metadata()
                if code == grpc.StatusCode.UNAVAILABLE and not got_anything:
                    cause = model.CloseCause.UPSTREAM_UNAVAILABLE
        except asyncio.CancelledError:
            call.cancel()
            cause = model.CloseCause.PROXY_SHUTDOWN if self._shutting_down else model.CloseCause.DOWNSTREAM
            publish(
                model.StreamClosed(
                    **self._stamper.stamp(),
                    **ids,
                    code=grpc.StatusCode.CANCELLED.value[0],
                    details="cancelled",
                    trailers=(),
                    cause=cause,
                    method=method,
                )
            )
            raise
        finally:
            pump.cancel()
            self._release(peer, conn)
        publish(
            model.StreamClosed(
                **self._stamper.stamp(),
                **ids,
                code=code.value[0],
                details=details,
                trailers=_metadata_bytes(trailers),
                cause=cause,
                method=method,
            )
        )
        if trailers:
            context.set_trailing_metadata(tuple(trailers))
        if code != grpc.StatusCode.OK:
            context.set_code(code)
            context.set_details(details)

    async def _pump_requests(
        self,
        context: grpc.aio.ServicerContext[bytes, bytes],
        call: grpc.aio.StreamStreamCall[bytes, bytes],
        method: str,
        ids: model.StreamIds,
        handler: asyncio.Task[Any],
    ) -> None:
        publish = self._sink.publish
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError):
            while True:
                request = await context.read()
                if request is grpc.aio.EOF:
                    # grpc.aio reports a cancelled call as EOF too, and cancels the handler task
                    # right after: give that a chance, so a cancel is forwarded as a cancel
                    # (by the handler) and only a real half-close as done_writing().
                    for _ in range(_EOF_YIELDS):
                        await asyncio.sleep(0)
                        if handler.cancelling() or handler.done():
                            return
                    await call.done_writing()
                    return
                publish(
                    model.MessageSeen(
                        **self._stamper.stamp(),
                        **ids,
                        direction=model.Direction.REQUEST,
                        raw=request,
                        method=method,
                    )
                )
                await call.write(request)


async def _read_into(
    call: grpc.aio.StreamStreamCall[bytes, bytes], queue: asyncio.Queue[bytes | None]
) -> None:
    try:
        while (response := await call.read()) is not grpc.aio.EOF:
            await queue.put(response)
    finally:
        await queue.put(None)  # wakes the writer; an error is re-raised where it awaits this task


class _GenericHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Answers every method name with the same raw-bytes stream handler."""

    def __init__(self, proxy: GrpcProxy) -> None:
        self._proxy = proxy

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        return grpc.stream_stream_rpc_method_handler(functools.partial(self._proxy.handle, method))
