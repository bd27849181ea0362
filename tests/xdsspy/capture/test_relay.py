"""The byte relay against plain TCP peers: what goes in comes out, ends propagate, and who ended is known."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import stat
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvloop

from xdsspy import addresses
from xdsspy import model
from xdsspy.capture import relay
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side
from xdsspy.testing import processes


class SpyWatch:
    """Counts what the relay shows a watcher."""

    def __init__(self, connection: int, peer: str) -> None:
        self.connection = connection
        self.peer = peer
        self.seen = {Side.DOWNSTREAM: hashlib.sha256(), Side.UPSTREAM: hashlib.sha256()}
        self.ended: list[tuple[model.CloseCause, str]] = []
        self.finished: list[tuple[model.CloseCause, str]] = []
        self.unreachable = ""

    def feed(self, side: Side, data: bytes) -> None:
        self.seen[side].update(data)

    def connection_ended(self, cause: model.CloseCause, details: str) -> None:
        self.ended.append((cause, details))

    def upstream_unreachable(self, details: str) -> None:
        self.unreachable = details

    def side_finished(self, cause: model.CloseCause, details: str) -> None:
        self.finished.append((cause, details))


class Peer:
    """A control-plane stand-in that runs one handler per connection."""

    def __init__(self) -> None:
        self.handler: Any = self.echo
        self.server: asyncio.Server | None = None
        self.port = 0

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def start(self) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                await self.handler(reader, writer)

        self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]


class KeepingWatch(SpyWatch):
    """Keeps every chunk exactly as the relay handed it over (views of read buffers included)."""

    def __init__(self, connection: int, peer: str) -> None:
        super().__init__(connection, peer)
        self.kept: dict[Side, list[bytes | memoryview]] = {Side.DOWNSTREAM: [], Side.UPSTREAM: []}

    def feed(self, side: Side, data: bytes | memoryview) -> None:  # type: ignore[override]
        self.kept[side].append(data)
        super().feed(side, data)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def relaying(
    listen: str = "127.0.0.1:0", watch_type: type[SpyWatch] = SpyWatch
) -> AsyncIterator[tuple[Peer, relay.Relay, list[SpyWatch], str]]:
    peer = Peer()
    await peer.start()
    watches: list[SpyWatch] = []

    def make_watch(connection: int, name: str) -> Any:
        watches.append(watch_type(connection, name))
        return watches[-1]

    proxy = relay.Relay(relay.Upstream(addresses.parse(f"127.0.0.1:{peer.port}")), make_watch, sink_mod.Ids())
    bound = (await proxy.start([addresses.parse(listen)]))[0]
    try:
        yield peer, proxy, watches, bound
    finally:
        await proxy.stop()
        assert peer.server is not None
        peer.server.close()


async def _connect(bound: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = addresses.parse(bound)
    if address.is_unix:
        return await asyncio.open_unix_connection(address.unix_path)
    return await asyncio.open_connection(address.host, address.port)


async def _echoed_to_a_slow_reader(bound: str, payload: bytes, piece: int, read_size: int) -> bytes:
    """Send payload in pieces to the echoing peer through the relay, then half-close; read the echo back
    slowly (a pause every 4 MB), so the relay must hold back rather than drop."""
    reader, writer = await _connect(bound)

    async def send() -> None:
        for i in range(0, len(payload), piece):
            writer.write(payload[i : i + piece])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.get_running_loop().create_task(send())
    received = bytearray()
    while chunk := await reader.read(read_size):
        received += chunk
        if len(received) % (4 << 20) < read_size:
            await asyncio.sleep(0.01)
    await sender
    writer.close()
    return bytes(received)


def test_bytes_pass_unchanged_both_ways_and_the_watcher_sees_the_same() -> None:
    async def scenario() -> None:
        async with relaying() as (_, _, watches, bound):
            payload = os.urandom(20 << 20)
            received = await _echoed_to_a_slow_reader(bound, payload, 1 << 20, 1 << 16)
            assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
            digest = hashlib.sha256(payload).digest()
            assert watches[0].seen[Side.DOWNSTREAM].digest() == digest
            assert watches[0].seen[Side.UPSTREAM].digest() == digest

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_a_read_buffer_given_away_is_never_read_into_while_anyone_holds_it(loop_factory: Any) -> None:
    """A watcher keeps views of big reads (HTTP/2 DATA until the message ends); a slow peer makes the
    transport keep them too. Every byte kept must still be the byte that passed."""

    async def scenario() -> None:
        async with relaying(watch_type=KeepingWatch) as (_, _, watches, bound):
            payload = os.urandom(24 << 20)
            # The slow reader makes writes back up in the relay's transport, which then keeps views.
            assert await _echoed_to_a_slow_reader(bound, payload, 4 << 20, 1 << 20) == payload
            watch = watches[0]
            assert isinstance(watch, KeepingWatch)
            for side in Side:
                assert b"".join(watch.kept[side]) == payload
            views = [c for side in Side for c in watch.kept[side] if isinstance(c, memoryview)]
            assert views, "no read filled half a buffer: the hand-over path was not exercised"

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(scenario())


class _Receiving:
    """A link as an _End sees it: takes what was read."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []

    def received(self, side: Side, data: bytes | memoryview) -> None:
        self.chunks.append(data)


