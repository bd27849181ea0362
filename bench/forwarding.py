"""Forwarding benchmark: throughput and added latency through xdsspy versus direct, side by side.

Run: python bench/forwarding.py [--rounds N]

Three processes on loopback: a raw-bytes gRPC server (bench/_peers.py), the
xdsspy capture process (`xdsspy record`, recording on or off), and this
client. Each round measures direct and proxied runs back to back, so both see
the same machine load; the medians and their ratios are printed against the
targets of issue 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from xdsspy.testing import raw_peers as _peers

SIZES = {"1KB": 1_000, "100KB": 100_000, "10MB": 10_000_000}
BYTES_PER_RUN = {"1KB": 20_000_000, "100KB": 200_000_000, "10MB": 400_000_000}
TARGETS = {"10MB": 0.6, "100KB": 0.5}
LATENCY_TARGET_MS = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"port {port} did not open within {timeout}s")


@contextlib.contextmanager
def process(cmd: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--sizes", default=",".join(SIZES), help="subset of " + ",".join(SIZES))
    parser.add_argument("--xdsspy-arg", action="append", default=[], help="extra argument for xdsspy record")
    args = parser.parse_args()
    for label in list(SIZES):
        if label not in args.sizes.split(","):
            del SIZES[label]

    upstream_port, plain_port, recording_port = free_port(), free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="xdsspy-bench-")
    record_path = os.path.join(tmp, "bench.xdsspy")
    xdsspy = [
        sys.executable,
        "-m",
        "xdsspy",
        "record",
        "--upstream",
        f"127.0.0.1:{upstream_port}",
        *args.xdsspy_arg,
    ]
    with (
        process([sys.executable, "-m", "xdsspy.testing.raw_peers", str(upstream_port)], upstream_port),
        process([*xdsspy, "--listen", f"127.0.0.1:{plain_port}"], plain_port),
        process(
            [*xdsspy, "--listen", f"127.0.0.1:{recording_port}", "--record", record_path], recording_port
        ),
    ):
        targets = {
            "direct": f"127.0.0.1:{upstream_port}",
            "xdsspy": f"127.0.0.1:{plain_port}",
            "xdsspy+record": f"127.0.0.1:{recording_port}",
        }
        results = asyncio.run(measure(targets, args.rounds, args.latency_samples))
    size_on_disk = os.path.getsize(record_path)
    report(results, size_on_disk)
    with contextlib.suppress(OSError):
        os.remove(record_path)
        os.rmdir(tmp)
    return 0


async def measure(
    targets: dict[str, str], rounds: int, latency_samples: int
) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    for name in targets:
        await _peers.throughput(targets[name], 2, 1000)  # warm up channels and code paths
    for label, size in SIZES.items():
        count = max(1, BYTES_PER_RUN[label] // size)
        for _ in range(rounds):
            for name, target in targets.items():
                rate = await _peers.throughput(target, count, size)
                results.setdefault(f"throughput {label}", {}).setdefault(name, []).append(rate)
    for _ in range(rounds):
        for name, target in targets.items():
            samples = await _peers.round_trips(target, latency_samples // rounds, 1000)
            results.setdefault("latency 1KB", {}).setdefault(name, []).extend(samples)
    return results


def report(results: dict[str, dict[str, list[float]]], size_on_disk: int) -> None:
    print("xdsspy forwarding benchmark (medians; ratios measured side by side in this run)")
    print(f"{'':18} {'direct':>12} {'xdsspy':>12} {'+record':>12} {'ratio':>7} {'ratio+rec':>9} target")
    for label in SIZES:
        r = results[f"throughput {label}"]
        d, p, rec = (statistics.median(r[n]) for n in ("direct", "xdsspy", "xdsspy+record"))
        target = TARGETS.get(label)
        verdict = "" if target is None else f">= {target}x rec: {'PASS' if rec / d >= target else 'FAIL'}"
        print(
            f"throughput {label:7} {d / 1e6:9.1f}MB/s {p / 1e6:9.1f}MB/s {rec / 1e6:9.1f}MB/s"
            f" {p / d:6.2f}x {rec / d:8.2f}x  {verdict}"
        )
    lat = results["latency 1KB"]
    d50, p50, r50 = (statistics.median(lat[n]) * 1e3 for n in ("direct", "xdsspy", "xdsspy+record"))
    added = r50 - d50
    print(
        f"p50 round trip 1KB {d50:9.3f}ms   {p50:9.3f}ms   {r50:9.3f}ms"
        f"  added {p50 - d50:.3f}ms / rec {added:.3f}ms  (<= {LATENCY_TARGET_MS}ms: "
        f"{'PASS' if added <= LATENCY_TARGET_MS else 'FAIL'})"
    )
    print(f"recording size on disk after the run: {size_on_disk / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
