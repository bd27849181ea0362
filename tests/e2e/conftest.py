"""Fixtures for end-to-end runs: real Envoys, xdsspy as a child process, the built-in control plane.

Everything a test starts is stopped at teardown, by PID; each Envoy and
xdsspy gets its own directory under tmp_path, so a failing test leaves its
logs, bootstraps and recording behind for reading.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from collections.abc import Iterator

import pytest

from xdsspy import addresses
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy
from xdsspy.harness import proxy

StartEnvoy = Callable[..., envoy.Envoy]
StartXdsspy = Callable[..., proxy.XdsspyProcess]


@pytest.fixture
def cp() -> Iterator[server.ControlPlane]:
    """A control plane on a port of its own, not started: tests decide when it comes up."""
    control_plane = server.ControlPlane(f"127.0.0.1:{envoy.free_port()}")
    yield control_plane
    control_plane.stop()


@pytest.fixture
def start_envoy(envoy_binary: str, tmp_path: pathlib.Path) -> Iterator[StartEnvoy]:
    """start_envoy(xds, node_id=..., api_type=...) -> a running Envoy whose admin answers."""
    started: list[envoy.Envoy] = []

    def start(
        xds: str, *, node_id: str = "e2e-envoy", api_type: bootstrap.ApiType = bootstrap.ApiType.SOTW
    ) -> envoy.Envoy:
        options = bootstrap.BootstrapOptions(xds=addresses.parse(xds), node_id=node_id, api_type=api_type)
        proc = envoy.Envoy(options, tmp_path / f"envoy-{len(started) + 1}-{node_id}", binary=envoy_binary)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def start_xdsspy(tmp_path: pathlib.Path) -> Iterator[StartXdsspy]:
    """start_xdsspy(listen, upstream) -> `xdsspy proxy --headless` recording to tmp_path/session.xdsspy."""
    started: list[proxy.XdsspyProcess] = []

    def start(listen: str, upstream: str) -> proxy.XdsspyProcess:
        xdsspy = proxy.XdsspyProcess([listen], upstream, tmp_path, record=tmp_path / "session.xdsspy")
        started.append(xdsspy)
        return xdsspy.start()

    yield start
    for xdsspy in started:
        xdsspy.stop()


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A directory with a short path: unix socket paths must stay under ~100 bytes."""
    path = tempfile.mkdtemp(prefix="xs-", dir="/tmp")
    yield path
    for name in os.listdir(path):
        os.remove(os.path.join(path, name))
    os.rmdir(path)
