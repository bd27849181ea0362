"""Raw-bytes gRPC peers on loopback for benchmarks and process-level tests.

The server answers /bench.Bench/Push (request b"COUNT,SIZE": it streams
COUNT messages of SIZE bytes back, as a control plane pushes) and any other
method by echoing each request (round-trip latency). Payloads are xDS-like
text so that compression costs what it would on real pushes.
Run as `python -m xdsspy.testing.raw_peers PORT [CERT KEY]`: with a certificate
and its key (PEM files, xdsspy.testing.tls_material), the server speaks TLS,
and clients given `Tls.load(CA)` verify it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import sys
import time

import grpc
import grpc.aio

OPTIONS = [("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30)]


_TEXT = b"".join(
    b'{"name":"outbound|%d||svc-%d.ns-%d.svc.cluster.local","type":"EDS","connect_timeout":"10s",'
    b'"circuit_breakers":{"max_connections":%d},"metadata":{"istio":{"revision":"1-2%d"}}}\n'
    % (9000 + i % 97, i, i % 13, 1024 + i % 7, i % 5)
    for i in range(4000)
)


DISTINCT_BYTES = 40 << 20
"""Each size has enough different payloads to fill this much before one comes again: more than two of the
recorder's 16 MB blocks, so no message is a byte-for-byte repeat of another in its block (the recorder
stores those as references, and real pushes differ at least in their nonce)."""


def variants(size: int) -> int:
    return max(8, -(-DISTINCT_BYTES // max(size, 1)))


def payload(size: int, index: int = 0) -> bytes:
    """size bytes of xDS-like text (compresses roughly as real pushes do); the index-th of variants(size).

    Cached, so that producing a message costs the server nothing and the
    benchmark measures forwarding, not payload generation.
    """
    key = (size, index % variants(size))
    cached = _CACHE.get(key)
    if cached is None:
        start = (key[1] * 7919) % len(_TEXT)
        if size <= len(_TEXT):
            cached = _TWICE[start : start + size]
        else:
            cached = (_TWICE[start : start + len(_TEXT)] * (size // len(_TEXT) + 1))[:size]
        _CACHE[key] = cached
    return cached


_CACHE: dict[tuple[int, int], bytes] = {}
_TWICE = _TEXT + _TEXT


@dataclasses.dataclass(frozen=True, slots=True)
class Tls:
    """How a client dials a TLS peer: the CA certificates (PEM) its certificate must chain to."""

    ca_pem: bytes

    @classmethod
    def load(cls, ca: str) -> Tls:
        return cls(pathlib.Path(ca).read_bytes())


def _channel(target: str, tls: Tls | None) -> grpc.aio.Channel:
    if tls is None:
        return grpc.aio.insecure_channel(target, options=OPTIONS)
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca_pem)
    return grpc.aio.secure_channel(target, credentials, options=OPTIONS)


def server_credentials(cert: str, key: str) -> grpc.ServerCredentials:
    """TLS for `serve` from a certificate and its key (PEM files)."""
    return grpc.ssl_server_credentials([(pathlib.Path(key).read_bytes(), pathlib.Path(cert).read_bytes())])


async def serve(port: int, credentials: grpc.ServerCredentials | None = None) -> None:
    """Serve on 127.0.0.1:port until killed; over TLS with `credentials` (server_credentials)."""

    async def push(request_iterator, context):  # type: ignore[no-untyped-def]
        async for request in request_iterator:
            count, size = (int(x) for x in request.split(b","))
            for i in range(count):
                await context.write(payload(size, i))
            return

    async def echo(request_iterator, context):  # type: ignore[no-untyped-def]
        async for request in request_iterator:
            await context.write(request)

    class Handler(grpc.GenericRpcHandler):  # type: ignore[misc]
        def service(self, details):  # type: ignore[no-untyped-def]
            behaviour = push if details.method.endswith("/Push") else echo
            return grpc.stream_stream_rpc_method_handler(behaviour)

    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((Handler(),))
    if credentials is not None:
        server.add_secure_port(f"127.0.0.1:{port}", credentials)
    else:
        server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def throughput(target: str, count: int, size: int, tls: Tls | None = None) -> float:
    """Bytes per second received from a push of count messages of size bytes."""
    async with _channel(target, tls) as channel:
        call = channel.stream_stream("/bench.Bench/Push")()
        start = time.perf_counter()
        await call.write(f"{count},{size}".encode())
        await call.done_writing()
        received = 0
        async for message in call:
            received += len(message)
        elapsed = time.perf_counter() - start
        assert received == count * size, (received, count * size)
        return received / elapsed


async def round_trips(target: str, count: int, size: int, tls: Tls | None = None) -> list[float]:
    """Seconds per request/response round trip on one stream."""
    async with _channel(target, tls) as channel:
        call = channel.stream_stream("/bench.Bench/Echo")()
        message = payload(size)
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            await call.write(message)
            await call.read()
            samples.append(time.perf_counter() - start)
        await call.done_writing()
        return samples


if __name__ == "__main__":
    tls = server_credentials(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else None
    asyncio.run(serve(int(sys.argv[1]), tls))
