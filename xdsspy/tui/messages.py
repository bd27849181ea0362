"""Messages the terminal UI's workers and widgets post to the app: what happened, never what to draw."""

from __future__ import annotations

import dataclasses

from textual import message

from xdsspy.viewmodel import index


@dataclasses.dataclass
class IndexProgress(message.Message, bubble=False):
    """The index worker added rows (posted at most every index.PROGRESS_INTERVAL_S, and at the end).

    Only the latest one matters: a pending one is replaced by the next.
    """

    progress: index.Progress

    def can_replace(self, message: message.Message) -> bool:
        return isinstance(message, IndexProgress)


@dataclasses.dataclass
class CaptureEnded(message.Message, bubble=False):
    """The capture process of a live session exited (its status, and what it printed)."""

    returncode: int
    log: str
