"""The command line as a user runs it: separate processes, real signals, real files."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import time

import pytest

from xdsspy import model
from xdsspy.record import reader
from xdsspy.testing import processes
from xdsspy.testing import raw_peers


@pytest.fixture
def upstream() -> object:
    port = processes.free_port()
    with processes.started([sys.executable, "-m", "xdsspy.testing.raw_peers", str(port)], port):
        yield port


@pytest.mark.parametrize("victims", ["capture", "capture-and-recorder"])
def test_kill_9_mid_push_keeps_every_completed_record(
    upstream: int, tmp_path: pathlib.Path, victims: str
) -> None:
    """kill -9 of xdsspy mid-push: every completed record reads back, a torn tail is named, no traceback.

    Killing only the capture process leaves the recorder process to finish the
    file; killing both (the whole process group we started) can tear the last block.
    """
    listen = processes.free_port()
    path = tmp_path / "crash.xdsspy"
    capture = subprocess.Popen(
        processes.xdsspy_command(
            "record",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--record",
            str(path),
        ),
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def kill() -> None:
        if victims == "capture":
            os.kill(capture.pid, signal.SIGKILL)
        else:
            os.killpg(capture.pid, signal.SIGKILL)  # our own new session: capture + recorder

    try:
        processes.wait_for_port(listen, capture)

        async def push_until_killed() -> int:
            received = 0
            try:
                async with raw_peers_channel(listen) as channel:
                    call = channel.stream_stream("/bench.Bench/Push")()
                    await call.write(b"100000,300000")  # far more than arrives before the kill
                    await call.done_writing()
                    async for _ in call:
                        received += 1
                        if received == 200:
                            kill()
            except Exception:
                pass
            return received

        received = asyncio.run(push_until_killed())
        assert received >= 200
    finally:
        processes.stop(capture, signal.SIGKILL)
    if victims == "capture":
        _wait_for_recorder_to_finish(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with reader.RecordingReader(path) as r:
        events = list(r.events())
        problems = r.problems
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "every record before the kill reads back, in order"
    responses = [
        e for e in events if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    ]
    assert len(responses) >= 1
    for index, event in enumerate(responses):
        assert event.raw == raw_peers.payload(300000, index), f"response {index} is intact"
    assert all(p.kind == "truncated_tail" for p in problems), problems
    # The CLI reports the torn tail by offset, without a traceback.
    done = subprocess.run(processes.xdsspy_command("export", str(path)), capture_output=True, text=True)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) == len(events)
    for problem in problems:
        assert f"byte {problem.offset}" in done.stderr


def _wait_for_recorder_to_finish(path: pathlib.Path) -> None:
    """The orphaned recorder drains its socket and closes the file; wait until the size settles."""
    last = -1
    for _ in range(100):
        size = path.stat().st_size
        if size == last:
            return
        last = size
        time.sleep(0.2)


def raw_peers_channel(port: int):  # type: ignore[no-untyped-def]
    import grpc.aio

    return grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=raw_peers.OPTIONS)


def test_proxy_headless_prints_a_line_per_message_and_records(upstream: int, tmp_path: pathlib.Path) -> None:
    listen = processes.free_port()
    path = tmp_path / "live.xdsspy"
    proxy = subprocess.Popen(
        processes.xdsspy_command(
            "proxy",
            "--headless",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--record",
            str(path),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        processes.wait_for_port(listen, proxy)  # type: ignore[arg-type]

        import grpc.aio

        async def echo() -> None:
            async with raw_peers_channel(listen) as channel:
                call = channel.stream_stream(
                    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
                )()
                for size in (10, 20_000):
                    await call.write(b"q" * size)
                    await call.read()
                await call.done_writing()
                assert await call.read() is grpc.aio.EOF

        asyncio.run(echo())
        time.sleep(0.3)
    finally:
        processes.stop(proxy, signal.SIGINT)  # type: ignore[arg-type]
    out, err = proxy.communicate()
    assert proxy.returncode == 0, err
    lines = [line for line in out.splitlines() if "StreamAggregatedResources" in line]
    assert any("envoy -> cp" in line and "10 B" in line for line in lines), out
    assert any("cp -> envoy" in line and "20.0 kB" in line for line in lines), out
    assert any("close" in line and "OK" in line for line in lines), out
    assert "capture stopped" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_writes_the_documented_fields(upstream: int, tmp_path: pathlib.Path) -> None:
    listen = processes.free_port()
    path = tmp_path / "e.xdsspy"
    with processes.started(
        processes.xdsspy_command(
            "record",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--record",
            str(path),
        ),
        listen,
    ) as capture:

        async def one() -> None:
            async with raw_peers_channel(listen) as channel:
                await channel.unary_unary("/x.Y/Z")(
                    b"\x00hello", metadata=(("authorization", "Bearer s3cret"),)
                )

        asyncio.run(one())
        processes.stop(capture, signal.SIGINT)
    out = tmp_path / "e.jsonl"
    done = subprocess.run(
        processes.xdsspy_command("export", str(path), "--format", "jsonl", "-o", str(out)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert {"seq", "time", "connection", "stream", "event"} <= row.keys()
        assert row["time"].endswith("Z") and "T" in row["time"]
    by_event = {row["event"]: row for row in rows}
    assert by_event["open"]["method"] == "/x.Y/Z"
    assert ["authorization", "Bearer s3cret"] in by_event["open"]["metadata"]
    messages = [row for row in rows if row["event"] == "message"]
    assert [m["direction"] for m in messages] == ["request", "response"]
    import base64

    assert base64.b64decode(messages[0]["raw"]) == b"\x00hello"
    assert by_event["close"]["status"] == {"code": 0, "name": "OK", "details": ""}


def test_bad_files_get_one_clear_line_and_exit_2(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.xdsspy"
    bad.write_text("{not a recording}")
    done = subprocess.run(processes.xdsspy_command("export", str(bad)), capture_output=True, text=True)
    assert done.returncode == 2
    assert "not an xdsspy recording" in done.stderr and "Traceback" not in done.stderr


def test_bad_addresses_are_rejected_by_the_parser() -> None:
    done = subprocess.run(
        processes.xdsspy_command("record", "--listen", "::1:80", "--upstream", "127.0.0.1:1"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "brackets" in done.stderr
