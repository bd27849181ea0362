"""Run a command in a pseudo-terminal of a chosen size, as a user's terminal would: keys in, screen out.

For end-to-end tests of the terminal UI (`xdsspy proxy` opens it only when it
runs in a terminal). A thread drains the terminal's output all the time, so
the program never blocks on a full terminal buffer unless a test wants it to.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence


class TerminalProcess:
    """One command on its own pseudo-terminal. Stop it with stop(); only its own PID is signalled."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        size: tuple[int, int] = (120, 40),
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.size = size
        self.env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._master = -1
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def start(self) -> TerminalProcess:
        master, slave = pty.openpty()
        columns, lines = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.process = subprocess.Popen(
            self.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # its own session: the pty is its controlling terminal
        )
        os.close(slave)
        self._master = master
        self._reader = threading.Thread(target=self._drain, name="terminal-drain", daemon=True)
        self._reader.start()
        return self

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return  # the program closed the terminal
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def send(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def output(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace")

    def wait_for_output(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process is not None and self.process.poll() is not None and text not in self.output():
                raise AssertionError(
                    f"{self.argv!r} exited ({self.process.returncode}) without printing {text!r}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {timeout} s; the tail:\n{self.output()[-2000:]}"
                )
            time.sleep(0.05)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the process (a stopped one is continued first) and wait; kill it if it does not end."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            os.kill(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        if self._reader is not None:
            self._reader.join(2)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
        return process.returncode
