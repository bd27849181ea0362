"""Forwarding benchmark: throughput and added latency through xdsspy versus direct, side by side.

Run: python bench/forwarding.py [--rounds N] [--parts grpc,rest] [--tls]

gRPC: three processes on loopback: a raw-bytes gRPC server
(xdsspy/testing/raw_peers.py), the xdsspy capture process (`xdsspy record`,
recording on or off), and this client. Each round measures direct and proxied
runs back to back, so both see the same machine load; the medians and their
ratios are printed against the targets of issue 2.

--tls (issue 14) adds, in the same rounds, a TLS server and xdsspy with TLS on
both legs (Envoy's side: --tls-cert; the control plane's: --upstream-tls, the
client verifying each; certificates from xdsspy/testing/tls_material.py), and
prints a second table: each plaintext figure beside its TLS one, their ratio,
and the capture process's CPU per GB forwarded either way.

REST (issue 4): Envoy-like polls (a 77 kB JSON request, a 1 MB answer) over
HTTP/1.1 to an aiohttp server (xdsspy/testing/rest_peers.py), direct and
through `xdsspy record --rest-listen ... --rest-upstream ...`: p50 latency of
one poll at a time, and polls per second with several pollers at once. The
client is a lean poller standing in for Envoy's C++ client, so that the
client's own CPU does not decide the ratio (xdsspy/testing/rest_poller.py).
Each comparison runs twice: pinned (client and control plane on CPU 0, xdsspy
on CPU 1: does xdsspy keep up with its peers when it has a core of its own, as
beside a real Envoy and a remote control plane) and shared (all three on every
CPU: what xdsspy's CPU costs a machine whose cores the peers already fill). A naive
asyncio-streams TCP relay (no HTTP, no recording) is measured beside them for
orientation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import uvloop

from xdsspy.testing import processes
from xdsspy.testing import procstat
from xdsspy.testing import raw_peers as _peers
from xdsspy.testing import rest_poller

SIZES = {"1KB": 1_000, "100KB": 100_000, "10MB": 10_000_000}
BYTES_PER_RUN = {"1KB": 20_000_000, "100KB": 200_000_000, "10MB": 400_000_000}
TARGETS = {"10MB": 0.6, "100KB": 0.5}
LATENCY_TARGET_MS = 0.5
REST_BODY_BYTES = 1_000_000
REST_LATENCY_TARGET_MS = 2.0
REST_THROUGHPUT_TARGET = 0.5


cpu_seconds = procstat.cpu_seconds


@contextlib.contextmanager
def process(cmd: list[str], port: int, cpus: set[int] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start cmd (on the given CPUs only, with every thread it will start), wait for its port, and stop
    it by its PID afterwards."""
    pin = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    with processes.started(
        cmd, port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin
    ) as proc:
        yield proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--sizes", default=",".join(SIZES), help="subset of " + ",".join(SIZES))
    parser.add_argument("--xdsspy-arg", action="append", default=[], help="extra argument for xdsspy record")
    parser.add_argument("--parts", default="grpc,rest", help="what to measure: grpc, rest or both")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="gRPC: also measure direct over TLS and xdsspy with TLS on both legs, beside plaintext",
    )
    parser.add_argument("--rest-latency-samples", type=int, default=600)
    parser.add_argument("--rest-pollers", type=int, default=4, help="pollers at once for polls per second")
    parser.add_argument("--rest-rounds", type=int, default=6, help="rounds of polls-per-second runs")
    parser.add_argument("--rest-seconds", type=float, default=1.0, help="length of one polls-per-second run")
    parser.add_argument(
        "--rest-placement",
        default="pinned,shared",
        help="pinned: the client and control plane on CPU 0, xdsspy (and the naive relay) on CPU 1, so"
        " they do not take each other's CPU; shared: all left to the scheduler; or both",
    )
    parser.add_argument(
        "--rest-answers",
        default="same,new",
        help="same: one answer to every poll (a control plane without 304, or a rejected version polled"
        " again); new: a different answer each time; or both",
    )
    args = parser.parse_args()
    for label in list(SIZES):
        if label not in args.sizes.split(","):
            del SIZES[label]
    parts = args.parts.split(",")
    if "grpc" in parts:
        grpc_main(args)
    if "rest" in parts:
        rest_main(args)
    return 0