def test_big_reads_give_their_buffer_away_small_ones_are_copied_and_the_buffer_comes_back_when_free() -> None:
    class OneRelay:
        buffers = relay.ReadBuffers()

    end = relay._End(OneRelay(), Side.UPSTREAM, "test")  # type: ignore[arg-type]
    link = _Receiving()
    end.link = link  # type: ignore[assignment]

    def read(data: bytes) -> int:
        """One read as an event loop makes it; the id of the buffer it went into."""
        buffer = end.get_buffer(-1)
        buffer[: len(data)] = data
        read_into = id(buffer.obj)
        buffer.release()  # as the loop does once the read is done
        end.buffer_updated(len(data))
        return read_into

    first = read(b"s" * 1000)  # small: copied out, the buffer is free again at once
    assert type(link.chunks[-1]) is bytes and link.chunks[-1] == b"s" * 1000
    assert end._buffer is None  # an idle socket holds no buffer
    big = b"B" * (relay.READ_BUFFER_BYTES // 2)
    assert read(big) == first  # the same buffer, read into again
    held = link.chunks[-1]
    assert isinstance(held, memoryview) and id(held.obj) == first  # given away with the view
    third = read(b"C" * relay.READ_BUFFER_BYTES)
    assert third != first and held == big  # another buffer while the view is held
    link.chunks.clear()
    del held
    assert read(b"D" * relay.READ_BUFFER_BYTES) in {first, third}  # nothing holds them: read into again


def test_the_buffer_pool_hands_back_only_buffers_nobody_holds_and_keeps_a_bounded_few() -> None:
    pool = relay.ReadBuffers(size=16, keep=2)
    a, b, c = pool.take(), pool.take(), pool.take()
    assert len({id(a), id(b), id(c)}) == 3 and len(a) == 16
    view_of_a = memoryview(a)[:4]
    pool.give(a)
    pool.give(b)
    pool.give(c)  # keeps the last two: b and c
    ids = {id(b), id(c)}
    del a, b, c
    again = pool.take(), pool.take()
    assert {id(x) for x in again} == ids
    assert id(pool.take()) not in ids and view_of_a.obj is not None  # a was dropped, never handed out again


def test_a_half_close_passes_on_and_the_answer_still_comes_back() -> None:
    async def scenario() -> None:
        async with relaying() as (peer, _, watches, bound):

            async def answer_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                request = await reader.read()  # until Envoy's half-close arrives
                writer.write(b"got " + request)
                await writer.drain()
                writer.close()

            peer.handler = answer_after_eof
            reader, writer = await _connect(bound)
            writer.write(b"poll")
            writer.write_eof()
            assert await reader.read() == b"got poll"
            writer.close()
            await processes.until(lambda: watches[0].ended)
            assert watches[0].finished == [(model.CloseCause.DOWNSTREAM, "Envoy closed the connection")]
            assert watches[0].ended[0][0] == model.CloseCause.DOWNSTREAM  # Envoy stopped first

    asyncio.run(scenario())


def test_the_control_plane_closing_ends_envoys_connection_and_is_named() -> None:
    async def scenario() -> None:
        async with relaying() as (peer, _, watches, bound):

            async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await reader.read(1)
                writer.write(b"bye")
                writer.close()

            peer.handler = hang_up
            reader, writer = await _connect(bound)
            writer.write(b"x")
            assert await asyncio.wait_for(reader.read(), 10) == b"bye"  # the end reached Envoy
            writer.close()  # and Envoy closes its side, as it does
            await processes.until(lambda: watches[0].ended)
            assert watches[0].ended == [
                (model.CloseCause.UPSTREAM, "the control plane closed the connection")
            ]

    asyncio.run(scenario())


def test_envoy_going_away_closes_the_upstream_connection() -> None:
    async def scenario() -> None:
        gone = asyncio.Event()
        async with relaying() as (peer, _, watches, bound):

            async def wait_for_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await reader.read()
                gone.set()
                writer.close()

            peer.handler = wait_for_eof
            _, writer = await _connect(bound)
            writer.write(b"hello")
            await writer.drain()
            writer.transport.abort()
            await asyncio.wait_for(gone.wait(), 10)
            await processes.until(lambda: watches[0].ended)
            assert watches[0].ended[0][0] == model.CloseCause.DOWNSTREAM

    asyncio.run(scenario())


def test_each_connection_is_its_own_with_its_own_id_and_peer_name() -> None:
    async def scenario() -> None:
        async with relaying() as (_, _, watches, bound):
            pairs = [await _connect(bound) for _ in range(3)]
            for i, (reader, writer) in enumerate(pairs):
                writer.write(b"%d" % i)
                assert await reader.read(1) == b"%d" % i
            assert [w.connection for w in watches] == [1, 2, 3]
            assert all(w.peer.startswith("ipv4:127.0.0.1:") for w in watches)
            for _, writer in pairs:
                writer.close()

    asyncio.run(scenario())


def test_an_unreachable_control_plane_is_answered_for_and_the_next_connection_tries_again() -> None:
    async def scenario() -> None:
        port = processes.free_port()
        watches: list[SpyWatch] = []

        def make_watch(connection: int, name: str) -> Any:
            watches.append(SpyWatch(connection, name))
            return watches[-1]

        proxy = relay.Relay(relay.Upstream(addresses.parse(f"127.0.0.1:{port}")), make_watch, sink_mod.Ids())
        bound = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
        reader, writer = await _connect(bound)
        writer.write(b"POST /v3/discovery:clusters HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
        answer = await asyncio.wait_for(reader.read(), 10)  # answered, then closed
        assert answer.startswith(b"HTTP/1.1 503 ") and b"unreachable: Connection refused" in answer
        assert "unreachable: Connection refused" in watches[0].unreachable
        await processes.until(lambda: watches[0].ended)
        assert watches[0].ended[0][0] == model.CloseCause.UPSTREAM_UNAVAILABLE
        writer.close()
        peer = Peer()
        peer.port = port
        await peer.start()  # the control plane comes up
        reader, writer = await _connect(bound)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.read(4), 10) == b"ping"
        writer.close()
        await proxy.stop()
        assert peer.server is not None
        peer.server.close()

    asyncio.run(scenario())


def test_stopping_closes_every_connection_as_a_shutdown() -> None:
    async def scenario() -> None:
        async with relaying() as (_, proxy, watches, bound):
            reader, writer = await _connect(bound)
            writer.write(b"x")
            assert await reader.read(1) == b"x"
            await proxy.stop()
            assert await asyncio.wait_for(reader.read(), 10) == b""
            assert watches[0].ended == [(model.CloseCause.PROXY_SHUTDOWN, "xdsspy is shutting down")]
            writer.close()

    asyncio.run(scenario())


def test_a_unix_socket_listener_is_private_and_replaces_a_stale_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "xds.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # left behind by an earlier run: nobody listens
    stale.close()

    async def scenario() -> None:
        async with relaying(f"unix:{path}") as (_, _, watches, bound):
            assert bound == f"unix:{path}"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            reader, writer = await _connect(bound)
            writer.write(b"uds")
            assert await reader.read(3) == b"uds"
            assert watches[0].peer == f"unix:{path}"
            writer.close()

    asyncio.run(scenario())


def test_a_unix_socket_someone_listens_on_is_not_taken_over(tmp_path: Any) -> None:
    path = str(tmp_path / "busy.sock")

    async def scenario() -> None:
        other = await asyncio.start_unix_server(lambda r, w: None, path)
        proxy = relay.Relay(relay.Upstream(addresses.parse("127.0.0.1:1")), lambda c, p: Any, sink_mod.Ids())
        with pytest.raises(OSError, match="already listening"):
            await proxy.start([addresses.parse(f"unix:{path}")])
        other.close()

    asyncio.run(scenario())


def test_a_buffer_someone_still_holds_a_view_of_is_not_handed_out() -> None:
    pool = relay.ReadBuffers(size=16, keep=4)
    buffer = pool.take()
    held = memoryview(buffer)[:1]
    pool.give(buffer)
    given = id(buffer)
    del buffer
    fresh = pool.take()
    assert fresh is not held.obj
    del held
    assert id(pool.take()) == given
