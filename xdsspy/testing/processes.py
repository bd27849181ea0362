"""Start and stop helper processes for tests: free ports, waits with clear failures, PID-only kills."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence

from xdsspy.harness import envoy

free_port = envoy.free_port  # one way to find a free port, kept where the harness needs it


async def until(condition: Callable[[], object], limit_s: float = 10.0) -> None:
    """Wait (in an event loop) until condition() is true; fail clearly after limit_s."""
    for _ in range(int(limit_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {limit_s} s")


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"process {proc.args!r} exited with {proc.returncode} before port {port} opened"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"port {port} did not open within {timeout}s")


def xdsspy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "xdsspy", *args]


_LIMIT_SHIM = (
    "import os, resource, sys; limit = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); os.execv(sys.argv[2], sys.argv[2:])"
)


def with_address_space(limit_bytes: int, argv: Sequence[str]) -> list[str]:
    """argv (its first item a path) run with its address space capped (RLIMIT_AS) by a shim that then
    execs it.

    Not subprocess's preexec_fn: that runs between fork and exec in the calling process's copy, and a
    test process has grpc's threads and fork handlers, which can abort the child there (seen in CI as
    "epoll_wait error: Bad file descriptor" and a SIGABRT before xdsspy ever ran).
    """
    return [sys.executable, "-c", _LIMIT_SHIM, str(limit_bytes), *argv]


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    """Signal proc (by its PID only) and wait; kill it if it does not end in time."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def started(cmd: list[str], port: int | None = None, **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    proc: subprocess.Popen[bytes] = subprocess.Popen(cmd, **popen)  # type: ignore[call-overload]
    try:
        if port is not None:
            wait_for_port(port, proc)
        yield proc
    finally:
        stop(proc)
