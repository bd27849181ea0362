"""The REST reverse proxy against an in-process upstream, over HTTP/1.1 and h2c: no Envoy needed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import httpcore
import hypercorn.asyncio
import hypercorn.config
import pytest

from xdsspy import addresses
from xdsspy import errors
from xdsspy import model
from xdsspy.capture import grpc_proxy
from xdsspy.capture import rest_proxy
from xdsspy.capture import sink as sink_mod
from xdsspy.testing import processes
from xdsspy.testing import sinks
from xdsspy.testing.sinks import ListSink

CDS = "/v3/discovery:clusters"
PROTOCOLS = ["http1", "h2c"]
BODY = b'{"version_info":"1","resources":[],"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}'


Answer = tuple[int, list[tuple[bytes, bytes]], bytes | Callable[[], AsyncIterator[bytes]]]


class Received:
    def __init__(self, scope: dict[str, Any], body: bytes) -> None:
        self.method: str = scope["method"]
        self.http_version: str = scope["http_version"]
        query = scope["query_string"]
        self.target: bytes = scope["raw_path"] + (b"?" + query if query else b"")
        self.headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        self.body = body


class Upstream:
    """A control-plane stand-in speaking HTTP/1.1 and h2c; `answer` decides what it sends back."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[Received], Awaitable[Answer]] = self.default
        self.disconnected = asyncio.Event()

    async def default(self, request: Received) -> Answer:
        return 200, [(b"content-type", b"application/json"), (b"x-cp", b"cp-1")], BODY

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        request = Received(scope, b"".join(chunks))
        self.received.append(request)
        loop = asyncio.get_running_loop()
        answering = loop.create_task(self.answer(request))
        gone = loop.create_task(receive())  # after the body, only a disconnect can come
        await asyncio.wait((answering, gone), return_when=asyncio.FIRST_COMPLETED)
        if not answering.done():
            answering.cancel()
            self.disconnected.set()
            return
        gone.cancel()
        status, headers, body = answering.result()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if isinstance(body, bytes):
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        async for piece in body():
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@contextlib.asynccontextmanager
async def serving(
    app: Any, port: int = 0, certs: tuple[str, str] | None = None, alpn: list[str] | None = None
) -> AsyncIterator[int]:
    """hypercorn serving app on 127.0.0.1 (with TLS if certs = (cert, key)); yields the port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(100)
    port = sock.getsockname()[1]
    config = hypercorn.config.Config()
    config.bind = [f"fd://{sock.fileno()}"]
    sock.detach()
    config.loglevel = "WARNING"
    config.graceful_timeout = 0.2
    config.include_server_header = config.include_date_header = False  # so any would be xdsspy's
    if certs is not None:
        config.certfile, config.keyfile = certs
    if alpn is not None:
        config.alpn_protocols = alpn
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait, mode="asgi")
    )
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def running(
    *,
    upstream_up: bool = True,
    sink: ListSink | None = None,
    stamper: sink_mod.Stamper | None = None,
    ids: sink_mod.Ids | None = None,
    **options: Any,
) -> AsyncIterator[tuple[Upstream, ListSink, str, rest_proxy.RestProxy]]:
    upstream = Upstream()
    port = processes.free_port()
    sink = sink or ListSink()
    proxy = rest_proxy.RestProxy(
        rest_proxy.RestProxyOptions(upstream=f"http://127.0.0.1:{port}", **options),
        sink,
        stamper or sink_mod.Stamper(),
        ids,
    )
    url = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
    try:
        if upstream_up:
            async with serving(upstream, port):
                yield upstream, sink, url, proxy
        else:
            yield upstream, sink, url, proxy
    finally:
        await proxy.stop(grace=0.2)


class Reply:
    def __init__(self, response: httpcore.Response) -> None:
        self.status_code = response.status
        self.headers = {k.decode().lower(): v.decode() for k, v in response.headers}
        self.content = response.content


class Poller:
    """Envoy's two ways of polling: HTTP/1.1, or h2c with prior knowledge (http2_protocol_options)."""

    def __init__(self, protocol: str, uds: str | None = None) -> None:
        self.pool = httpcore.AsyncConnectionPool(http1=protocol == "http1", http2=protocol == "h2c", uds=uds)

    async def request(
        self, method: str, url: str, content: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        return Reply(await self.pool.request(method, url, headers=headers or {}, content=content))

    async def post(self, url: str, content: bytes, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", url, content, headers)

    async def __aenter__(self) -> Poller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.aclose()


def client(protocol: str) -> Poller:
    return Poller(protocol)


def closed(sink: ListSink) -> Callable[[], bool]:
    return lambda: bool(sink.of(model.StreamClosed))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_poll_passes_unchanged_and_is_published_as_one_stream(protocol: str) -> None:
    async def scenario() -> None:
        async with running() as (upstream, sink, url, _), client(protocol) as http:
            request_body = b'{"node":{"id":"n\xc3\xa9"},"type_url":"x"}\x00\xff'  # bytes, not text
            reply = await http.post(
                url + CDS + "?trace=1",
                content=request_body,
                headers={
                    "content-type": "application/json",
                    "x-envoy-expected-rq-timeout-ms": "1000",
                    "authorization": "Bearer t0ken",
                    "host": "xds_cluster",
                },
            )
            assert reply.status_code == 200
            assert reply.content == BODY
            assert reply.headers["x-cp"] == "cp-1"
            assert reply.headers["content-type"] == "application/json"
            assert "server" not in reply.headers and "date" not in reply.headers  # none added by xdsspy
            got = upstream.received[0]
            assert (got.method, got.target, got.body) == ("POST", CDS.encode() + b"?trace=1", request_body)
            assert got.http_version == ("2" if protocol == "h2c" else "1.1")
            sent = dict(got.headers)
            assert sent[b"x-envoy-expected-rq-timeout-ms"] == b"1000"
            assert sent[b"authorization"] == b"Bearer t0ken"
            assert sent[b"host"] == b"xds_cluster"
            assert b"user-agent" not in sent or sent[b"user-agent"].startswith(b"python-httpx")
            await processes.until(closed(sink))
            kinds = [type(e).__name__ for e in sink.events]
            assert kinds == sinks.POLL
            opened = sink.of(model.StreamOpened)[0]
            assert opened.transport == model.Transport.REST
            assert (opened.method, opened.http_method) == (CDS + "?trace=1", "POST")
            assert opened.peer.startswith("ipv4:127.0.0.1:")
            assert ("x-envoy-expected-rq-timeout-ms", b"1000") in opened.metadata
            assert ("authorization", b"Bearer t0ken") in opened.metadata
            assert sink.messages(model.Direction.REQUEST) == [request_body]
            assert sink.messages(model.Direction.RESPONSE) == [BODY]
            headers = sink.of(model.ResponseHeadersSeen)[0]
            assert headers.http_status == 200 and ("x-cp", b"cp-1") in headers.metadata
            close = sink.of(model.StreamClosed)[0]
            assert (close.code, close.details, close.cause) == (0, "HTTP 200", model.CloseCause.UPSTREAM)
            assert len({(e.connection, e.stream) for e in sink.events}) == 1
            assert [e.seq for e in sink.events] == sorted(e.seq for e in sink.events)

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("status", "body"),
    [(304, b""), (500, b"control plane exploded"), (200, b"\x00\xffnot json at all"), (404, b"")],
)
def test_any_status_and_body_pass_as_they_are(protocol: str, status: int, body: bytes) -> None:
    async def scenario() -> None:
        async with running() as (upstream, sink, url, _), client(protocol) as http:

            async def answer(request: Received) -> Answer:
                return status, [(b"etag", b'"v1"')], body

            upstream.answer = answer
            reply = await http.post(url + CDS, content=b"{}")
            assert (reply.status_code, reply.content, reply.headers["etag"]) == (status, body, '"v1"')
            await processes.until(closed(sink))
            assert sink.of(model.ResponseHeadersSeen)[0].http_status == status
            assert sink.messages(model.Direction.RESPONSE) == [body]  # b"" for a 304: the exchange is whole
            close = sink.of(model.StreamClosed)[0]
            assert (close.code, close.details, close.cause) == (
                0,
                f"HTTP {status}",
                model.CloseCause.UPSTREAM,
            )

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_upstream_down_gives_503_then_polls_work_once_it_is_up(protocol: str) -> None:
    async def scenario() -> None:
        async with running(upstream_up=False) as (upstream, sink, url, proxy), client(protocol) as http:
            reply = await http.post(url + CDS, content=b"{}")
            assert reply.status_code == 503 and b"unreachable: Connection refused" in reply.content
            await processes.until(closed(sink))
            assert [type(e).__name__ for e in sink.events if not isinstance(e, model.Note)] == sinks.POLL
            assert sink.messages(model.Direction.RESPONSE) == [reply.content]  # what Envoy got
            close = sink.of(model.StreamClosed)[0]
            assert close.code == 14 and close.cause == model.CloseCause.UPSTREAM_UNAVAILABLE
            assert close.details.startswith("HTTP 503 from xdsspy: control plane")
            port = int(str(proxy.upstream).rsplit(":", 1)[1])
            async with serving(upstream, port):
                reply = await http.post(url + CDS, content=b"{}")
                assert (reply.status_code, reply.content) == (200, BODY)

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_huge_bodies_pass_both_ways_byte_exact(protocol: str) -> None:
    async def scenario() -> None:
        size = 40 << 20 if protocol == "http1" else 12 << 20
        big = os.urandom(size)
        async with running() as (upstream, sink, url, _), client(protocol) as http:

            async def answer(request: Received) -> Answer:
                return 200, [(b"content-length", str(len(big)).encode())], big[::-1]

            upstream.answer = answer
            reply = await http.post(url + CDS, content=big)
            assert hashlib.sha256(reply.content).digest() == hashlib.sha256(big[::-1]).digest()
            assert upstream.received[0].body == big
            await processes.until(closed(sink))
            assert sink.messages(model.Direction.REQUEST) == [big]
            assert sink.messages(model.Direction.RESPONSE)[0] == big[::-1]

    asyncio.run(scenario())


def test_a_streamed_body_without_length_is_relayed_and_recorded_whole() -> None:
    async def scenario() -> None:
        async with running() as (upstream, sink, url, _), client("http1") as http:

            async def pieces() -> AsyncIterator[bytes]:
                for i in range(5):
                    await asyncio.sleep(0.01)
                    yield bytes([i]) * 1000

            async def answer(request: Received) -> Answer:
                return 200, [], pieces

            upstream.answer = answer
            reply = await http.post(url + CDS, content=b"{}")
            expected = b"".join(bytes([i]) * 1000 for i in range(5))
            assert reply.content == expected
            await processes.until(closed(sink))
            assert sink.messages(model.Direction.RESPONSE) == [expected]

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_other_paths_pass_through_unrecorded(protocol: str) -> None:
    async def scenario() -> None:
        async with running() as (upstream, sink, url, _), client(protocol) as http:
            reply = await http.request("GET", url + "/healthz?full=1")
            assert (reply.status_code, reply.content) == (200, BODY)
            reply = await http.request("PUT", url + "/v3/discovery:clusters/extra", b"x")
            assert reply.status_code == 200
            assert [(r.method, r.target) for r in upstream.received] == [
                ("GET", b"/healthz?full=1"),
                ("PUT", b"/v3/discovery:clusters/extra"),
            ]
            await http.post(url + "/v2/discovery:listeners", content=b"{}")
            await processes.until(closed(sink))
            assert [e.method for e in sink.of(model.StreamOpened)] == ["/v2/discovery:listeners"]

    asyncio.run(scenario())


def test_headers_pass_exactly_as_sent_hop_by_hop_ones_too() -> None:
    """xdsspy relays the connection, it does not re-send requests: nothing is added, dropped or reordered."""

    async def scenario() -> None:
        async with running() as (upstream, _, url, _), client("http1") as http:

            async def answer(request: Received) -> Answer:
                return 200, [(b"x-keep", b"1"), (b"connection", b"x-drop"), (b"x-drop", b"2")], b"ok"

            upstream.answer = answer
            reply = await http.post(
                url + CDS, content=b"{}", headers={"connection": "keep-alive, x-secret", "x-secret": "s"}
            )
            assert reply.headers["x-keep"] == "1" and reply.headers["x-drop"] == "2"
            sent = dict(upstream.received[0].headers)
            assert sent[b"x-secret"] == b"s" and sent[b"connection"] == b"keep-alive, x-secret"

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_envoy_going_away_cancels_the_upstream_request(protocol: str) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        async with running() as (upstream, sink, url, _):

            async def hang(request: Received) -> Answer:
                await asyncio.wait_for(release.wait(), 30)
                return 200, [], b"late"

            upstream.answer = hang
            async with client(protocol) as http:
                poll = asyncio.get_running_loop().create_task(http.post(url + CDS, content=b"{}"))
                await processes.until(lambda: bool(upstream.received))
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
            await processes.until(closed(sink))
            close = sink.of(model.StreamClosed)[0]
            assert (close.code, close.cause) == (1, model.CloseCause.DOWNSTREAM)
            assert not sink.of(model.ResponseHeadersSeen)
            if protocol == "http1":
                # aiohttp closes the upstream connection. httpcore's HTTP/2 forgets a cancelled stream
                # without a RST_STREAM, so an h2c upstream answers into the void (harmless for a poll).
                await asyncio.wait_for(upstream.disconnected.wait(), 10)
            release.set()
            upstream.answer = upstream.default
            async with client(protocol) as http:
                assert (await http.post(url + CDS, content=b"{}")).content == BODY

    asyncio.run(scenario())


def test_an_upstream_breaking_off_mid_body_is_named_and_the_part_kept() -> None:
    """HTTP/1.1 only: hypercorn leaves an h2 stream open when its app fails, so there is nothing to see."""

    async def scenario() -> None:
        async with running() as (upstream, sink, url, _), client("http1") as http:

            async def half() -> AsyncIterator[bytes]:
                yield b"a" * 5000
                await asyncio.sleep(0.05)
                raise ConnectionResetError("control plane crashed")  # hypercorn drops the connection

            async def answer(request: Received) -> Answer:
                return 200, [(b"content-length", b"10000")], half

            upstream.answer = answer
            with pytest.raises(httpcore.RemoteProtocolError):
                await asyncio.wait_for(http.post(url + CDS, content=b"{}"), 10)
            await processes.until(closed(sink))
            close = sink.of(model.StreamClosed)[0]
            assert (close.code, close.cause) == (14, model.CloseCause.UPSTREAM)
            assert "the control plane closed the connection after 5000 body bytes" in close.details
            assert sink.messages(model.Direction.RESPONSE) == [b"a" * 5000]

    asyncio.run(scenario())


def test_bodies_over_the_recording_limit_pass_and_the_recording_says_so() -> None:
    async def scenario() -> None:
        async with running(max_body_bytes=1000) as (upstream, sink, url, _), client("http1") as http:

            async def large(request: Received) -> Answer:
                return 200, [(b"content-length", b"5000")], b"y" * 5000

            upstream.answer = large
            reply = await http.post(url + CDS, content=b"x" * 5000)
            assert (reply.status_code, reply.content) == (200, b"y" * 5000)
            assert upstream.received[0].body == b"x" * 5000
            await processes.until(closed(sink))
            notes = [e.text for e in sink.of(model.Note)]
            assert any("request body of 5000 bytes was forwarded but not recorded" in n for n in notes)
            close = sink.of(model.StreamClosed)[0]
            assert (close.code, close.cause) == (8, model.CloseCause.UPSTREAM)
            assert "5000-byte body was forwarded but not recorded" in close.details
            assert sink.messages(model.Direction.REQUEST) == sink.messages(model.Direction.RESPONSE) == []
            upstream.answer = upstream.default
            reply = await http.post(url + "/v3/discovery:listeners", content=b"small")  # still recording
            await processes.until(lambda: len(sink.of(model.StreamClosed)) == 2)
            assert sink.messages(model.Direction.REQUEST) == [b"small"]
            assert sink.messages(model.Direction.RESPONSE) == [BODY]

    asyncio.run(scenario())


def test_connections_and_streams_get_ids_shared_with_the_grpc_proxy() -> None:
    async def scenario() -> None:
        ids = sink_mod.Ids()
        stamper = sink_mod.Stamper()
        sink = ListSink()
        grpc_px = grpc_proxy.GrpcProxy(
            grpc_proxy.ProxyOptions(upstream=addresses.parse(f"127.0.0.1:{processes.free_port()}")),
            sink,
            stamper,
            ids,
        )
        grpc_target = (await grpc_px.start([addresses.parse("127.0.0.1:0")]))[0]
        async with running(sink=sink, stamper=stamper, ids=ids) as (_upstream, _, url, _rest):
            for _ in range(2):
                async with client("http1") as http:
                    await http.post(url + CDS, content=b"{}")
                    await http.post(url + CDS, content=b"{}")
            import grpc.aio

            async with grpc.aio.insecure_channel(grpc_target) as channel:
                with pytest.raises(grpc.aio.AioRpcError):
                    await channel.unary_unary("/x.Y/Z")(b"")
            await processes.until(lambda: len(sink.of(model.StreamClosed)) == 5)
        await grpc_px.stop(0.1)
        opened = sink.of(model.StreamOpened)
        assert len({e.stream for e in opened}) == 5
        rest_opened = [e for e in opened if e.transport == model.Transport.REST]
        assert rest_opened[0].connection == rest_opened[1].connection != rest_opened[2].connection
        assert len({e.connection for e in opened}) == 3
        assert [e.seq for e in sink.events] == sorted(e.seq for e in sink.events)

    asyncio.run(scenario())


def _make_certs(directory: str) -> tuple[str, str, str]:
    """A CA and a certificate for 127.0.0.1 signed by it, made with the openssl command."""
    ca_key, ca, key, csr, cert = (
        os.path.join(directory, n) for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    ext = os.path.join(directory, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=xdsspy test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", ext)  # fmt: skip
    return ca, cert, key


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_https_upstream_is_verified_against_the_given_ca(protocol: str, tmp_path: Any) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test CA")
    ca, cert, key = _make_certs(str(tmp_path))

    async def scenario() -> None:
        upstream = Upstream()
        async with serving(upstream, certs=(cert, key)) as port:
            for ca_file, expected in ((ca, 200), (None, 503)):
                sink = ListSink()
                proxy = rest_proxy.RestProxy(
                    rest_proxy.RestProxyOptions(upstream=f"https://127.0.0.1:{port}", ca_file=ca_file),
                    sink,
                    sink_mod.Stamper(),
                )
                url = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
                try:
                    async with client(protocol) as http:
                        reply = await http.post(url + CDS, content=b"{}")
                    assert reply.status_code == expected, reply.content
                    if expected == 200:
                        assert reply.content == BODY
                        assert upstream.received[-1].http_version == ("2" if protocol == "h2c" else "1.1")
                    else:
                        assert b"certificate" in reply.content.lower()
                finally:
                    await proxy.stop(0.2)

    asyncio.run(scenario())


def test_h2c_to_an_https_upstream_without_http2_is_refused_with_the_reason(tmp_path: Any) -> None:
    """A byte relay cannot turn Envoy's h2c into HTTP/1.1: xdsspy says so instead of sending garbage."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test CA")
    ca, cert, key = _make_certs(str(tmp_path))

    async def scenario() -> None:
        upstream = Upstream()
        async with serving(upstream, certs=(cert, key), alpn=["http/1.1"]) as port:
            sink = ListSink()
            proxy = rest_proxy.RestProxy(
                rest_proxy.RestProxyOptions(upstream=f"https://127.0.0.1:{port}", ca_file=ca),
                sink,
                sink_mod.Stamper(),
            )
            url = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
            try:
                async with client("h2c") as http:
                    reply = await http.post(url + CDS, content=b"{}")
                assert reply.status_code == 503
                assert b"does not speak HTTP/2 over TLS (ALPN gave nothing)" in reply.content
                assert not upstream.received
                async with client("http1") as http:  # HTTP/1.1 from Envoy still goes through
                    assert (await http.post(url + CDS, content=b"{}")).content == BODY
            finally:
                await proxy.stop(0.2)

    asyncio.run(scenario())


def test_unix_socket_listener() -> None:
    async def scenario() -> None:
        path = f"/tmp/xs-rest-{os.getpid()}.sock"
        upstream = Upstream()
        port = processes.free_port()
        sink = ListSink()
        proxy = rest_proxy.RestProxy(
            rest_proxy.RestProxyOptions(upstream=f"http://127.0.0.1:{port}"), sink, sink_mod.Stamper()
        )
        assert await proxy.start([addresses.parse(f"unix:{path}")]) == [f"http://unix:{path}"]
        try:
            async with serving(upstream, port):
                async with Poller("http1", uds=path) as http:
                    reply = await http.post("http://xds/v3/discovery:clusters", content=b"{}")
                assert reply.content == BODY
            await processes.until(closed(sink))
            assert sink.of(model.StreamOpened)[0].peer == f"unix:{path}"  # the socket Envoy connected to
        finally:
            await proxy.stop(0.2)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://cp.example/", "https://cp.example"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_upstream_urls_are_normalised(url: str, normalised: str) -> None:
    assert rest_proxy.parse_upstream(url) == normalised


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("127.0.0.1:8080", "http://"),
        ("grpc://cp:1", "http://"),
        ("http://cp:1/xds", "Envoy's request paths"),
        ("http://:80", "needs a host"),
        ("http://cp:99999", "99999"),
    ],
)
def test_bad_upstream_urls_are_refused_with_a_reason(url: str, complaint: str) -> None:
    with pytest.raises(errors.AddressError, match=complaint):
        rest_proxy.parse_upstream(url)


def test_the_rest_proxy_loads_no_decoder_recorder_or_ui() -> None:
    code = "import json, sys, xdsspy.capture.rest_proxy; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    forbidden = ("xdsspy.decode", "xdsspy.record", "xdsspy.tui", "textual", "rich", "envoy", "xds")
    import json

    bad = [m for m in json.loads(out) if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert bad == []


def test_a_failure_of_xdsspy_stops_recording_that_connection_not_forwarding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xdsspy.capture import http1_observer

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        async with running() as (_, sink, url, _):
            async with client("http1") as http:
                with monkeypatch.context() as patch:
                    patch.setattr(http1_observer.Http1Observer, "request_started", broken)
                    assert (await http.post(url + CDS, content=b"{}")).content == BODY
                assert (await http.post(url + CDS, content=b"{}")).content == BODY  # same connection
            notes = [e.text for e in sink.of(model.Note)]
            assert len(notes) == 1 and "a bug" in notes[0] and "still forwarded unchanged" in notes[0]
            assert not sink.of(model.StreamOpened)
            async with client("http1") as http:  # a new connection is recorded again
                assert (await http.post(url + CDS, content=b"{}")).content == BODY
            await processes.until(closed(sink))
            assert sink.messages(model.Direction.RESPONSE) == [BODY]

    asyncio.run(scenario())
