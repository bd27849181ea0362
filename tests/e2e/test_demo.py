"""`xdsspy demo --headless --duration 20`, as a user runs it: pushes, ACKs and a NACK, seen by Envoy too.

Envoy's side is read while the demo runs (its admin port is printed on stderr): its /config_dump holds the
demo's clusters, and its stats count the rejected update. After the demo ends, the recording holds pushes,
ACKs and at least one NACK, and no process it started is left.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import threading
import time
import urllib.request

import pytest

from xdsspy.record import reader
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.testing import processes

pytestmark = pytest.mark.e2e
V = protocol.VerdictKind


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by a parent that is gone) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


@pytest.mark.parametrize("api", ["sotw", "delta", "rest"])
def test_the_demo_shows_pushes_acks_and_a_nack_and_leaves_nothing_behind(
    api: str, tmp_path: pathlib.Path
) -> None:
    record = tmp_path / "demo.xdsspy"
    flags = {"sotw": [], "delta": ["--delta"], "rest": ["--rest"]}[api]
    demo = subprocess.Popen(
        processes.xdsspy_command("demo", "--headless", "--duration", "20", "--record", str(record), *flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader_thread = threading.Thread(target=lambda: lines.extend(demo.stderr), daemon=True)  # type: ignore[arg-type]
    reader_thread.start()
    seen: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 60
        while demo.poll() is None and time.monotonic() < deadline:
            text = "".join(lines)
            admin = re.search(
                r"Envoy (\d+) \(\w+\) connected through xdsspy; admin on 127\.0\.0\.1:(\d+)", text
            )
            if admin:
                seen["envoy_pid"], port = int(admin.group(1)), int(admin.group(2))
                try:
                    dump = json.loads(_get(port, "/config_dump"))
                    stats = _get(port, "/stats?filter=cluster_manager.cds.update_rejected")
                except OSError:
                    dump, stats = {}, ""
                if "outbound|9080||details.default.svc.cluster.local" in json.dumps(dump):
                    seen["clusters_in_dump"] = True
                rejected = re.search(r"update_rejected: (\d+)", stats)
                if rejected and int(rejected.group(1)) >= 1:
                    seen["envoy_rejected"] = True
            time.sleep(0.5)
        out, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            processes.stop(demo)  # type: ignore[arg-type]
    reader_thread.join(timeout=5)
    err = "".join(lines)
    assert demo.returncode == 0, err
    assert "Traceback" not in err
    assert f"the recording is {record}" in err
    assert seen.get("clusters_in_dump"), "Envoy's /config_dump never held the demo's clusters"
    assert seen.get("envoy_rejected"), "Envoy's stats never counted a rejected CDS update"
    kinds: dict[V, int] = {}
    capture_pid = 0
    track = tracker.Tracker(keep_bodies=False, fold=False)
    for event in reader.iter_events(record):
        capture_pid = getattr(event, "pid", 0) or capture_pid
        step, _ = track.apply(event)
        if step.verdict is not None:
            kinds[step.verdict.kind] = kinds.get(step.verdict.kind, 0) + 1
    assert kinds.get(V.PUSH, 0) >= 5 and kinds.get(V.ACK, 0) >= 5 and kinds.get(V.NACK, 0) >= 1, kinds
    assert " NACK " in out  # the headless timeline showed it
    for pid in (capture_pid, seen["envoy_pid"]):
        assert isinstance(pid, int) and pid > 0 and not _alive(pid), f"process {pid} left behind"
