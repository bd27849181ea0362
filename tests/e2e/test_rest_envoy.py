"""A real Envoy polling CDS and LDS over REST (HTTP/1.1 and h2c) through `xdsspy proxy`: byte-exact polls.

Envoy (api_type REST, refresh_delay 1 s) polls xdsspy's REST listener, which
forwards to a REST control plane on loopback. Checked: Envoy applies what is
served and a second version; an invalid cluster is rejected (the next poll
still carries the old version_info and cluster_manager.cds.update_rejected
grows); and the recording holds every poll exactly as the control plane
received and answered it.
"""

from __future__ import annotations

import collections
import json
import pathlib
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from xdsspy import addresses
from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import rest as rest_cp
from xdsspy.harness import config_dump
from xdsspy.harness import rest as rest_harness
from xdsspy.record import reader
from xdsspy.testing import processes

pytestmark = pytest.mark.e2e

CDS = "/v3/discovery:clusters"
LDS = "/v3/discovery:listeners"


def listener(name: str, cluster: str) -> Any:
    """An HTTP listener with its routes inline: nothing else to poll for (no RDS)."""
    from envoy.extensions.filters.network.http_connection_manager.v3 import (
        http_connection_manager_pb2 as hcm_pb2,
    )

    result = res.listener(name, route_config_name=f"{name}-routes")
    typed = result.filter_chains[0].filters[0].typed_config
    manager = hcm_pb2.HttpConnectionManager()
    typed.Unpack(manager)
    manager.ClearField("rds")
    manager.route_config.CopyFrom(res.route_configuration(f"{name}-routes", cluster=cluster))
    typed.Pack(manager)
    return result


def cluster(name: str, connect_timeout_s: float = 1.0) -> Any:
    return res.static_cluster(name, [("127.0.0.1", 10001)], connect_timeout_s=connect_timeout_s)


def expect(clusters: set[str], listeners: set[str], version: str) -> Any:
    def differences(dump: dict[str, Any]) -> str | None:
        have_clusters = set(config_dump.clusters(dump))
        have_listeners = set(config_dump.listeners(dump))
        have_version = config_dump.version_info(dump, "ClustersConfigDump")
        if (have_clusters, have_listeners, have_version) == (clusters, listeners, version):
            return None
        return f"clusters {sorted(have_clusters)}, listeners {sorted(have_listeners)}, CDS {have_version!r}"

    return differences


@pytest.fixture
def control_plane() -> Iterator[rest_cp.RestControlPlane]:
    with rest_cp.RestControlPlane() as cp:
        yield cp


