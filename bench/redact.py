"""Redaction benchmark: every event of a busy recording through redact_events, in µs per message.

Run: python bench/redact.py [RECORDING] [--messages N]

Without a recording, the busy mesh of xdsspy.testing.busy_recording is built in
memory (N messages; 5 pushes of 10k clusters among them). Prints the time per
message by kind (requests, small responses, big pushes), the first 10k-cluster
push apart from the later ones (which repeat all but one cluster), and the
fresh-cluster cost with the prefilter against converting every cluster to JSON.
"""

from __future__ import annotations

import argparse
import collections
import time
from typing import Any

from xdsspy import model
from xdsspy import redact
from xdsspy import redact_events
from xdsspy import redact_wire
from xdsspy.decode import schemas
from xdsspy.record import reader
from xdsspy.testing import busy_recording
from xdsspy.testing import xds


class _AlwaysLook(redact_wire.WireRedactor):
    def _check(self, message: Any) -> int:
        return super()._check(message) | redact_wire.LOOK


def _per_cluster(wire: redact_wire.WireRedactor, clusters: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in clusters:
        wire.payload(xds.CLUSTER_TYPE_URL, raw)
    return (time.perf_counter() - start) / len(clusters) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recording", nargs="?")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    schemas.load_envoy_api()
    if args.recording:
        events = list(reader.iter_events(args.recording))
    else:
        events = list(busy_recording.events(args.messages))
    masker = redact_events.EventRedactor(redact.Redactor())
    counts: collections.Counter[str] = collections.Counter()
    spent: dict[str, float] = collections.defaultdict(float)
    messages = 0
    start = time.perf_counter()
    for event in events:
        began = time.perf_counter()
        masker.event(event)
        if isinstance(event, model.MessageSeen):
            messages += 1
            kind = "request" if event.direction == model.Direction.REQUEST else "response"
            if len(event.raw) > 1_000_000:
                kind = "first big push" if counts["first big push"] == 0 else "later big push"
            counts[kind] += 1
            spent[kind] += time.perf_counter() - began
    total = time.perf_counter() - start
    per_message = total / messages * 1e6
    print(f"{len(events)} events, {messages} messages: {total:.2f} s, {per_message:.1f} µs/message")
    for kind in sorted(counts):
        print(f"  {kind:15} {counts[kind]:7}  {spent[kind] / counts[kind] * 1e6:10.1f} µs each")
    print(f"  {masker.summary()}")
    clusters = [xds.tcluster(i).SerializeToString() for i in range(2000)]
    redactor = redact.Redactor()
    quick = _per_cluster(redact_wire.WireRedactor(redactor), clusters)
    thorough = _per_cluster(_AlwaysLook(redactor), clusters)
    print(f"fresh Istio cluster: {quick:.0f} µs with the prefilter, {thorough:.0f} µs always converting")


if __name__ == "__main__":
    main()
