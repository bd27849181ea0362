"""Running a real Envoy: admin readiness, config dump, stats, stop and kill by PID, clear failures."""

from __future__ import annotations

import os
import pathlib
import signal
import socket

import pytest

from xdsspy import addresses
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy


def test_find_envoy_prefers_the_one_next_to_python(envoy_binary: str) -> None:
    assert os.access(envoy_binary, os.X_OK)


def test_free_port_is_bindable() -> None:
    port = envoy.free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_free_port_stays_below_the_ephemeral_range(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outgoing connections take their ports from the ephemeral range: a port chosen there can be
    handed to one of them before the test binds it (the race that made a REST proxy test flaky)."""
    ports = {envoy.free_port() for _ in range(20)}
    assert all(envoy.LISTEN_PORTS[0] <= port <= envoy.LISTEN_PORTS[1] for port in ports)
    assert len(ports) > 1  # chosen at random: parallel callers rarely meet

    wide = tmp_path / "ip_local_port_range"
    wide.write_text("1024\t65535\n")  # no room below the range: the kernel picks
    monkeypatch.setattr(envoy, "EPHEMERAL_RANGE_FILE", str(wide))
    port = envoy.free_port()
    assert port >= 1024
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_envoy_without_control_plane_serves_its_admin(envoy_binary: str, tmp_path: pathlib.Path) -> None:
    options = bootstrap.BootstrapOptions(
        xds=addresses.parse(f"127.0.0.1:{envoy.free_port()}"), node_id="harness"
    )
    with envoy.Envoy(options, tmp_path, binary=envoy_binary) as proxy:
        assert proxy.admin_port > 0 and proxy.running
        assert proxy.server_state() in {"PRE_INITIALIZING", "INITIALIZING"}  # waiting for CDS and LDS
        dump = proxy.config_dump()
        bootstrap_dump = next(c for c in dump["configs"] if c["@type"].endswith("BootstrapConfigDump"))
        assert bootstrap_dump["bootstrap"]["node"]["id"] == "harness"
        assert proxy.stats("control_plane")["control_plane.connected_state"] == 0
        status, _ = proxy.get("/server_info")
        assert status == 200
    assert proxy.stop() == 0  # SIGTERM is a clean exit; stopping twice is harmless
    assert not proxy.running
    assert "starting main dispatch loop" in (tmp_path / "envoy.log").read_text()


def test_wait_for_config_dump_says_what_never_happened(envoy_binary: str, tmp_path: pathlib.Path) -> None:
    options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{envoy.free_port()}"))
    with envoy.Envoy(options, tmp_path, binary=envoy_binary) as proxy:
        dump = proxy.wait_for_config_dump(lambda d: None if d["configs"] else "no configs")
        assert dump["configs"]
        with pytest.raises(envoy.EnvoyError, match=r"within 0.2 s: no clusters yet"):
            proxy.wait_for_config_dump(lambda d: "no clusters yet", timeout=0.2)


def test_kill_is_sigkill(envoy_binary: str, tmp_path: pathlib.Path) -> None:
    options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{envoy.free_port()}"))
    with envoy.Envoy(options, tmp_path, binary=envoy_binary) as proxy:
        assert proxy.kill() == -signal.SIGKILL


def test_a_failed_start_quotes_envoys_log(envoy_binary: str, tmp_path: pathlib.Path) -> None:
    options = bootstrap.BootstrapOptions(xds=addresses.parse("127.0.0.1:1"))
    broken = envoy.Envoy(options, tmp_path, binary=envoy_binary, extra_args=("--no-such-flag",))
    with pytest.raises(envoy.EnvoyError, match=r"(?s)Envoy exited with status 1\n.*no-such-flag"):
        broken.start()
    assert not broken.running


def test_a_missing_binary_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    options = bootstrap.BootstrapOptions(xds=addresses.parse("127.0.0.1:1"))
    with pytest.raises(envoy.EnvoyError, match="cannot run /nonexistent/envoy"):
        envoy.Envoy(options, tmp_path, binary="/nonexistent/envoy").start()
