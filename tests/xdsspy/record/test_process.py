"""The recorder process: fed without blocking, survives its feeder, and never fails silently."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import stat

import pytest

from xdsspy import errors
from xdsspy import model
from xdsspy.record import process
from xdsspy.record import reader
from xdsspy.testing import factories as f


def _read(path: pathlib.Path) -> tuple[list[model.Event], list[reader.Problem]]:
    with reader.RecordingReader(path) as r:
        return list(r.events()), r.problems


def test_everything_published_is_written_in_order(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.xdsspy"
    payloads = [os.urandom(n) for n in (0, 10, 100_000, 3_000_000)]

    async def scenario() -> int:
        recorder = await process.RecorderProcess.start(str(path))
        recorder.publish(f.topen(seq=1))
        for i, p in enumerate(payloads):
            recorder.publish(f.tmessage(p, seq=2 + i))
        recorder.publish(f.tstop(seq=9))
        return await recorder.close()

    assert asyncio.run(scenario()) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    events, problems = _read(path)
    assert problems == []
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 9]
    assert [e.raw for e in events if isinstance(e, model.MessageSeen)] == payloads
    stop = events[-1]
    assert isinstance(stop, model.CaptureStopped) and stop.records_written == 6 and stop.records_lost == 0


def test_cannot_create_file_is_reported_at_start(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        await process.RecorderProcess.start(str(tmp_path / "missing" / "dir" / "r.xdsspy"))

    with pytest.raises(errors.RecordingWriteError, match="cannot create recording"):
        asyncio.run(scenario())


def test_full_buffer_drops_without_blocking_and_leaves_a_gap(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.xdsspy"
    said: list[str] = []

    async def scenario() -> int:
        recorder = await process.RecorderProcess.start(
            str(path), max_pending_bytes=20 << 20, on_problem=said.append
        )
        big = os.urandom(4 << 20)
        # Published in one go with no chance for the loop to flush: the buffer must overflow.
        for seq in range(1, 41):
            recorder.publish(f.tmessage(big, seq=seq))
        await asyncio.sleep(0.5)
        recorder.publish(f.tmessage(b"after", seq=41))
        recorder.publish(f.tstop(seq=42))
        return await recorder.close()

    assert asyncio.run(scenario()) == 3
    assert any("DROPPED" in s for s in said)
    events, problems = _read(path)
    assert problems == []
    gaps = [e for e in events if isinstance(e, model.Gap)]
    assert gaps
    written = {e.seq for e in events if isinstance(e, model.MessageSeen)}
    assert len(written) + sum(g.records_lost for g in gaps) == 41, "every message is written or counted lost"
    lost_ranges = {seq for g in gaps for seq in range(g.first_seq, g.last_seq + 1)}
    assert set(range(1, 42)) - written <= lost_ranges, "every missing seq lies in a gap's range"


def test_recorder_killed_is_loud_and_publishing_goes_on(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.xdsspy"
    said: list[str] = []

    async def scenario() -> int:
        recorder = await process.RecorderProcess.start(str(path), on_problem=said.append)
        recorder.publish(f.tmessage(b"kept", seq=1))
        await asyncio.sleep(0.3)
        os.kill(recorder._child.pid, signal.SIGKILL)  # the process we started
        for _ in range(100):
            if said:
                break
            recorder.publish(f.tmessage(b"x" * 1000, seq=2))
            await asyncio.sleep(0.02)
        for seq in range(3, 10):
            recorder.publish(f.tmessage(b"lost", seq=seq))  # must not raise
        return await recorder.close()

    code = asyncio.run(scenario())
    assert code != 0
    assert any("recorder process went away" in s for s in said)
    events, _ = _read(path)
    assert [e.seq for e in events][:1] == [1]


def test_feeder_killed_the_recorder_still_finishes_the_file(tmp_path: pathlib.Path) -> None:
    """kill -9 of the capture process: whatever reached the recorder is on disk, cleanly ended."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "r.xdsspy"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from xdsspy.record import process
        from xdsspy.testing import factories as f
        async def main():
            r = await process.RecorderProcess.start({str(path)!r})
            for seq in range(1, 101):
                r.publish(f.tmessage(bytes([seq]) * 50_000, seq=seq))
            await asyncio.sleep(0.5)
            print(r._child.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
        """
    )
    feeder = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert feeder.returncode == -signal.SIGKILL
    child = int(feeder.stdout.split()[0])
    for _ in range(200):  # the orphaned recorder sees EOF, writes, and exits
        if not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().split()[2] == "Z":
            break
        asyncio.run(asyncio.sleep(0.05))
    events, problems = _read(path)
    assert problems == []
    assert [e.seq for e in events] == list(range(1, 101))
