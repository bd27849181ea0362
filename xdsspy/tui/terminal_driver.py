"""Textual's Linux terminal driver, minus its restart on a SIGCONT that no suspend of its own preceded.

Textual's driver answers every SIGCONT by starting application mode again,
which starts a second key-reading thread beside the first. After a
`kill -STOP` and `kill -CONT` from outside (a debugger, a test freezing the UI,
a user pausing it), the two threads race for the exit signal at quit, and the
one that misses it keeps the process alive: `q` then never ends the program.
Ctrl-Z (SIGTSTP) still suspends and resumes as Textual intends; a SIGCONT
that follows no suspend only asks for a full repaint, since the screen may
have been drawn over meanwhile.
"""

from __future__ import annotations

from typing import Any

from textual.drivers.linux_driver import LinuxDriver


class ContinueSafeDriver(LinuxDriver):
    """See the module docstring."""

    def _sigcont_application(self, *args: Any) -> None:
        if self._must_signal_resume:  # set by Textual's own SIGTSTP handler when it suspended
            super()._sigcont_application(*args)
            return
        self._loop.call_soon_threadsafe(self._app.refresh)
