"""The app as a whole: it follows a recording that grows, reports an unreadable one, and quits cleanly."""

from __future__ import annotations

import os
import pathlib

from xdsspy.record import writer
from xdsspy.testing import factories as f
from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui import app as app_mod
from xdsspy.tui import messages

SIZE = (120, 40)


async def test_follow_a_recording_that_grows_pause_and_go_back(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "growing.xdsspy"
    w = writer.RecordingWriter(path, linger_s=0.001)
    w.publish(f.topen(seq=1))
    seen = pilot_mod.Seen()
    app = app_mod.make_app(os.fspath(path), follow=True)
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        assert app.main is not None
        main = app.main
        await seen.until(pilot, lambda: len(main.timeline.view) == 1, "the first row")
        for seq in range(2, 12):
            w.publish(f.tmessage(b"\x0a\x01x", seq=seq, method=f.ADS))
        await seen.until(pilot, lambda: len(main.timeline.view) == 11, "ten more rows")
        assert main.following and main.timeline.cursor == 10  # the newest row is in view
        header = main.query_one("#header")
        await seen.until(  # caught up with the writer: a following view is never done, but not behind
            pilot,
            lambda: app.index.caught_up and "indexing" not in str(header.render()),
            "the header to say nothing is left to index",
        )
        await pilot.press("space")  # pause the display: the capture goes on
        assert main.mode == "PAUSED"
        header = main.query_one("#header")
        await seen.until(pilot, lambda: "display paused" in str(header.render()), "the word in the header")
        w.publish(f.tmessage(b"\x0a\x01y", seq=12, method=f.ADS))
        await seen.until(pilot, lambda: app.index.messages == 11, "the index to read on")
        assert len(main.timeline.view) == 11
        await pilot.press("space")
        assert len(main.timeline.view) == 12 and main.timeline.cursor == 11
        await pilot.press("g")  # going back in time stops following
        assert not main.following and main.timeline.cursor == 0 and main.mode == "BROWSE"
        w.publish(f.tstop(seq=13))
        w.close()
        await seen.until(pilot, seen.indexed, "the capture's end")
    assert any(isinstance(m, messages.IndexProgress) for m in seen.messages)


async def test_a_file_that_is_no_recording_is_said_so_on_screen(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "not.xdsspy"
    path.write_bytes(b"\x89XDS\r\n\x1a\n" + b"\xff" * 20)  # a header that does not hold
    seen = pilot_mod.Seen()
    app = app_mod.make_app(os.fspath(path))
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index to give up")
        assert "header" in app.index.error
        await seen.until(
            pilot, lambda: any("cannot read" in str(n.title) for n in app._notifications), "a notice"
        )
        await pilot.press("q")
    assert app.return_code == 0