def grpc_main(args: argparse.Namespace) -> None:
    upstream_port, plain_port, recording_port = (
        processes.free_port(),
        processes.free_port(),
        processes.free_port(),
    )
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
        process([*xdsspy, "--listen", f"127.0.0.1:{plain_port}"], plain_port) as plain,
        process(
            [*xdsspy, "--listen", f"127.0.0.1:{recording_port}", "--record", record_path], recording_port
        ) as recording,
        contextlib.ExitStack() as more,
    ):
        targets = {
            "direct": f"127.0.0.1:{upstream_port}",
            "xdsspy": f"127.0.0.1:{plain_port}",
            "xdsspy+record": f"127.0.0.1:{recording_port}",
        }
        pids = {"xdsspy": plain.pid, "xdsspy+record": recording.pid}
        tls: dict[str, _peers.Tls] = {}
        if args.tls:
            tls = start_tls_targets(more, tmp, args.xdsspy_arg, targets, pids)
            # Each plaintext target and its TLS counterpart back to back, so a pair shares the moment's load.
            targets = {
                name: targets[name] for plain, tls_name in TLS_PAIRS.items() for name in (plain, tls_name)
            }
        results = asyncio.run(measure(targets, args.rounds, args.latency_samples, pids, tls))
    size_on_disk = os.path.getsize(record_path)
    report(results, size_on_disk)
    if args.tls:
        report_tls(results)
    shutil.rmtree(tmp, ignore_errors=True)


TLS_PAIRS = {"direct": "direct TLS", "xdsspy": "xdsspy TLS", "xdsspy+record": "xdsspy TLS+record"}
"""Each plaintext target and its TLS counterpart (--tls)."""
TLS_HEADS = {
    "direct": ("direct", "direct TLS"),
    "xdsspy": ("xdsspy", "xdsspy TLS"),
    "xdsspy+record": ("+record", "TLS+record"),
}
"""The column heads of each pair in the TLS table."""


def start_tls_targets(
    stack: contextlib.ExitStack,
    tmp: str,
    xdsspy_args: list[str],
    targets: dict[str, str],
    pids: dict[str, int],
) -> dict[str, _peers.Tls]:
    """Start the TLS server and xdsspy with TLS on both legs, add them to targets and pids, and return
    how the client verifies each TLS target."""
    from xdsspy.testing import tls_material  # needs `cryptography` (a test dependency): only --tls does

    plane = tls_material.issue(tmp, prefix="plane-")  # the control plane's certificate and CA
    spy = tls_material.issue(tmp, prefix="spy-")  # xdsspy's listener certificate and CA
    upstream_port, plain_port, recording_port = (processes.free_port() for _ in range(3))
    stack.enter_context(
        process(
            [sys.executable, "-m", "xdsspy.testing.raw_peers", str(upstream_port), plane.cert, plane.key],
            upstream_port,
        )
    )
    xdsspy = [
        *(sys.executable, "-m", "xdsspy", "record", "--upstream", f"127.0.0.1:{upstream_port}"),
        *("--upstream-tls", "--upstream-ca", plane.ca_cert, "--upstream-server-name", "localhost"),
        *("--tls-cert", spy.cert, "--tls-key", spy.key),
        *xdsspy_args,
    ]
    plain = stack.enter_context(process([*xdsspy, "--listen", f"127.0.0.1:{plain_port}"], plain_port))
    recording = stack.enter_context(
        process(
            [*xdsspy, "--listen", f"127.0.0.1:{recording_port}", "--record", os.path.join(tmp, "tls.xdsspy")],
            recording_port,
        )
    )
    targets["direct TLS"] = f"127.0.0.1:{upstream_port}"
    targets["xdsspy TLS"] = f"127.0.0.1:{plain_port}"
    targets["xdsspy TLS+record"] = f"127.0.0.1:{recording_port}"
    pids["xdsspy TLS"], pids["xdsspy TLS+record"] = plain.pid, recording.pid
    to_plane, to_spy = _peers.Tls.load(plane.ca_cert), _peers.Tls.load(spy.ca_cert)
    return {"direct TLS": to_plane, "xdsspy TLS": to_spy, "xdsspy TLS+record": to_spy}


