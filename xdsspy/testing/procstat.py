"""What /proc says a process has used so far: CPU seconds and resident memory, alone or with its children.

For the benchmarks and the load test, which compare processes they started
(Linux only; elsewhere each reading is 0).
"""

from __future__ import annotations

import contextlib
import os

from xdsspy.harness import proxy


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process so far, all its threads; 0 where unknown."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid: int | str, field: str = "VmRSS") -> int:
    """A kB field of /proc/PID/status (VmRSS, or VmHWM: the peak resident size); 0 where unknown.
    `pid` may be "self"."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def tree(pid: int) -> list[int]:
    """pid and every process under it (`xdsspy proxy` runs the capture, which runs the recorder)."""
    return [pid, *proxy.descendants(pid)]


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(each) for each in tree(pid))


def tree_status_kb(pid: int, field: str = "VmRSS") -> int:
    """status_kb of pid and every process under it, added up."""
    return sum(status_kb(each, field) for each in tree(pid))
