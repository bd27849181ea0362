"""The capture process (`xdsspy record`) with the REST proxy alone and beside the gRPC one, one recording."""

from __future__ import annotations

import asyncio
import pathlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from xdsspy import model
from xdsspy.record import reader
from xdsspy.testing import processes
from xdsspy.testing import raw_peers

BODY_BYTES = 50_000


@pytest.fixture
def rest_upstream() -> Iterator[int]:
    port = processes.free_port()
    command = [sys.executable, "-m", "xdsspy.testing.rest_peers", "serve", str(port), str(BODY_BYTES)]
    with processes.started(command, port):
        yield port


@pytest.fixture
def grpc_upstream() -> Iterator[int]:
    port = processes.free_port()
    with processes.started([sys.executable, "-m", "xdsspy.testing.raw_peers", str(port)], port):
        yield port


async def _poll(port: int, *, current: bool = False) -> tuple[int, bytes]:
    headers = {"content-type": "application/json", **({"x-bench-version": "current"} if current else {})}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/v3/discovery:clusters", data=b'{"node":{"id":"n1"}}', headers=headers
        ) as response,
    ):
        return response.status, await response.read()


def _record(path: pathlib.Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        processes.xdsspy_command("record", "--record", str(path), *args), stderr=subprocess.PIPE
    )


def _events(path: pathlib.Path) -> list[model.Event]:
    with reader.RecordingReader(path) as r:
        return list(r.events())


def test_rest_alone_records_each_poll_with_its_exact_bytes(
    rest_upstream: int, tmp_path: pathlib.Path
) -> None:
    listen = processes.free_port()
    path = tmp_path / "rest.xdsspy"
    capture = _record(
        path, "--rest-listen", f"127.0.0.1:{listen}", "--rest-upstream", f"http://127.0.0.1:{rest_upstream}"
    )
    try:
        processes.wait_for_port(listen, capture)
        status, body = asyncio.run(_poll(listen))
        assert status == 200 and len(body) == BODY_BYTES
        assert asyncio.run(_poll(listen, current=True)) == (304, b"")
    finally:
        assert processes.stop(capture, signal.SIGINT) == 0
    events = _events(path)
    started = next(e for e in events if isinstance(e, model.CaptureStarted))
    assert started.listen == (f"http://127.0.0.1:{listen}",)
    assert started.upstream == f"http://127.0.0.1:{rest_upstream}"
    responses = [
        e.raw for e in events if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    ]
    assert responses == [body, b""]
    statuses = [e.http_status for e in events if isinstance(e, model.ResponseHeadersSeen)]
    assert statuses == [200, 304]
    closes = [e for e in events if isinstance(e, model.StreamClosed)]
    assert [c.details for c in closes] == ["HTTP 200", "HTTP 304"]
    assert isinstance(events[-1], model.CaptureStopped)


def test_grpc_and_rest_share_one_recording_and_one_id_space(
    rest_upstream: int, grpc_upstream: int, tmp_path: pathlib.Path
) -> None:
    grpc_listen, rest_listen = processes.free_port(), processes.free_port()
    path = tmp_path / "both.xdsspy"
    capture = _record(
        path,
        "--listen",
        f"127.0.0.1:{grpc_listen}",
        "--upstream",
        f"127.0.0.1:{grpc_upstream}",
        "--rest-listen",
        f"127.0.0.1:{rest_listen}",
        "--rest-upstream",
        f"http://127.0.0.1:{rest_upstream}",
    )
    try:
        processes.wait_for_port(grpc_listen, capture)
        processes.wait_for_port(rest_listen, capture)

        async def both() -> None:
            import grpc.aio

            async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_listen}", options=raw_peers.OPTIONS) as ch:
                assert await ch.unary_unary("/x.Y/Z")(b"hello") is not None
            assert (await _poll(rest_listen))[0] == 200

        asyncio.run(both())
    finally:
        assert processes.stop(capture, signal.SIGINT) == 0
    events = _events(path)
    started = next(e for e in events if isinstance(e, model.CaptureStarted))
    assert started.listen == (f"127.0.0.1:{grpc_listen}", f"http://127.0.0.1:{rest_listen}")
    assert started.upstream == f"127.0.0.1:{grpc_upstream}, http://127.0.0.1:{rest_upstream}"
    opened = [e for e in events if isinstance(e, model.StreamOpened)]
    assert [e.transport for e in opened] == [model.Transport.GRPC, model.Transport.REST]
    assert len({e.stream for e in opened}) == 2 and len({e.connection for e in opened}) == 2
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_busy_rest_port_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        capture = _record(
            tmp_path / "x.xdsspy",
            "--rest-listen",
            f"127.0.0.1:{port}",
            "--rest-upstream",
            "http://127.0.0.1:1",
        )
        _, err = capture.communicate(timeout=30)
    assert capture.returncode == 2
    assert b"cannot listen on 127.0.0.1:" in err and b"Traceback" not in err