async def measure(
    targets: dict[str, str],
    rounds: int,
    latency_samples: int,
    pids: dict[str, int],
    tls: dict[str, _peers.Tls] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Every target in turn, round after round; `tls` says how to verify the targets that speak TLS."""
    tls = tls or {}
    results: dict[str, dict[str, list[float]]] = {}
    for name in targets:
        await _peers.throughput(targets[name], 2, 1000, tls.get(name))  # warm up channels and code paths
    for label, size in SIZES.items():
        count = max(1, BYTES_PER_RUN[label] // size)
        for _ in range(rounds):
            for name, target in targets.items():
                before = cpu_seconds(pids.get(name))
                rate = await _peers.throughput(target, count, size, tls.get(name))
                results.setdefault(f"throughput {label}", {}).setdefault(name, []).append(rate)
                if name in pids:  # the capture process's CPU per MB it moved
                    per_mb = (cpu_seconds(pids[name]) - before) * 1e3 / (count * size / 1e6)
                    results.setdefault(f"cpu {label}", {}).setdefault(name, []).append(per_mb)
    for _ in range(rounds):
        for name, target in targets.items():
            samples = await _peers.round_trips(target, latency_samples // rounds, 1000, tls.get(name))
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
    cpu = ", ".join(
        f"{label} {statistics.median(results[f'cpu {label}']['xdsspy']):.2f}"
        f" / {statistics.median(results[f'cpu {label}']['xdsspy+record']):.2f}"
        for label in SIZES
    )
    print(f"capture process CPU, ms per MB moved (xdsspy / +record): {cpu}")
    lat = results["latency 1KB"]
    d50, p50, r50 = (statistics.median(lat[n]) * 1e3 for n in ("direct", "xdsspy", "xdsspy+record"))
    added = r50 - d50
    print(
        f"p50 round trip 1KB {d50:9.3f}ms   {p50:9.3f}ms   {r50:9.3f}ms"
        f"  added {p50 - d50:.3f}ms / rec {added:.3f}ms  (<= {LATENCY_TARGET_MS}ms: "
        f"{'PASS' if added <= LATENCY_TARGET_MS else 'FAIL'})"
    )
    print(f"recording size on disk after the run: {size_on_disk / 1e6:.1f} MB")


def report_tls(results: dict[str, dict[str, list[float]]]) -> None:
    """Each plaintext figure beside its TLS counterpart, measured in the same rounds, and their ratio."""

    def ratio(label: str, plain: str) -> float:
        """The median of each round's own TLS / plaintext ratio (the pair ran back to back)."""
        r = results[label]
        return statistics.median(t / p for t, p in zip(r[TLS_PAIRS[plain]], r[plain], strict=True))

    print("\nTLS on both legs (Envoy's side and the control plane's), beside plaintext, in the same rounds")
    print("(medians; TLS/plain: the median of each round's own ratio; latency: ratio of the p50s)")
    head = "".join(f" {plain:>11} {tls:>11} {'TLS/plain':>9}" for plain, tls in TLS_HEADS.values())
    print(f"{'':18}{head}")
    for label in SIZES:
        r = results[f"throughput {label}"]
        cells = "".join(
            f" {statistics.median(r[n]) / 1e6:7.1f}MB/s {statistics.median(r[TLS_PAIRS[n]]) / 1e6:7.1f}MB/s"
            f" {ratio(f'throughput {label}', n):8.2f}x"
            for n in TLS_PAIRS
        )
        print(f"throughput {label:7}{cells}")
    lat = results["latency 1KB"]
    cells = "".join(
        f" {statistics.median(lat[n]) * 1e3:9.3f}ms {statistics.median(lat[TLS_PAIRS[n]]) * 1e3:9.3f}ms"
        f" {statistics.median(lat[TLS_PAIRS[n]]) / statistics.median(lat[n]):8.2f}x"
        for n in TLS_PAIRS
    )
    print(f"p50 round trip 1KB{cells}")
    for label in SIZES:
        r = results[f"throughput {label}"]
        through = ", ".join(
            f"{n} {statistics.median(x / d for x, d in zip(r[n], r[direct], strict=True)):.2f}x"
            for direct, names in (
                ("direct", ("xdsspy", "xdsspy+record")),
                ("direct TLS", ("xdsspy TLS", "xdsspy TLS+record")),
            )
            for n in names
        )
        print(f"through xdsspy / direct (same transport), {label}: {through}")
    print("capture process CPU, s per GB forwarded (plaintext -> TLS, and TLS/plain):")
    for n in ("xdsspy", "xdsspy+record"):
        cells = []
        for label in SIZES:
            plain, tls = (statistics.median(results[f"cpu {label}"][m]) for m in (n, TLS_PAIRS[n]))
            cells.append(f"{label} {plain:.2f} -> {tls:.2f} ({tls / plain:.2f}x)")
        print(f"  {n:14} {', '.join(cells)}")


# -- REST -------------------------------------------------------------------------------------


def rest_request() -> bytes:
    """A poll's body the size of Envoy's: the node with its ~500 extensions is most of it (XDS-NOTES 1.4)."""
    extensions = ",".join(
        f'{{"name":"envoy.extension.number_{i}","category":"envoy.category_{i % 40}","type_urls":[]}}'
        for i in range(920)
    )
    return (
        '{"version_info":"","node":{"id":"bench-envoy","cluster":"bench","user_agent_name":"envoy",'
        f'"extensions":[{extensions}]}},"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}}'
    ).encode()


def rest_main(args: argparse.Namespace) -> None:
    for placement in args.rest_placement.split(","):
        if placement not in ("pinned", "shared"):
            raise SystemExit(f"--rest-placement: {placement!r} is neither pinned nor shared")
        if placement == "pinned" and not {0, 1} <= os.sched_getaffinity(0):
            print(
                "\nREST, pinned: skipped, it needs CPUs 0 and 1 (this process may use only"
                f" {sorted(os.sched_getaffinity(0))})"
            )
            continue
        for answers in args.rest_answers.split(","):
            if answers not in ("same", "new"):
                raise SystemExit(f"--rest-answers: {answers!r} is neither same nor new")
            rest_run(args, answers, placement)


def rest_run(args: argparse.Namespace, answers: str, placement: str) -> None:
    """One REST comparison: every poll answered the same ("same") or differently ("new"), with the
    processes pinned apart or sharing every CPU."""
    upstream_port, relay_port, plain_port, recording_port = (processes.free_port() for _ in range(4))
    serve = [str(upstream_port), str(REST_BODY_BYTES), *(["new-answers"] if answers == "new" else [])]
    tmp = tempfile.mkdtemp(prefix="xdsspy-bench-rest-")
    record_path = os.path.join(tmp, "bench.xdsspy")
    upstream = f"http://127.0.0.1:{upstream_port}"
    xdsspy = [sys.executable, "-m", "xdsspy", "record", "--rest-upstream", upstream, *args.xdsspy_arg]
    peers = [sys.executable, "-m", "xdsspy.testing.rest_peers"]
    peer_cpus, proxy_cpus = ({0}, {1}) if placement == "pinned" else (None, None)
    mine = os.sched_getaffinity(0)
    if peer_cpus is not None:
        os.sched_setaffinity(0, peer_cpus)  # the benchmark's client is a peer
    with (
        process([*peers, "serve", *serve], upstream_port, peer_cpus),
        process([*peers, "relay", str(relay_port), str(upstream_port)], relay_port, proxy_cpus),
        process([*xdsspy, "--rest-listen", f"127.0.0.1:{plain_port}"], plain_port, proxy_cpus) as plain,
        process(
            [*xdsspy, "--rest-listen", f"127.0.0.1:{recording_port}", "--record", record_path],
            recording_port,
            proxy_cpus,
        ) as recording,
    ):
        targets = {
            "direct": upstream_port,
            "xdsspy": plain_port,
            "xdsspy+record": recording_port,
            "tcp relay": relay_port,
        }
        pids = {"xdsspy": plain.pid, "xdsspy+record": recording.pid}
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the client is lean too
            results = runner.run(
                measure_rest(
                    targets,
                    args.rest_rounds,
                    args.rest_latency_samples,
                    args.rest_pollers,
                    args.rest_seconds,
                    pids,
                )
            )
    os.sched_setaffinity(0, mine)
    size_on_disk = os.path.getsize(record_path)
    report_rest(results, args.rest_pollers, size_on_disk, answers, placement)
    with contextlib.suppress(OSError):
        os.remove(record_path)
        os.rmdir(tmp)


async def measure_rest(
    targets: dict[str, int],
    rounds: int,
    latency_samples: int,
    pollers: int,
    seconds: float,
    pids: dict[str, int],
) -> dict[str, dict[str, list[float]]]:
    """Latency of one poll at a time, then polls per second with several pollers, per target, in rounds.

    The lean poller stands in for Envoy (xdsspy/testing/rest_poller.py says why)."""
    request = rest_poller.request("/v3/discovery:clusters", rest_request())
    results: dict[str, dict[str, list[float]]] = {"latency": {}, "rate": {}, "cpu": {}, "client cpu": {}}

    async def poll(one: rest_poller.Poller, name: str) -> None:
        if await one.poll() != (200, REST_BODY_BYTES):
            raise SystemExit(f"{name}: not a whole answer")

    async def latency(name: str, one: rest_poller.Poller, samples: int) -> None:
        for _ in range(samples):
            start = time.perf_counter()
            await poll(one, name)
            results["latency"].setdefault(name, []).append(time.perf_counter() - start)

    async def rate(name: str, port: int) -> None:
        several = [await rest_poller.connect(port, request) for _ in range(pollers)]
        done = 0
        deadline = time.perf_counter() + seconds

        async def poller(one: rest_poller.Poller) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await poll(one, name)
                done += 1

        start = time.perf_counter()
        before, client_before = cpu_seconds(pids.get(name)), time.process_time()
        try:
            await asyncio.gather(*(poller(one) for one in several))
        finally:
            for one in several:
                one.close()
        results["rate"].setdefault(name, []).append(done / (time.perf_counter() - start))
        client = (time.process_time() - client_before) * 1e3 / max(1, done)
        results["client cpu"].setdefault(name, []).append(client)
        if name in pids:  # the capture process's CPU per poll it relayed
            per_poll = (cpu_seconds(pids[name]) - before) * 1e3 / max(1, done)
            results["cpu"].setdefault(name, []).append(per_poll)

    single = {name: await rest_poller.connect(port, request) for name, port in targets.items()}
    try:
        for name, one in single.items():
            for _ in range(20):  # warm up connections and code paths
                await poll(one, name)
        for _ in range(rounds):
            for name, one in single.items():
                await latency(name, one, max(1, latency_samples // rounds))
            for name, port in targets.items():
                await rate(name, port)
    finally:
        for one in single.values():
            one.close()
    return results


def report_rest(
    results: dict[str, dict[str, list[float]]], pollers: int, size_on_disk: int, answers: str, placement: str
) -> None:
    names = ("direct", "xdsspy", "xdsspy+record", "tcp relay")
    kind = "the same answer to every poll" if answers == "same" else "a new answer to every poll"
    size = f"{len(rest_request()) / 1000:.0f} kB request, {REST_BODY_BYTES / 1e6:.0f} MB answer, {kind}"
    where = (
        "pinned: client and control plane on CPU 0, xdsspy and the naive relay on CPU 1"
        if placement == "pinned"
        else "shared: every process on every CPU, as the scheduler places them"
    )
    print(f"\nxdsspy REST polling benchmark, HTTP/1.1, {size} (medians; side by side in this run)")
    print(f"placement {where}")
    print(f"{'':22} {'direct':>10} {'xdsspy':>10} {'+record':>10} {'naive relay':>11}")
    d50, p50, r50, t50 = (statistics.median(results["latency"][n]) * 1e3 for n in names)

    def within(added: float) -> str:
        return "PASS" if added <= REST_LATENCY_TARGET_MS else "FAIL"

    print(
        f"{'p50 poll latency':22} {d50:8.3f}ms {p50:8.3f}ms {r50:8.3f}ms {t50:8.3f}ms"
        f"  added {p50 - d50:.3f}ms {within(p50 - d50)} / rec {r50 - d50:.3f}ms {within(r50 - d50)}"
        f" (<= {REST_LATENCY_TARGET_MS} ms); naive relay {t50 - d50:.3f}ms"
    )
    rates = results["rate"]
    d, p, r, t = (statistics.median(rates[n]) for n in names)
    # Each round measures the four back to back, so a round's ratios share the machine's state of the
    # moment; the median of those ratios is steadier than a ratio of medians when the machine drifts.
    pr, rr, tr = (
        statistics.median(x / y for x, y in zip(rates[n], rates["direct"], strict=True)) for n in names[1:]
    )

    def enough(ratio: float) -> str:
        return "PASS" if ratio >= REST_THROUGHPUT_TARGET else "FAIL"

    print(
        f"{f'polls/s, {pollers} pollers':22} {d:10.0f} {p:10.0f} {r:10.0f} {t:10.0f}"
        f"  ratio {pr:.2f}x {enough(pr)} / rec {rr:.2f}x {enough(rr)}"
        f" (>= {REST_THROUGHPUT_TARGET}x); naive relay {tr:.2f}x"
    )
    print(
        f"{'':22} direct ranged {min(rates['direct']):.0f}-{max(rates['direct']):.0f} polls/s over"
        f" {len(rates['direct'])} rounds; ratios are medians of each round's own"
    )
    cpu = results["cpu"]
    print(
        f"capture process CPU per poll: xdsspy {statistics.median(cpu['xdsspy']):.2f} ms,"
        f" +record {statistics.median(cpu['xdsspy+record']):.2f} ms"
    )
    client = results["client cpu"]
    print(
        "benchmark client CPU per poll (lean poller): "
        + ", ".join(f"{n} {statistics.median(client[n]):.2f} ms" for n in names)
    )
    print(f"recording size on disk after the REST run: {size_on_disk / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
