"""The benchmark's lean REST poller reads whole answers, and says so when it gets none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable

import pytest
import uvloop
from aiohttp import web

from xdsspy.testing import rest_peers
from xdsspy.testing import rest_poller

CDS = "/v3/discovery:clusters"
REQUEST = rest_poller.request(CDS, b'{"version_info":""}')


async def _with_control_plane(body_size: int, use: Callable[[int], Awaitable[None]]) -> None:
    runner = web.AppRunner(rest_peers.app(body_size), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await use(port)
    finally:
        await runner.cleanup()


LOOPS = pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)


@LOOPS
def test_polls_one_keep_alive_connection_and_counts_every_body_byte(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    async def use(port: int) -> None:
        poller = await rest_poller.connect(port, REQUEST)
        try:
            for _ in range(3):
                assert await poller.poll() == (200, 3_000_000)
        finally:
            poller.close()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_with_control_plane(3_000_000, use))


def test_a_304_has_no_body() -> None:
    up_to_date = rest_poller.request(CDS, b"{}").replace(
        b"\r\n\r\n", b"\r\nx-bench-version: current\r\n\r\n", 1
    )

    async def use(port: int) -> None:
        poller = await rest_poller.connect(port, up_to_date)
        try:
            assert await poller.poll() == (304, 0)
            assert await poller.poll() == (304, 0)
        finally:
            poller.close()

    asyncio.run(_with_control_plane(1000, use))


async def _against(answer: bytes, close: bool) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()
        else:
            await asyncio.sleep(5)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        poller = await rest_poller.connect(port, REQUEST)
        try:
            await asyncio.wait_for(poller.poll(), 5)
        finally:
            poller.close()


def test_an_answer_cut_short_is_an_error_not_a_short_count() -> None:
    cut = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 40
    with pytest.raises(rest_poller.PollError, match="closed during a poll"):
        asyncio.run(_against(cut, close=True))


@pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_garbage_is_an_error(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    with pytest.raises(rest_poller.PollError, match=r"not an HTTP/1\.1 response"):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_against(b"SSH-2.0-OpenSSH\r\n\r\n", close=False))
