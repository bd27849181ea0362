"""The load scenario of issue 14, shared by its test and its bench: hundreds of Envoys through one xdsspy.

One control plane (the built-in one) on loopback; `xdsspy record` in front of
it, recording; a swarm of simulated Envoys (ads_swarm, a process of its own)
through xdsspy; and two real Envoys, one through xdsspy and one straight to
the control plane. Every push goes to all of them at once, so the two real
Envoys' push→ACK times are measured on the same push, under the same load:
their difference is what xdsspy adds. The real Envoys connect first, so the
control plane serves them before the swarm on every push (it writes to
streams in the order they opened).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from typing import Any

from xdsspy import addresses
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy as envoy_mod
from xdsspy.harness import proxy
from xdsspy.testing import procstat

THROUGH = "load-through-xdsspy"
DIRECT = "load-direct"
READY_TIMEOUT_S = 120.0
PUSH_TIMEOUT_S = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class Push:
    """One push of every cluster, and when each side had it: seconds after it was sent."""

    version: str
    direct_ack_s: float  # the real Envoy straight to the control plane: its ACK came back
    through_ack_s: float  # the real Envoy through xdsspy: its ACK came back
    direct_applied_s: float  # the real Envoy straight to the control plane applied it (to the ms)
    through_applied_s: float  # the real Envoy through xdsspy applied it (to the ms)
    swarm_all_s: float  # the last of the simulated Envoys received it


@dataclasses.dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory of xdsspy's processes (capture and recorder), in kB, at three moments."""

    before_swarm_kb: int
    swarm_connected_kb: int
    after_pushes_kb: int
    peak_kb: int  # the highest resident size each process had (VmHWM), added up

    def per_stream_kb(self, streams: int) -> float:
        """What the streams cost, at the worst moment: the peak over the size before they came."""
        worst = max(self.swarm_connected_kb, self.after_pushes_kb, self.peak_kb)
        return (worst - self.before_swarm_kb) / streams


def clusters(count: int, generation: int) -> list[Any]:
    """`count` static clusters (nothing to warm: Envoy ACKs as soon as it has applied them), all of
    which change with each generation."""
    return [
        res.static_cluster(f"svc-{i}", [("127.0.0.1", 10000 + (i + generation) % 5000)]) for i in range(count)
    ]


