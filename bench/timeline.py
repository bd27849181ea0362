"""Seeking in a long recording: state at a random point with checkpoints versus folding from the start.

Run: python bench/timeline.py [--events N]

Builds an N-event SotW conversation in memory (4 Envoys, CDS/EDS pushes of
50 clusters with a changing cluster each push, ACKs and some NACKs), folds it
into a Timeline once, then times state_at() at random points against a
fresh fold up to the same point, side by side.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.state import timeline
from xdsspy.testing import factories as f

ADS = f.ADS


def conversation(events: int) -> list[model.Event]:
    out: list[model.Event] = []
    seq = 0

    def add(conn: int, direction: model.Direction, message: object) -> None:
        nonlocal seq
        seq += 1
        out.append(
            model.MessageSeen(
                seq=seq,
                wall_ns=seq * 1_000_000,
                monotonic_ns=seq * 1_000_000,
                connection=conn,
                stream=conn,
                direction=direction,
                raw=message.SerializeToString(),  # type: ignore[attr-defined]
                method=ADS,
            )
        )

    clusters = [res.eds_cluster(f"svc-{i}") for i in range(50)]
    version = 0
    for conn in range(1, 5):
        add(
            conn,
            model.Direction.REQUEST,
            discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER, node=base_pb2.Node(id=f"envoy-{conn}")),
        )
    while seq < events:
        version += 1
        clusters[version % 50] = res.eds_cluster(f"svc-{version % 50}", connect_timeout_s=1 + version % 7)
        packed = []
        for c in clusters:
            a = any_pb2.Any()
            a.Pack(c)
            packed.append(a)
        for conn in range(1, 5):
            nonce = f"{conn}-{version}"
            add(
                conn,
                model.Direction.RESPONSE,
                discovery_pb2.DiscoveryResponse(
                    type_url=res.CLUSTER, version_info=str(version), nonce=nonce, resources=packed
                ),
            )
            request = discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER, response_nonce=nonce)
            if version % 10 == 0:
                request.version_info = str(version - 1)
                request.error_detail.message = "rejected"
            else:
                request.version_info = str(version)
            add(conn, model.Direction.REQUEST, request)
    return out[:events]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seeks", type=int, default=20)
    args = parser.parse_args()
    events = conversation(args.events)
    start = time.perf_counter()
    t = timeline.Timeline.from_events(events)
    build = time.perf_counter() - start
    rng = random.Random(7)
    points = [rng.randrange(len(events)) for _ in range(args.seeks)]
    seek, fold = [], []
    for index in points:
        started = time.perf_counter()
        t.state_after_index(index)
        seek.append(time.perf_counter() - started)
    for index in points[:3]:  # folding from the start is slow: a few samples suffice
        started = time.perf_counter()
        timeline.Timeline.from_events(events[: index + 1], checkpoint_every=10**9)
        fold.append(time.perf_counter() - started)
    s, r = statistics.median(seek) * 1e3, statistics.median(fold) * 1e3
    print(f"timeline of {len(events)} events built in {build:.1f} s ({len(events) / build:,.0f} events/s)")
    print(f"state at a random point: median {s:.2f} ms with checkpoints, {r:,.0f} ms folding from the start")
    print(f"ratio: seeking is {r / s:,.0f}x faster than folding from the start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
