"""A stand-in REST control plane for tests and benchmarks, and a bare TCP relay to compare xdsspy with.

`python -m xdsspy.testing.rest_peers serve PORT BYTES [new-answers]` answers
every POST with BYTES of xDS-like text (raw_peers.payload: it compresses as
real configuration does, so recording costs what it would) over HTTP/1.1:
the same answer each time, or with new-answers a different one each time; or
304 Not Modified when the request carries `x-bench-version: current`, as a
control plane answers a client that is up to date. It is aiohttp's server
(C-accelerated parsing), so the direct baseline xdsspy is measured against is
a fast one.

`python -m xdsspy.testing.rest_peers relay PORT UPSTREAM_PORT` copies bytes
between each connection and the upstream with asyncio streams and nothing
else: no HTTP, no recording. It is what a naive Python proxy costs on the
machine at hand, printed beside xdsspy's figures so they can be read fairly
(xdsspy's own relay, on protocols and uvloop, is faster).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys

from aiohttp import web

from xdsspy.testing import raw_peers


def app(body_size: int, new_answers: bool = False) -> web.Application:
    """Every poll gets the same answer (a control plane without 304, or Envoy re-polling a version it
    rejected), or with new_answers a different one each time (a new version at every poll)."""
    polls = itertools.count()

    async def poll(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.headers.get("x-bench-version") == "current":
            return web.Response(status=304)
        body = raw_peers.payload(body_size, next(polls) if new_answers else 0)
        return web.Response(body=body, content_type="application/json")

    application = web.Application(client_max_size=1 << 30)
    application.router.add_post("/{path:.*}", poll)
    return application


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def serve(port: int, body_size: int, new_answers: bool = False) -> None:
    runner = web.AppRunner(app(body_size, new_answers), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await _until_signalled()
    await runner.cleanup()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def relay(port: int, upstream_port: int) -> None:
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        with contextlib.suppress(OSError):
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(connection, "127.0.0.1", port)
    async with server:
        await _until_signalled()


if __name__ == "__main__":
    mode, first, second = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    new = sys.argv[4:] == ["new-answers"]
    asyncio.run(serve(first, second, new) if mode == "serve" else relay(first, second))
