"""Other ways to wire it up: two Envoys through one xdsspy, and unix sockets on both sides."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.controlplane import ads
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


def serve(cp: server.ControlPlane) -> str:
    cp.set_resources(res.CLUSTER, [res.static_cluster("svc-s", [("127.0.0.1", 9000)])])
    return cp.set_resources(res.LISTENER, [])


def read_events(path: pathlib.Path) -> list[model.Event]:
    with reader.RecordingReader(path) as recording:
        return list(recording.events())


def test_two_envoys_through_one_xdsspy(
    cp: server.ControlPlane, start_xdsspy: StartXdsspy, start_envoy: StartEnvoy, tmp_path: pathlib.Path
) -> None:
    cp.start()
    version = serve(cp)
    listen = f"127.0.0.1:{envoy.free_port()}"
    xdsspy = start_xdsspy(listen, cp.address)
    first = start_envoy(listen, node_id="envoy-sotw")
    second = start_envoy(listen, node_id="envoy-delta", api_type=bootstrap.ApiType.DELTA)
    for node, proxy in (("envoy-sotw", first), ("envoy-delta", second)):
        cp.wait_for_ack(res.LISTENER, version, node_id=node)
        assert list(config_dump.clusters(proxy.config_dump())) == ["svc-s"]
    assert sorted((s.node_id, s.method) for s in cp.streams) == [
        ("envoy-delta", ads.DELTA_METHOD),
        ("envoy-sotw", ads.SOTW_METHOD),
    ]

    first.stop()
    second.stop()
    assert xdsspy.stop() == 0, xdsspy.output_tail()
    events = read_events(tmp_path / "session.xdsspy")
    opened = [e for e in events if isinstance(e, model.StreamOpened)]
    assert len({e.connection for e in opened}) == len({e.stream for e in opened}) == 2
    nodes = {}
    for stream in opened:
        first_request = next(
            e.raw
            for e in events
            if isinstance(e, model.MessageSeen)
            and e.stream == stream.stream
            and e.direction == model.Direction.REQUEST
        )
        parse = (
            discovery_pb2.DeltaDiscoveryRequest
            if stream.method == ads.DELTA_METHOD
            else discovery_pb2.DiscoveryRequest
        )
        nodes[parse.FromString(first_request).node.id] = (stream.connection, stream.method)
    assert sorted(nodes) == ["envoy-delta", "envoy-sotw"]
    assert nodes["envoy-delta"][1] == ads.DELTA_METHOD and nodes["envoy-sotw"][1] == ads.SOTW_METHOD
    report = fidelity.compare(fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events))
    assert report.ok and len(report.matched) == 2 and not report.recorded_only, str(report)


def test_unix_sockets_on_both_sides(
    short_dir: str, start_xdsspy: StartXdsspy, start_envoy: StartEnvoy, tmp_path: pathlib.Path
) -> None:
    listen = f"unix:{os.path.join(short_dir, 'xdsspy.sock')}"
    with server.ControlPlane(f"unix:{os.path.join(short_dir, 'cp.sock')}") as cp:
        version = serve(cp)
        xdsspy = start_xdsspy(listen, cp.address)
        proxy = start_envoy(listen, node_id="over-unix")
        cp.wait_for_ack(res.LISTENER, version, node_id="over-unix")
        assert list(config_dump.clusters(proxy.config_dump())) == ["svc-s"]
        proxy.stop()
        assert xdsspy.stop() == 0, xdsspy.output_tail()
    events = read_events(tmp_path / "session.xdsspy")
    (opened,) = [e for e in events if isinstance(e, model.StreamOpened)]
    assert opened.peer.startswith("unix:"), opened.peer
    report = fidelity.compare(fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events))
    assert report.ok and len(report.matched) == 1, str(report)