class SwarmProcess:
    """ads_swarm in a child process; its JSON lines are read as they come."""

    def __init__(self, target: str, count: int) -> None:
        self.count = count
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xdsspy.testing.ads_swarm", "--target", target, "--count", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.facts: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="swarm-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.facts.append(json.loads(line))
                self._changed.notify_all()
        with self._changed:
            self.facts.append({"event": "exited"})
            self._changed.notify_all()

    def wait_for(self, event: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """The first fact of that event (and fields); TimeoutError, or RuntimeError if the swarm exited."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for fact in self.facts:
                    if fact["event"] == event and all(fact.get(k) == v for k, v in fields.items()):
                        return fact
                if any(fact["event"] == "exited" for fact in self.facts):
                    raise RuntimeError(f"the swarm exited before {event} {fields}: {self.facts[-5:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"the swarm: no {event} {fields} within {timeout:g} s: {self.facts[-5:]}"
                    )
                self._changed.wait(remaining)

    def ended(self) -> list[dict[str, Any]]:
        with self._changed:
            return [fact for fact in self.facts if fact["event"] == "ended"]

    def stop(self) -> dict[str, Any]:
        """Stop it (the end of its stdin, then SIGTERM by its PID) and return its summary."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(30)
        self._reader.join(5)
        return next((f for f in self.facts if f["event"] == "summary"), {})


class LoadScenario:
    """See the module docstring: `with LoadScenario(workdir, streams=500) as load: load.push()`."""

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        streams: int = 500,
        cluster_count: int = 50,
        envoy_binary: str | None = None,
        xdsspy_cpus: set[int] | None = None,
        others_cpus: set[int] | None = None,
    ) -> None:
        self.workdir = pathlib.Path(workdir)
        self.streams = streams
        self.cluster_count = cluster_count
        self.envoy_binary = envoy_binary
        self.xdsspy_cpus = xdsspy_cpus
        self.others_cpus = others_cpus
        self.record = self.workdir / "load.xdsspy"
        self.cp = server.ControlPlane(f"127.0.0.1:{envoy_mod.free_port()}", keep_messages=False)
        self.xdsspy: proxy.XdsspyProcess | None = None
        self.envoys: dict[str, envoy_mod.Envoy] = {}
        self.swarm: SwarmProcess | None = None
        self.generation = 0
        self._before_swarm_kb = 0
        self._connected_kb = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LoadScenario:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.others_cpus is not None:
            self._stack.callback(os.sched_setaffinity, 0, os.sched_getaffinity(0))
            os.sched_setaffinity(0, self.others_cpus)  # this process (control plane) and what it starts
        self.cp.start()
        self._stack.callback(self.cp.stop)
        first = {
            res.CLUSTER: self.cp.set_resources(res.CLUSTER, clusters(self.cluster_count, 0)),
            res.LISTENER: self.cp.set_resources(res.LISTENER, []),
        }
        listen = f"127.0.0.1:{envoy_mod.free_port()}"
        self.xdsspy = proxy.XdsspyProcess(
            [listen], self.cp.address, self.workdir, record=self.record, command="record"
        ).start()
        self._stack.callback(self.xdsspy.stop)
        if self.xdsspy_cpus is not None:
            _pin_all(self.xdsspy.pid, self.xdsspy_cpus)
        for node, xds in ((THROUGH, listen), (DIRECT, self.cp.address)):
            options = bootstrap.BootstrapOptions(xds=addresses.parse(xds), node_id=node)
            one = envoy_mod.Envoy(options, self.workdir / node, binary=self.envoy_binary)
            self.envoys[node] = one
            self._stack.callback(one.stop)
            one.start()
        for node in self.envoys:
            for type_url, version in first.items():
                self.cp.wait_for_ack(type_url, version, node_id=node, timeout=30)
        self._before_swarm_kb = procstat.tree_status_kb(self.xdsspy.pid)
        self.swarm = SwarmProcess(listen, self.streams)
        self._stack.callback(self.swarm.stop)
        self.swarm.wait_for("ready", READY_TIMEOUT_S)
        self._connected_kb = procstat.tree_status_kb(self.xdsspy.pid)

    def push(self) -> Push:
        """Change every cluster; wait until both real Envoys ACKed and every simulated one has it."""
        assert self.swarm is not None
        self.generation += 1
        mark = self.cp.mark()
        sent_wall = time.time()
        sent = time.monotonic()
        version = self.cp.set_resources(res.CLUSTER, clusters(self.cluster_count, self.generation))
        came: dict[str, float] = {}

        def both() -> dict[str, float] | None:
            for ack in self.cp.journal.acks(mark):
                if ack.type_url == res.CLUSTER and ack.version == version and ack.node_id in self.envoys:
                    came.setdefault(ack.node_id, ack.at)
            return came if len(came) == len(self.envoys) else None

        self.cp.journal.wait(both, PUSH_TIMEOUT_S, f"ACKs of {version} from both real Envoys")
        everyone = self.swarm.wait_for("complete", PUSH_TIMEOUT_S, type=res.CLUSTER, version=version)
        applied = {node: _cds_updated_at(one) - sent_wall for node, one in self.envoys.items()}
        return Push(
            version,
            came[DIRECT] - sent,
            came[THROUGH] - sent,
            applied[DIRECT],
            applied[THROUGH],
            everyone["last"] - sent,
        )

    def memory(self) -> Memory:
        assert self.xdsspy is not None
        pid = self.xdsspy.pid
        return Memory(
            self._before_swarm_kb,
            self._connected_kb,
            procstat.tree_status_kb(pid),
            procstat.tree_status_kb(pid, "VmHWM"),
        )

    def xdsspy_cpu_s(self) -> float:
        assert self.xdsspy is not None
        return procstat.tree_cpu_seconds(self.xdsspy.pid)

    def stop(self) -> None:
        """Stop everything it started, in reverse order (each by its PID), and finish the recording."""
        self._stack.close()


def _cds_updated_at(one: envoy_mod.Envoy) -> float:
    """When Envoy last accepted a CDS update (its `cluster_manager.cds.update_time`: ms since the epoch)."""
    value = one.stats("^cluster_manager\\.cds\\.update_time$").get("cluster_manager.cds.update_time", 0)
    return int(value) / 1000


def _pin_all(pid: int, cpus: set[int]) -> None:
    """Every thread of pid and of the processes under it on `cpus` (affinity is per thread)."""
    for each in [pid, *proxy.descendants(pid)]:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{each}/task"):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task), cpus)
