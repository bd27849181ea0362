"""The terminal UI's app: runs the index worker over one recording (live or not) and hosts the screens.

The app follows the recording file exactly as `show --follow` does, so a live
session and a recording are one code path, and the capture process never
waits for it (it only writes the file). Workers post messages; handlers here
and on the screens own every change to what is shown.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from typing import ClassVar

from textual import events
from textual import on
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.binding import BindingType
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.worker import Worker
from textual.worker import WorkerState

from xdsspy.tui import commands
from xdsspy.tui import messages
from xdsspy.tui import terminal_driver
from xdsspy.tui.screens import help_screen
from xdsspy.tui.screens import timeline_screen
from xdsspy.viewmodel import index as index_mod

if TYPE_CHECKING:
    from xdsspy import session

CAPTURE_WATCH_S = 0.5
STARTUP_ASIDE_S = 0.3
"""Indexing waits this long at start-up, while the screen lays itself out and draws everything once."""


class XdsspyApp(App[int]):
    """See the module docstring. `make_app` builds one for a file or a live session."""

    CSS_PATH = "app.tcss"
    TITLE = "xdsspy"
    COMMANDS = App.COMMANDS | {commands.XdsspyCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit (a live capture stops too)"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", tooltip="Every key, every filter"),
    ]

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        follow: bool = False,
        live: session.Live | None = None,
    ) -> None:
        super().__init__()
        self.index = index_mod.RecordingIndex(path)
        self.follow = follow or live is not None
        self.live = live
        self.main: timeline_screen.TimelineScreen | None = None
        self._stopping = False
        self._log_seen = 0
        self.sub_title = os.fspath(path)

    def get_driver_class(self) -> type[Driver]:
        chosen = super().get_driver_class()
        # Textual's own Linux driver hangs at quit after an outside SIGSTOP/SIGCONT (terminal_driver).
        return terminal_driver.ContinueSafeDriver if chosen is LinuxDriver else chosen

    def on_mount(self) -> None:
        self.main = timeline_screen.TimelineScreen(self.index, follow=self.follow, live=self.live is not None)
        self.push_screen(self.main)
        # The screen's first frames (layout, every widget drawn once) come first; indexing then.
        self.index.step_aside(STARTUP_ASIDE_S)
        self.run_index()
        if self.live is not None:
            self.set_interval(CAPTURE_WATCH_S, self._watch_capture)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.index.step_aside()  # the user comes first: the indexing pauses while the screen answers
        await super().on_event(event)

    @work(thread=True, exit_on_error=False, group="index", name="index")
    def run_index(self) -> None:
        """Index the recording, following it while the capture (or another xdsspy) writes it."""

        def report(progress: index_mod.Progress) -> None:
            self.post_message(messages.IndexProgress(progress))

        self.index.run(follow=self.follow, should_stop=lambda: self._stopping, on_progress=report)

    def on_index_progress(self, event: messages.IndexProgress) -> None:
        if self.main is not None:
            self.main.on_index_progress(event)
        if event.progress.done and self.index.error:
            self.notify(self.index.error, title="cannot read the recording", severity="error", timeout=30)
        if event.progress.done and self.index.problems:
            problems = "; ".join(str(p) for p in self.index.problems[:3])
            self.notify(
                problems, title="parts of the recording were unreadable", severity="warning", timeout=15
            )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "index" and event.state == WorkerState.ERROR:
            self.notify(
                f"indexing stopped: {event.worker.error!r}; what was indexed stays browsable",
                title="indexing failed",
                severity="error",
                timeout=30,
            )

    def _watch_capture(self) -> None:
        live = self.live
        if live is None:
            return
        if live.stop_requested:  # SIGTERM or SIGINT reached the front end: the capture is stopping
            self.exit(0)
            return
        log = live.log()
        for line in log[self._log_seen :].splitlines():
            line = line.removeprefix("xdsspy: ").strip()
            if line and not line.startswith(("forwarding", "stopping")):
                self.notify(line, title="capture", severity="warning", timeout=10)
        self._log_seen = len(log)
        if not live.running and not live.stop_requested:
            self.post_message(messages.CaptureEnded(live.process.returncode or 0, log))
            self.live = None

    def on_capture_ended(self, event: messages.CaptureEnded) -> None:
        self.notify(
            f"the capture process exited with status {event.returncode}; the recording stays browsable",
            title="capture ended",
            severity="error" if event.returncode else "information",
            timeout=30,
        )

    def action_help(self) -> None:
        if not isinstance(self.screen, help_screen.HelpScreen):
            self.push_screen(help_screen.HelpScreen())

    async def action_quit(self) -> None:
        self._stopping = True
        self.exit(0)

    def on_unmount(self) -> None:
        self._stopping = True
        self.index.close()


def make_app(
    path: str | os.PathLike[str], *, follow: bool = False, live: session.Live | None = None
) -> XdsspyApp:
    """The app over one recording: `follow` tails a file another xdsspy writes; `live` is our own capture."""
    return XdsspyApp(path, follow=follow, live=live)
