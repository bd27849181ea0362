"""A real Envoy configured through xdsspy, SotW and Delta: ACKs, updates, a NACK, a byte-exact recording."""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import config_dump
from xdsspy.harness import envoy
from xdsspy.harness import fidelity
from xdsspy.harness import proxy as proxy_mod
from xdsspy.record import reader

pytestmark = pytest.mark.e2e

StartEnvoy = Callable[..., envoy.Envoy]
StartXdsspy = Callable[..., proxy_mod.XdsspyProcess]

NODE = "e2e-main"
ALL_TYPES = (res.CLUSTER, res.ENDPOINT, res.LISTENER, res.ROUTE)


@dataclasses.dataclass(frozen=True)
class Config:
    """One version of what the control plane serves, and so of what Envoy's config dump must show."""

    eds_clusters: dict[str, float]  # name -> connect timeout (s)
    static_clusters: dict[str, tuple[float, tuple[str, int]]]  # name -> (connect timeout, endpoint)
    endpoints: dict[str, list[tuple[str, int]]]  # EDS cluster -> endpoints
    listeners: dict[str, str]  # listener -> route configuration it fetches over RDS
    routes: dict[str, str]  # route configuration -> cluster it sends everything to

    def cluster_messages(self) -> list[Any]:
        eds = [res.eds_cluster(n, connect_timeout_s=t) for n, t in self.eds_clusters.items()]
        static = [
            res.static_cluster(n, [e], connect_timeout_s=t) for n, (t, e) in self.static_clusters.items()
        ]
        return eds + static

    def serve(self, cp: server.ControlPlane, types: tuple[str, ...] = ALL_TYPES) -> dict[str, str]:
        """Set the given types in make-before-break order; returns their new versions."""
        messages = {
            res.CLUSTER: self.cluster_messages(),
            res.ENDPOINT: [res.load_assignment(n, e) for n, e in self.endpoints.items()],
            res.LISTENER: [res.listener(n, route_config_name=r) for n, r in self.listeners.items()],
            res.ROUTE: [res.route_configuration(n, cluster=c) for n, c in self.routes.items()],
        }
        return {t: cp.set_resources(t, messages[t]) for t in ALL_TYPES if t in types}

    def differences(self, dump: dict[str, Any]) -> str | None:
        """What Envoy's config dump does not (yet) show of this config; None when it shows exactly it."""
        clusters = config_dump.clusters(dump)
        timeouts = {n: float(e["cluster"]["connect_timeout"].rstrip("s")) for n, e in clusters.items()}
        expected_timeouts = {**self.eds_clusters, **{n: t for n, (t, _) in self.static_clusters.items()}}
        if timeouts != expected_timeouts:
            return f"clusters (name: connect timeout) are {timeouts}, expected {expected_timeouts}"
        endpoints = {
            n: config_dump.endpoint_addresses(e["endpoint_config"])
            for n, e in config_dump.endpoint_configs(dump).items()
            if n in self.eds_clusters
        }
        if endpoints != self.endpoints:
            return f"EDS endpoints are {endpoints}, expected {self.endpoints}"
        listeners = {
            n: state["listener"]["filter_chains"][0]["filters"][0]["typed_config"]["rds"]["route_config_name"]
            for n, state in config_dump.listeners(dump).items()
        }
        if listeners != self.listeners:
            return f"listeners (name: route config) are {listeners}, expected {self.listeners}"
        routes = {
            n: e["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"]
            for n, e in config_dump.route_configs(dump).items()
        }
        if routes != self.routes:
            return f"routes (name: cluster) are {routes}, expected {self.routes}"
        warming = list(config_dump.clusters(dump, warming=True)) + list(
            config_dump.listeners(dump, state="warming_state")
        )
        return f"still warming: {warming}" if warming else None


V1 = Config(
    eds_clusters={"svc-a": 1.0},
    static_clusters={"svc-b": (1.0, ("127.0.0.1", 9001))},
    endpoints={"svc-a": [("127.0.0.1", 9000)]},
    listeners={"ingress": "local"},
    routes={"local": "svc-a"},
)
V2 = Config(  # svc-a changed, svc-b deleted, svc-c added; new endpoints and route; same listener
    eds_clusters={"svc-a": 2.5},
    static_clusters={"svc-c": (3.0, ("127.0.0.1", 9002))},
    endpoints={"svc-a": [("127.0.0.1", 9010), ("127.0.0.1", 9011)]},
    listeners={"ingress": "local"},
    routes={"local": "svc-c"},
)


