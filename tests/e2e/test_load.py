"""500 Envoys' ADS streams through one recording xdsspy: none stalls, memory stays bounded, nothing is lost.

Five hundred simulated Envoys (each its own connection) and a real Envoy go
through xdsspy; a second real Envoy goes straight to the control plane. The
push→ACK latencies of the two real Envoys are compared by bench/load.py, not
here (no timing assertions in tests); this test holds the rest of the
promise of issue 14, point 4.
"""

from __future__ import annotations

import collections
import pathlib
from typing import Any

import pytest

from xdsspy import model
from xdsspy.harness import config_dump
from xdsspy.record import reader
from xdsspy.testing import load_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.load]

STREAMS = 500
CLUSTERS = 100
"""About 10 kB per push and stream."""
PUSHES = 20
PER_STREAM_KB = 100
"""The bound on xdsspy's memory per stream: well under what one stream is pushed in this test
(about 200 kB), so an xdsspy that kept pushes, or buffered them for a slow reader, fails it."""


def _port_of(cluster: dict[str, Any]) -> int:
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    return int(endpoint["address"]["socket_address"]["port_value"])


@pytest.mark.timeout(240)
def test_500_streams_and_a_real_envoy_through_one_recording_xdsspy(
    envoy_binary: str, tmp_path: pathlib.Path
) -> None:
    with load_scenario.LoadScenario(
        tmp_path, streams=STREAMS, cluster_count=CLUSTERS, envoy_binary=envoy_binary
    ) as load:
        pushes = [load.push() for _ in range(PUSHES)]  # each: both real Envoys ACKed, all 500 have it
        assert load.swarm is not None and load.swarm.ended() == []
        memory = load.memory()
        assert memory.per_stream_kb(STREAMS) < PER_STREAM_KB, memory
        for node, one in load.envoys.items():
            clusters = config_dump.clusters(one.config_dump())
            assert sorted(clusters) == sorted(f"svc-{i}" for i in range(CLUSTERS)), node
            assert clusters["svc-0"]["version_info"] == pushes[-1].version, node
            assert _port_of(clusters["svc-0"]["cluster"]) == 10000 + PUSHES, node
        summary = load.swarm.stop()
        assert summary["responses"] == STREAMS * (PUSHES + 1)
        assert load.xdsspy is not None
        assert load.xdsspy.stop() == 0, load.xdsspy.output_tail()

    with reader.RecordingReader(load.record) as recording:
        counted: collections.Counter[str] = collections.Counter()
        connections = set()
        for event in recording.events():
            if isinstance(event, model.StreamOpened):
                connections.add(event.connection)
            elif isinstance(event, model.MessageSeen):
                counted[event.direction.name] += 1
        assert recording.problems == []
    assert len(connections) == STREAMS + 1  # every simulated Envoy, and the real one through xdsspy
    assert counted["RESPONSE"] >= (STREAMS + 1) * (PUSHES + 1)
    assert counted["REQUEST"] >= (STREAMS + 1) * (PUSHES + 2)  # a first request and an ACK per push
