"""The pseudo-terminal harness: a program sees a terminal of the asked size, gets keys, its output is kept."""

from __future__ import annotations

import signal
import sys

from xdsspy.harness import terminal

PROGRAM = """
import os, sys
size = os.get_terminal_size()
print("tty", sys.stdin.isatty(), sys.stdout.isatty(), size.columns, size.lines, flush=True)
print("got", sys.stdin.readline().strip(), flush=True)
"""


def test_a_program_sees_a_terminal_of_the_asked_size_and_reads_keys() -> None:
    process = terminal.TerminalProcess([sys.executable, "-c", PROGRAM], size=(83, 21)).start()
    try:
        process.wait_for_output("tty True True 83 21")
        process.send(b"hello\r")
        process.wait_for_output("got hello")
        assert process.wait(10) == 0
    finally:
        process.stop()


def test_stop_ends_even_a_stopped_program() -> None:
    process = terminal.TerminalProcess([sys.executable, "-c", "import time; time.sleep(60)"]).start()
    import os

    os.kill(process.pid, signal.SIGSTOP)
    assert process.stop() == -signal.SIGTERM