def recorded_messages(path: pathlib.Path) -> int:
    with reader.RecordingReader(path) as recording:
        return sum(isinstance(e, model.MessageSeen) for e in recording.events())


def wait_recorded(path: pathlib.Path, count: int, within: float) -> None:
    """The recording is readable while xdsspy runs and holds count messages within `within` seconds."""
    deadline = time.monotonic() + within
    while (seen := recorded_messages(path)) < count:
        if time.monotonic() >= deadline:
            pytest.fail(f"{path} held {seen} of the {count} messages that passed, {within:g} s later")
        time.sleep(0.05)


@pytest.mark.parametrize("api_type", [bootstrap.ApiType.SOTW, bootstrap.ApiType.DELTA], ids=["sotw", "delta"])
def test_envoy_through_xdsspy(
    api_type: bootstrap.ApiType,
    cp: server.ControlPlane,
    start_xdsspy: StartXdsspy,
    start_envoy: StartEnvoy,
    tmp_path: pathlib.Path,
) -> None:
    cp.start()
    v1 = V1.serve(cp)
    listen = f"127.0.0.1:{envoy.free_port()}"
    xdsspy = start_xdsspy(listen, cp.address)
    proxy = start_envoy(listen, node_id=NODE, api_type=api_type)
    recording = tmp_path / "session.xdsspy"

    # Version 1 of every type is ACKed and is exactly what Envoy runs.
    for type_url in ALL_TYPES:
        cp.wait_for_ack(type_url, v1[type_url], node_id=NODE)
    first = proxy.wait_for_config_dump(V1.differences)
    wait_recorded(recording, len(cp.messages()), within=1.0)

    # Version 2 of clusters, endpoints and routes: applied, with deletion; listeners stay at 1.
    v2 = V2.serve(cp, types=(res.CLUSTER, res.ENDPOINT, res.ROUTE))
    for type_url, version in v2.items():
        cp.wait_for_ack(type_url, version, node_id=NODE)
    good = proxy.wait_for_config_dump(V2.differences)
    assert config_dump.listeners(good) == config_dump.listeners(first)  # not even re-applied
    if api_type == bootstrap.ApiType.SOTW:
        assert config_dump.version_info(good, "ClustersConfigDump") == v2[res.CLUSTER]
        assert config_dump.version_info(good, "ListenersConfigDump") == v1[res.LISTENER]

    # An invalid cluster is NACKed with Envoy's reason, and Envoy keeps what it had.
    bad_clusters = [*V2.cluster_messages(), res.eds_cluster("svc-bad", connect_timeout_s=-1)]
    bad = cp.set_resources(res.CLUSTER, bad_clusters)
    nack = cp.wait_for_nack(res.CLUSTER, bad, node_id=NODE)
    assert nack.error_code != 0 and "Invalid duration" in nack.error_message
    if api_type == bootstrap.ApiType.SOTW:
        assert nack.last_good_version == v2[res.CLUSTER]
    after = proxy.config_dump()
    assert V2.differences(after) is None
    assert config_dump.clusters(after) == config_dump.clusters(good)
    assert int(proxy.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"]) >= 1

    # Envoy leaves, then xdsspy stops cleanly; only then is the recording complete.
    (stream,) = cp.streams
    proxy.stop()
    cp.wait_for_stream_end(stream.id)
    assert xdsspy.stop() == 0, xdsspy.output_tail()
    with reader.RecordingReader(recording) as finished:
        events = list(finished.events())
        assert finished.problems == []
    assert isinstance(events[0], model.CaptureStarted) and isinstance(events[-1], model.CaptureStopped)
    closed = [e for e in events if isinstance(e, model.StreamClosed)]
    assert [(c.cause, c.method) for c in closed] == [(model.CloseCause.DOWNSTREAM, stream.method)]

    report = fidelity.compare(fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events))
    assert report.ok and report.recorded_only == [], str(report)
    ((served, _),) = report.matched
    # 4 first responses, 3 updates and the NACKed one; a request for each, and ACKs or a NACK of each.
    assert len(served.responses) >= 8 and len(served.requests) >= 12, served.describe()
