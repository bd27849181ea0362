"""Run xdsspy itself (`python -m xdsspy proxy|record`) as a child process, the way a user would.

Driving the real command line, rather than the capture classes in-process,
covers argument parsing, the capture subprocess, signal handling and the
final flush of the recording. The process is stopped with a signal, like
Ctrl-C, and only killed (with its own children, by PID) if it does not exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO

from xdsspy import addresses
from xdsspy import errors

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0

_READY_LINE = "xdsspy: forwarding "
"""What the capture process prints once every listen address is bound (runner.run_capture)."""


class XdsspyProcessError(errors.XdsspyError):
    """xdsspy did not start listening, or did not stop."""


def _accepts(address: addresses.Address) -> bool:
    family = socket.AF_UNIX if address.is_unix else socket.AF_INET6 if ":" in address.host else socket.AF_INET
    target: str | tuple[str, int] = address.unix_path if address.is_unix else (address.host, address.port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(target)
        except OSError:
            return False
    return True


def _children(pid: int) -> list[int]:
    """Direct children of pid, from Linux's /proc (empty elsewhere)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def descendants(pid: int, limit: int = 64) -> list[int]:
    """Children, grandchildren...: `xdsspy proxy` runs the capture, which runs the recorder."""
    found: list[int] = []
    pending = _children(pid)
    while pending and len(found) < limit:
        child = pending.pop(0)
        found.append(child)
        pending += _children(child)
    return found


class XdsspyProcess:
    """`python -m xdsspy <command> --listen ... --upstream ... [--record FILE]` in a child process."""

    def __init__(
        self,
        listen: Sequence[str],
        upstream: str,
        workdir: str | os.PathLike[str],
        *,
        record: str | os.PathLike[str] | None = None,
        command: str = "proxy",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.listen = [addresses.parse(a) for a in listen]
        for address in self.listen:
            if not address.is_unix and address.port == 0:
                raise ValueError(f"give xdsspy a real port to listen on, not {address}")
        self.upstream = upstream
        self.workdir = os.fspath(workdir)
        self.record = os.fspath(record) if record is not None else None
        self.command = command
        self.extra_args = tuple(extra_args)
        self.output_path = os.path.join(self.workdir, f"xdsspy-{command}.out")
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "xdsspy", self.command]
        if self.command == "proxy":
            argv.append("--headless")
        for address in self.listen:
            argv += ["--listen", str(address)]
        argv += ["--upstream", self.upstream]
        if self.record is not None:
            argv += ["--record", self.record]
        return argv + list(self.extra_args)

    def start(self, timeout: float = START_TIMEOUT_S) -> XdsspyProcess:
        """Start xdsspy and wait until every listen address accepts connections."""
        os.makedirs(self.workdir, exist_ok=True)
        self._output = open(self.output_path, "wb")  # closed by stop()
        self._process = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        waiting = list(self.listen)
        while waiting:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise XdsspyProcessError(
                    f"xdsspy exited with status {code} before listening\n{self.output_tail()}"
                )
            # Its own word first: on a busy port, something else may be what accepts connections.
            if _READY_LINE in self.output():
                waiting = [a for a in waiting if not _accepts(a)]
            if waiting and time.monotonic() >= deadline:
                self.stop()
                raise XdsspyProcessError(
                    f"xdsspy did not listen on {', '.join(map(str, waiting))} within {timeout:g} s\n"
                    f"{self.output_tail()}"
                )
            if waiting:
                time.sleep(0.05)
        return self

    def stop(self, signum: int = signal.SIGINT, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Signal xdsspy (SIGINT, like Ctrl-C) and wait; kill it and its children if it hangs.

        Returns its exit status, or None if it was never started. After this the
        recording is complete: xdsspy writes its last records before exiting.
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            family = descendants(process.pid)
            process.send_signal(signum)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                for child in dict.fromkeys(family + descendants(process.pid)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                process.kill()
                process.wait(timeout)
                self._close_output()
                raise XdsspyProcessError(
                    f"xdsspy did not exit within {timeout:g} s of signal {signum}; killed\n"
                    f"{self.output_tail()}"
                ) from None
        self._close_output()
        return process.returncode

    def __enter__(self) -> XdsspyProcess:
        return self.start() if self._process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise XdsspyProcessError("xdsspy was not started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        try:
            with open(self.output_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def output_tail(self, lines: int = 30) -> str:
        text = self.output().splitlines()[-lines:]
        return f"--- {self.output_path} (last {len(text)} lines) ---\n" + "\n".join(text)

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None
