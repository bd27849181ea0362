"""The demo's pusher: each step pushes just the types that changed; a failing control plane is said once."""

from __future__ import annotations

import threading
from typing import Any

from xdsspy.controlplane import resources as res
from xdsspy.demo import runner
from xdsspy.demo import scenario


def test_only_changed_types_are_pushed() -> None:
    pushed: list[tuple[int, str]] = []
    step = [0]
    pusher = runner.Pusher(lambda t, m: pushed.append((step[0], t)) or "v", False, 60.0, lambda s: None)
    pusher.push_step(0)
    assert {t for _, t in pushed} == set(scenario.TYPES)
    for n in range(1, 6):
        step[0] = n
        pusher.push_step(n)
    by_step = {n: {t for s, t in pushed if s == n} for n in range(1, 6)}
    assert by_step[1] == {res.ROUTE}  # the reviews weights
    assert by_step[2] >= {res.CLUSTER, res.ENDPOINT, res.ROUTE}  # ratings-v2 added
    assert by_step[4] == {res.CLUSTER} and by_step[5] == {res.CLUSTER}  # broken, then fixed


def test_a_control_plane_that_fails_stops_the_pushes_with_one_line() -> None:
    said: list[str] = []
    failed = threading.Event()

    def push(type_url: str, messages: list[Any]) -> str:
        if said or failed.is_set():
            failed.set()
            raise ConnectionError("control plane gone")
        return "v"

    pusher = runner.Pusher(push, False, 0.01, said.append).start()
    assert failed.wait(5)
    pusher.stop()
    assert pusher.errors and "control plane gone" in pusher.errors[0]


def test_the_default_recording_is_named_after_the_time_in_the_current_directory() -> None:
    name = runner.default_record()
    assert name.endswith(".xdsspy") and "xdsspy-demo-" in name
