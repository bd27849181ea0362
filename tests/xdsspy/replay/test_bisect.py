"""--bisect with Envoys it starts itself: the first push a fresh Envoy NACKs, or after which a check fails."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest

from xdsspy import addresses
from xdsspy.controlplane import resources as cp
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy as envoy_mod
from xdsspy.testing import conversations
from xdsspy.testing import processes

pytestmark = pytest.mark.usefixtures("envoy_binary")


def cluster(name: str, timeout: float = 1.0) -> Any:
    return conversations.packed(cp.static_cluster(name, [("127.0.0.1", 18080)], connect_timeout_s=timeout))


def answering(name: str, body: str) -> Any:
    """A RouteConfiguration that answers every request itself (no upstream needed)."""
    routes = cp.route_configuration(name, cluster="unused")
    route = routes.virtual_hosts[0].routes[0]
    route.ClearField("route")
    route.direct_response.status = 200
    route.direct_response.body.inline_string = body
    return conversations.packed(routes)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        processes.xdsspy_command("replay", *argv), capture_output=True, text=True, timeout=240
    )


def test_the_first_push_a_fresh_envoy_nacks(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "twelve.xdsspy"
    pushes = [(cp.CLUSTER, [cluster(f"c{n}")], "") for n in range(1, 13)]
    pushes[6] = (cp.CLUSTER, [cluster("c7", timeout=-1)], "")  # recorded as ACKed: the bug to find
    conversations.ads_recording(path, pushes)
    done = run(str(path), "--bisect", "--answer-timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the first push a fresh Envoy NACKs: push 7" in done.stdout
    assert "Invalid duration" in done.stdout and "sets c7" in done.stdout


def test_the_first_push_after_which_a_route_stops_answering(tmp_path: pathlib.Path) -> None:
    port = envoy_mod.free_port()
    path = tmp_path / "routes.xdsspy"
    listener = conversations.packed(cp.listener("web", route_config_name="web-routes", port=port))
    routes = cp.ROUTE
    pushes = [(cp.LISTENER, [listener], "")]
    pushes += [(routes, [answering("web-routes", f"hello {n}")], "") for n in range(2, 7)]
    gone = conversations.packed(cp.route_configuration("web-routes", cluster="missing"))  # 503 from push 7
    pushes += [(routes, [gone], "")] * 6
    conversations.ads_recording(path, pushes)
    fetch = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)"
    check = f'{sys.executable} -c "{fetch}"'
    done = run(str(path), "--bisect", "--check", check, "--answer-timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the check first failed after push 7" in done.stdout
    assert "the first push after which the check fails: push 7" in done.stdout
    assert "sets web-routes" in done.stdout


def test_a_check_that_never_passes_is_said_so(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "one.xdsspy"
    conversations.ads_recording(path, [(cp.CLUSTER, [cluster("a")], "")])
    done = run(str(path), "--bisect", "--check", "exit 3", "--answer-timeout", "20")
    assert done.returncode == 2 and "the check never passed" in done.stderr


def test_a_bootstrap_of_ones_own(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "three.xdsspy"
    conversations.ads_recording(
        path,
        [
            (cp.CLUSTER, [cluster("a")], ""),
            (cp.CLUSTER, [cluster("b", timeout=-1)], ""),
            (cp.CLUSTER, [cluster("c")], ""),
        ],
    )
    port = envoy_mod.free_port()
    options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{port}"), node_id="mine")
    given = tmp_path / "bootstrap.json"
    given.write_text(bootstrap.dumps(options))
    done = run(
        str(path),
        "--bisect",
        "--bootstrap",
        str(given),
        "--listen",
        f"127.0.0.1:{port}",
        "--answer-timeout",
        "20",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the first push a fresh Envoy NACKs: push 2" in done.stdout
