"""xdsspy as a child process, between a plain ADS client and the built-in control plane."""

from __future__ import annotations

import pathlib
import time

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.controlplane import client
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import envoy
from xdsspy.harness import fidelity
from xdsspy.harness import proxy
from xdsspy.record import reader


def test_forwards_records_and_stops_cleanly(tmp_path: pathlib.Path) -> None:
    recording = tmp_path / "r.xdsspy"
    listen = f"127.0.0.1:{envoy.free_port()}"
    with server.ControlPlane() as cp:
        cp.set_resources(res.LISTENER, [])
        xdsspy = proxy.XdsspyProcess([listen], cp.address, tmp_path, record=recording).start()
        try:
            with client.AdsClient(listen) as stream:
                stream.send(discovery_pb2.DiscoveryRequest(type_url=res.LISTENER, node={"id": "plain"}))
                assert stream.receive().version_info == "1"
        finally:
            status = xdsspy.stop()
        assert status == 0, xdsspy.output_tail()
    events = list(reader.RecordingReader(recording).events())
    assert isinstance(events[-1], model.CaptureStopped)
    report = fidelity.compare(fidelity.from_control_plane(cp.messages()), fidelity.from_recording(events))
    assert report.ok and len(report.matched) == 1, str(report)
    assert "capture started" in xdsspy.output()


def test_a_port_in_use_is_reported(tmp_path: pathlib.Path) -> None:
    with server.ControlPlane() as cp:
        taken = f"127.0.0.1:{cp.port}"
        xdsspy = proxy.XdsspyProcess([taken], cp.address, tmp_path)
        try:
            with pytest.raises(
                proxy.XdsspyProcessError, match=r"(?s)exited with status \d+ before listening.*cannot listen"
            ):
                xdsspy.start()
        finally:
            xdsspy.stop()  # had it started after all, it must not outlive the test


def test_a_hung_xdsspy_is_killed_with_its_children(tmp_path: pathlib.Path) -> None:
    with server.ControlPlane() as cp:
        xdsspy = proxy.XdsspyProcess([f"127.0.0.1:{envoy.free_port()}"], cp.address, tmp_path)
        xdsspy.start()
        family = [xdsspy.pid, *proxy.descendants(xdsspy.pid)]
        assert len(family) >= 2  # `xdsspy proxy` runs the capture process
        with pytest.raises(proxy.XdsspyProcessError, match=r"did not exit within 0\.5 s of signal 0; killed"):
            xdsspy.stop(signum=0, timeout=0.5)  # signal 0 delivers nothing: as good as hung
        assert not xdsspy.running
        deadline = time.monotonic() + 10
        while alive := [pid for pid in family if _alive(pid)]:
            assert time.monotonic() < deadline, f"still running: {alive}"
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """True unless pid is gone or a zombie waiting for its (new) parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_listen_ports_must_be_given() -> None:
    with pytest.raises(ValueError, match="real port"):
        proxy.XdsspyProcess(["127.0.0.1:0"], "127.0.0.1:1", "/tmp")