@pytest.mark.parametrize("protocol", ["http1", "h2c"])
def test_envoy_polling_over_rest_through_xdsspy(
    protocol: str, envoy_binary: str, control_plane: rest_cp.RestControlPlane, tmp_path: pathlib.Path
) -> None:
    cp = control_plane
    cp.set_resources(res.CLUSTER, [cluster("rest-a")])
    cp.set_resources(res.LISTENER, [listener("rest-l1", "rest-a")])
    port = processes.free_port()
    recording = tmp_path / "rest.xdsspy"
    xdsspy_out = tmp_path / "xdsspy.out"
    with open(xdsspy_out, "wb") as out:
        xdsspy = subprocess.Popen(
            processes.xdsspy_command(
                "proxy",
                "--headless",
                "--rest-listen",
                f"127.0.0.1:{port}",
                "--rest-upstream",
                cp.url,
                "--record",
                str(recording),
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        processes.wait_for_port(port, xdsspy)  # type: ignore[arg-type]
        options = rest_harness.RestBootstrapOptions(
            server=addresses.parse(f"127.0.0.1:{port}"), node_id=f"rest-{protocol}", http2=protocol == "h2c"
        )
        with rest_harness.RestEnvoy(options, tmp_path / "envoy", binary=envoy_binary) as envoy:
            envoy.wait_for_config_dump(expect({"rest-a"}, {"rest-l1"}, "1"), timeout=20)
            # Polling on at the current version is answered 304 Not Modified, and Envoy is content.
            cp.wait_for_poll(lambda p: p.path == CDS and p.status == 304 and p.version_info == "1")

            cp.set_resources(res.CLUSTER, [cluster("rest-a"), cluster("rest-b")])
            cp.set_resources(res.LISTENER, [listener("rest-l1", "rest-a"), listener("rest-l2", "rest-b")])
            envoy.wait_for_config_dump(expect({"rest-a", "rest-b"}, {"rest-l1", "rest-l2"}, "2"), timeout=20)

            mark = len(cp.polls)
            bad = cp.set_resources(
                res.CLUSTER, [cluster("rest-a"), cluster("rest-b"), cluster("rest-bad", connect_timeout_s=-1)]
            )
            served = cp.wait_for_poll(
                lambda p: p.path == CDS and p.status == 200 and p.served_version == bad, after=mark
            )
            after = cp.wait_for_poll(
                lambda p: p.path == CDS and p.monotonic_ns > served.monotonic_ns, after=mark, timeout=15
            )
            assert after.version_info == "2", "a rejected version is not acknowledged by the next poll"
            assert int(envoy.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"]) >= 1
            dump = envoy.config_dump()
            assert expect({"rest-a", "rest-b"}, {"rest-l1", "rest-l2"}, "2")(dump) is None
    finally:
        code = processes.stop(xdsspy, signal.SIGINT)  # type: ignore[arg-type]
    assert code == 0, xdsspy_out.read_text()

    polls = cp.polls
    assert {p.http_version for p in polls} == {"2" if protocol == "h2c" else "1.1"}
    assert {p.status for p in polls} == {200, 304}
    with reader.RecordingReader(recording) as r:
        events = list(r.events())
        assert not r.problems
    recorded = _exchanges(events)
    assert recorded, "nothing recorded"
    completed = collections.Counter(
        (e["method"], e["request"], e["status"], e["response"]) for e in recorded if e["done"]
    )
    at_cp = collections.Counter((p.path, p.request, p.status, p.response) for p in polls)
    assert not completed - at_cp, "every recorded poll is one the control plane saw, byte for byte"
    missing = at_cp - completed
    # Only a poll in flight when Envoy stopped may lack its recorded end; its request is still there.
    assert sum(missing.values()) <= 2, missing
    requests = collections.Counter((e["method"], e["request"]) for e in recorded)
    for path, request, _status, _response in missing:
        assert requests[(path, request)] >= 1

    opened = [e for e in events if isinstance(e, model.StreamOpened)]
    assert all(e.transport == model.Transport.REST and e.http_method == "POST" for e in opened)
    assert {e.http_version for e in opened} == {"2" if protocol == "h2c" else "1.1"}  # as the CP saw them
    assert all(("host", rest_harness.REST_CLUSTER.encode()) in e.metadata for e in opened)
    started = next(e for e in events if isinstance(e, model.CaptureStarted))
    assert started.listen == (f"http://127.0.0.1:{port}",) and started.upstream == cp.url
    # What rejection inference needs: after version 3 was served, the next CDS request still says 2.
    cds = [e for e in recorded if e["method"] == CDS]
    served_bad = next(i for i, e in enumerate(cds) if e["status"] == 200 and _version(e["response"]) == "3")
    assert _version(cds[served_bad + 1]["request"]) == "2"


def _version(body: bytes) -> str:
    """version_info of a JSON DiscoveryRequest or Response (Envoy: snake_case, json_format: camelCase)."""
    document = json.loads(body)
    return str(document.get("version_info", document.get("versionInfo", "")))


def _exchanges(events: list[model.Event]) -> list[dict[str, Any]]:
    """Each recorded REST stream as {method, request, status, response, done}, in order of opening."""
    streams: dict[int, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, model.StreamOpened):
            streams[event.stream] = {
                "method": event.method,
                "request": None,
                "status": 0,
                "response": None,
                "done": False,
            }
        elif isinstance(event, model.MessageSeen):
            key = "request" if event.direction == model.Direction.REQUEST else "response"
            streams[event.stream][key] = event.raw
        elif isinstance(event, model.ResponseHeadersSeen):
            streams[event.stream]["status"] = event.http_status
        elif isinstance(event, model.StreamClosed):
            streams[event.stream]["done"] = event.cause == model.CloseCause.UPSTREAM
    return list(streams.values())
