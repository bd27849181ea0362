"""A UI frozen from outside (SIGSTOP) and continued (SIGCONT) still quits on `q`."""

from __future__ import annotations

import os
import pathlib
import signal
import sys

import pytest

from xdsspy.harness import terminal
from xdsspy.tui import app as app_mod
from xdsspy.tui import terminal_driver

SAMPLE = pathlib.Path(__file__).parents[3] / "recordings" / "demo-sotw.xdsspy"
ROUNDS = 5
"""Textual's own driver hung at quit in about two rounds in five here: five make a miss unlikely."""


def test_the_app_runs_on_the_continue_safe_driver_in_a_terminal() -> None:
    app = app_mod.make_app(SAMPLE)
    chosen = app.get_driver_class()
    assert chosen is terminal_driver.ContinueSafeDriver or sys.platform != "linux"


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux terminal driver only")
def test_q_quits_after_an_outside_stop_and_continue() -> None:
    for round_ in range(ROUNDS):
        ui = terminal.TerminalProcess(
            [sys.executable, "-m", "xdsspy", "view", str(SAMPLE)], size=(100, 30)
        ).start()
        try:
            ui.wait_for_output("Envoy")
            os.kill(ui.pid, signal.SIGSTOP)
            os.kill(ui.pid, signal.SIGCONT)
            ui.wait_for_output("\x1b[", timeout=10)  # drawing again
            before = len(ui.output())
            ui.send(b"?")  # the help screen: proof the app reads keys again before `q` is sent
            ui.wait_for_output("filter", timeout=10)
            assert len(ui.output()) > before
            ui.send(b"q")
            ui.send(b"q")
            assert ui.wait(20) == 0, f"round {round_}: {ui.output()[-1500:]}"
        finally:
            ui.stop()
