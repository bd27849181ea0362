"""The app's messages: progress reports coalesce (only the newest one is handled)."""

from __future__ import annotations

from xdsspy.tui import messages
from xdsspy.viewmodel import index


def _progress(rows: int) -> index.Progress:
    return index.Progress(
        rows=rows, messages=rows, bytes=0, nacks=0, file_size=0, done=False, caught_up=False
    )


def test_a_newer_progress_report_replaces_a_pending_one() -> None:
    older, newer = messages.IndexProgress(_progress(1)), messages.IndexProgress(_progress(2))
    assert newer.can_replace(older)
    assert not newer.can_replace(messages.CaptureEnded(0, ""))
    assert not messages.CaptureEnded(1, "").can_replace(older)
