"""Either end going away: control plane down at start or restarted, Envoy killed. xdsspy keeps going."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import grpc_status
from xdsspy import model
from xdsspy.controlplane import ads
from xdsspy.controlplane import client
from xdsspy.controlplane import journal
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
_T = TypeVar("_T")


def serve(cp: server.ControlPlane, *clusters: str) -> dict[str, str]:
    """Static clusters (nothing to warm) and no listeners: the smallest config Envoy ACKs."""
    return {
        res.CLUSTER: cp.set_resources(
            res.CLUSTER, [res.static_cluster(n, [("127.0.0.1", 9000)]) for n in clusters]
        ),
        res.LISTENER: cp.set_resources(res.LISTENER, []),
    }


def has_clusters(*names: str) -> Callable[[dict[str, Any]], str | None]:
    def differences(dump: dict[str, Any]) -> str | None:
        found = sorted(config_dump.clusters(dump))
        return None if found == sorted(names) else f"clusters are {found}, expected {sorted(names)}"

    return differences


def read_events(path: pathlib.Path) -> list[model.Event]:
    with reader.RecordingReader(path) as recording:
        return list(recording.events())


def wait_recorded(
    path: pathlib.Path, find: Callable[[list[model.Event]], _T | None], what: str, timeout: float = 10.0
) -> _T:
    """Read the growing recording until find() answers; fail saying what never got recorded."""
    deadline = time.monotonic() + timeout
    while True:
        found = find(read_events(path))
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} was not in {path} within {timeout:g} s")
        time.sleep(0.05)


def closed_streams(events: Sequence[model.Event]) -> list[model.StreamClosed]:
    return [e for e in events if isinstance(e, model.StreamClosed)]


def test_control_plane_down_at_start_then_up(
    cp: server.ControlPlane, start_xdsspy: StartXdsspy, start_envoy: StartEnvoy, tmp_path: pathlib.Path
) -> None:
    versions = serve(cp, "svc-s")
    listen = f"127.0.0.1:{envoy.free_port()}"
    xdsspy = start_xdsspy(listen, cp.address)
    proxy = start_envoy(listen, node_id="early")
    recording = tmp_path / "session.xdsspy"

    unavailable = wait_recorded(
        recording, lambda events: closed_streams(events) or None, "a stream failed with UNAVAILABLE"
    )[0]
    assert grpc_status.name(unavailable.code) == "UNAVAILABLE"
    assert unavailable.cause == model.CloseCause.UPSTREAM_UNAVAILABLE
    assert xdsspy.running
    assert proxy.server_state() != "LIVE"  # still waiting for its first clusters and listeners

    cp.start()  # on the port xdsspy was told about from the start
    cp.wait_for_ack(res.LISTENER, versions[res.LISTENER], timeout=30, node_id="early")
    proxy.wait_for_config_dump(has_clusters("svc-s"))
    assert proxy.stats("control_plane")["control_plane.connected_state"] == 1

    proxy.stop()
    assert xdsspy.stop() == 0, xdsspy.output_tail()
    events = read_events(recording)
    report = fidelity.compare(fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events))
    assert report.ok and len(report.matched) == len(cp.streams) == 1, str(report)
    assert report.recorded_only and all(not r.responses for r in report.recorded_only), str(report)
    failed = [c for c in closed_streams(events) if c.cause == model.CloseCause.UPSTREAM_UNAVAILABLE]
    assert len(failed) == len(report.recorded_only)


@pytest.mark.parametrize("api_type", [bootstrap.ApiType.SOTW, bootstrap.ApiType.DELTA], ids=["sotw", "delta"])
def test_control_plane_restarted_mid_session(
    api_type: bootstrap.ApiType,
    cp: server.ControlPlane,
    start_xdsspy: StartXdsspy,
    start_envoy: StartEnvoy,
    tmp_path: pathlib.Path,
) -> None:
    cp.start()
    versions = serve(cp, "svc-s")
    listen = f"127.0.0.1:{envoy.free_port()}"
    xdsspy = start_xdsspy(listen, cp.address)
    proxy = start_envoy(listen, node_id="restarted", api_type=api_type)
    cp.wait_for_ack(res.LISTENER, versions[res.LISTENER], node_id="restarted")
    (before,) = cp.streams

    mark = cp.mark()
    cp.stop()
    assert cp.wait_for_stream_end(before.id).end == journal.StreamEnd.SERVER_STOPPED
    cp.start()
    after = cp.wait_for_stream(timeout=30, node_id="restarted", after=mark)
    cp.wait_for_ack(res.LISTENER, versions[res.LISTENER], timeout=30, after=mark)
    changed = cp.set_resources(
        res.CLUSTER, [res.static_cluster(n, [("127.0.0.1", 9000)]) for n in ("svc-s", "t")]
    )
    cp.wait_for_ack(res.CLUSTER, changed, after=mark)
    proxy.wait_for_config_dump(has_clusters("svc-s", "t"))

    if api_type == bootstrap.ApiType.DELTA:
        # Envoy said what it held, so nothing it held was sent again.
        first_request, first_response = (
            next(m.raw for m in cp.messages(after.id) if m.direction == direction)
            for direction in (model.Direction.REQUEST, model.Direction.RESPONSE)
        )
        request = discovery_pb2.DeltaDiscoveryRequest.FromString(first_request)
        response = discovery_pb2.DeltaDiscoveryResponse.FromString(first_response)
        assert (request.type_url, list(request.initial_resource_versions)) == (res.CLUSTER, ["svc-s"])
        assert (response.type_url, list(response.resources)) == (res.CLUSTER, [])

    proxy.stop()
    cp.wait_for_stream_end(cp.streams[-1].id)  # xdsspy has seen Envoy go, not just its own shutdown
    assert xdsspy.stop() == 0, xdsspy.output_tail()
    events = read_events(tmp_path / "session.xdsspy")
    report = fidelity.compare(
        fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events), prefix_ok=True
    )
    assert report.ok and len(report.matched) == 2, str(report)
    assert {c.cause for c in closed_streams(events)} <= {
        model.CloseCause.UPSTREAM,  # the stopped control plane ended the first stream
        model.CloseCause.UPSTREAM_UNAVAILABLE,  # reconnects while it was down
        model.CloseCause.DOWNSTREAM,  # Envoy stopped at the end
    }


def test_envoy_killed(
    cp: server.ControlPlane, start_xdsspy: StartXdsspy, start_envoy: StartEnvoy, tmp_path: pathlib.Path
) -> None:
    cp.start()
    versions = serve(cp, "svc-s")
    listen = f"127.0.0.1:{envoy.free_port()}"
    xdsspy = start_xdsspy(listen, cp.address)
    proxy = start_envoy(listen, node_id="doomed")
    cp.wait_for_ack(res.LISTENER, versions[res.LISTENER], node_id="doomed")
    (stream,) = cp.streams

    proxy.kill()
    assert cp.wait_for_stream_end(stream.id).end == journal.StreamEnd.CANCELLED
    recording = tmp_path / "session.xdsspy"
    (closed,) = wait_recorded(recording, lambda events: closed_streams(events) or None, "the stream's end")
    assert (closed.cause, closed.method, grpc_status.name(closed.code)) == (
        model.CloseCause.DOWNSTREAM,
        ads.SOTW_METHOD,
        "CANCELLED",
    )
    assert xdsspy.running
    assert xdsspy.stop() == 0, xdsspy.output_tail()
    assert closed_streams(read_events(recording)) == [closed]


def test_a_cancel_reaches_the_control_plane_as_a_cancel(
    cp: server.ControlPlane, start_xdsspy: StartXdsspy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # grpc.aio reports a cancel as an end of requests followed at once by the cancellation, so
    # the control plane needs a moment to tell them apart; a real half-close gets no cancellation.
    monkeypatch.setattr(ads, "HALF_CLOSE_GRACE_S", 0.02)
    cp.start()
    cp.set_resources(res.LISTENER, [])
    listen = f"127.0.0.1:{envoy.free_port()}"
    start_xdsspy(listen, cp.address)
    ends = []
    for attempt in range(20):  # before the fix, about half of these went wrong
        mark = cp.mark()
        with client.AdsClient(listen) as stream:
            stream.send(discovery_pb2.DiscoveryRequest(type_url=res.LISTENER, node={"id": f"n{attempt}"}))
            stream.receive()
            opened = cp.wait_for_stream(after=mark)
            stream.cancel()
            ends.append(cp.wait_for_stream_end(opened.id).end)
    assert set(ends) == {journal.StreamEnd.CANCELLED}, ends
