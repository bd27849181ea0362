"""The live UI never stands in Envoy's way: frozen (SIGSTOP) or crashed, the capture forwards and records.

`xdsspy proxy` runs in a real pseudo-terminal (it opens the UI only there),
between a real Envoy and the built-in control plane; Envoy's own admin
(/config_dump) says what it got, and when.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest

from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import config_dump
from xdsspy.harness import envoy
from xdsspy.harness import terminal
from xdsspy.record import reader
from xdsspy.testing import processes

pytestmark = pytest.mark.e2e

StartEnvoy = Callable[..., envoy.Envoy]
NODE = "e2e-ui"
FROZEN_S = 3.0
ON_TIME_S = 2.0
"""How soon Envoy must have each push while the UI is frozen (it ACKs within milliseconds directly)."""


def _serve(cp: server.ControlPlane, timeout_s: float, endpoint_port: int) -> dict[str, str]:
    return {
        res.CLUSTER: cp.set_resources(res.CLUSTER, [res.eds_cluster("svc-a", connect_timeout_s=timeout_s)]),
        res.ENDPOINT: cp.set_resources(
            res.ENDPOINT, [res.load_assignment("svc-a", [("127.0.0.1", endpoint_port)])]
        ),
        res.LISTENER: cp.set_resources(res.LISTENER, [res.listener("ingress", route_config_name="local")]),
        res.ROUTE: cp.set_resources(res.ROUTE, [res.route_configuration("local", cluster="svc-a")]),
    }


def _timeout_of(dump: dict[str, object]) -> str | None:
    clusters = config_dump.clusters(dump)  # type: ignore[arg-type]
    entry = clusters.get("svc-a")
    return entry["cluster"]["connect_timeout"] if entry else None  # type: ignore[no-any-return]


@pytest.fixture
def ui(tmp_path: pathlib.Path) -> Iterator[Callable[..., terminal.TerminalProcess]]:
    started: list[terminal.TerminalProcess] = []

    def start(listen: str, upstream: str, *, script: str | None = None) -> terminal.TerminalProcess:
        args = [
            "proxy",
            "--listen",
            listen,
            "--upstream",
            upstream,
            "--record",
            str(tmp_path / "live.xdsspy"),
        ]
        argv = [sys.executable, "-c", script, *args] if script else processes.xdsspy_command(*args)
        process = terminal.TerminalProcess(argv, size=(120, 40), cwd=tmp_path).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _envoy_through_the_ui(
    cp: server.ControlPlane,
    start_envoy: StartEnvoy,
    ui: Callable[..., terminal.TerminalProcess],
    *,
    script: str | None = None,
) -> tuple[terminal.TerminalProcess, envoy.Envoy]:
    """The control plane up with its first config, `xdsspy proxy` in a pseudo-terminal (run by `script`
    when given), Envoy through it, and every type ACKed: the proxy's terminal and the Envoy."""
    cp.start()
    first = _serve(cp, 1.0, 9000)
    listen_port = envoy.free_port()
    front = ui(f"127.0.0.1:{listen_port}", cp.address, script=script)
    processes.wait_for_port(listen_port)
    proxy = start_envoy(f"127.0.0.1:{listen_port}", node_id=NODE)
    for type_url, version in first.items():
        cp.wait_for_ack(type_url, version, node_id=NODE, timeout=20)
    return front, proxy


def test_a_frozen_ui_never_delays_envoy_s_pushes(
    cp: server.ControlPlane,
    start_envoy: StartEnvoy,
    ui: Callable[..., terminal.TerminalProcess],
    tmp_path: pathlib.Path,
) -> None:
    front, proxy = _envoy_through_the_ui(cp, start_envoy, ui)
    front.wait_for_output("1 Envoy")  # the UI is drawing: "1 Envoy (1 up)"

    os.kill(front.pid, signal.SIGSTOP)  # the UI's process, and with it its reading of the recording
    frozen_at = time.monotonic()
    try:
        for step in range(1, 4):
            mark = cp.mark()
            sent = time.monotonic()
            version = cp.set_resources(res.CLUSTER, [res.eds_cluster("svc-a", connect_timeout_s=1.0 + step)])
            # A changed EDS cluster warms until its endpoints come again: send them, as istiod does.
            endpoints = cp.set_resources(
                res.ENDPOINT, [res.load_assignment("svc-a", [("127.0.0.1", 9000 + step)])]
            )
            cp.wait_for_ack(res.CLUSTER, version, node_id=NODE, after=mark, timeout=10)
            cp.wait_for_ack(res.ENDPOINT, endpoints, node_id=NODE, after=mark, timeout=10)
            took = time.monotonic() - sent
            assert took < ON_TIME_S, f"push {step} reached Envoy {took:.2f} s after it was sent"
            assert _timeout_of(proxy.config_dump()) == f"{1 + step}s"
        while time.monotonic() - frozen_at < FROZEN_S:
            time.sleep(0.1)
        assert os.waitpid(front.pid, os.WNOHANG) == (0, 0)  # still there, still stopped
    finally:
        os.kill(front.pid, signal.SIGCONT)

    front.send(b"q")
    assert front.wait(30) == 0, front.output()[-2000:]
    with reader.RecordingReader(tmp_path / "live.xdsspy") as recording:
        events = list(recording.events())
        assert recording.problems == []
    assert isinstance(events[-1], model.CaptureStopped)
    pushed = [
        e for e in events if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    ]
    assert len(pushed) >= 10  # four first responses and the six pushes made while the UI was frozen


CRASHING_UI = """
import sys
from xdsspy import cli
from xdsspy.tui.screens import timeline_screen

original = timeline_screen.TimelineScreen.on_index_progress
calls = []

def broken(self, event):
    calls.append(event)
    if len(calls) > 2:
        raise RuntimeError("a bug in the UI")
    original(self, event)

timeline_screen.TimelineScreen.on_index_progress = broken
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_crashing_ui_leaves_the_capture_running_and_says_how_to_reopen_it(
    cp: server.ControlPlane,
    start_envoy: StartEnvoy,
    ui: Callable[..., terminal.TerminalProcess],
    tmp_path: pathlib.Path,
) -> None:
    front, proxy = _envoy_through_the_ui(cp, start_envoy, ui, script=CRASHING_UI)
    front.wait_for_output("forwarding and recording", timeout=30)
    record = tmp_path / "live.xdsspy"
    assert f"xdsspy view {record} --follow" in front.output().replace("\r\n", "\n").replace("\n", "")
    assert "a bug in the UI" in front.output()

    mark = cp.mark()  # the capture goes on without its UI
    version = cp.set_resources(res.CLUSTER, [res.eds_cluster("svc-a", connect_timeout_s=7.0)])
    cp.set_resources(res.ENDPOINT, [res.load_assignment("svc-a", [("127.0.0.1", 9007)])])
    cp.wait_for_ack(res.CLUSTER, version, node_id=NODE, after=mark, timeout=10)
    assert _timeout_of(proxy.config_dump()) == "7s"

    os.kill(front.pid, signal.SIGINT)  # Ctrl-C, as the message says
    assert front.wait(30) == 0, front.output()[-2000:]
    with reader.RecordingReader(record) as recording:
        events = list(recording.events())
    assert isinstance(events[-1], model.CaptureStopped)
    from xdsspy.decode import discovery

    versions = [
        discovery.decode(e.method, e.direction, bytes(e.raw)).version_info
        for e in events
        if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    ]
    assert version in versions  # the push made after the UI died is in the recording
