"""The timeline widget: every navigation key, the mouse, and only the lines on screen ever drawn."""

from __future__ import annotations

import pathlib

from xdsspy.testing import busy_recording
from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui import app as app_mod
from xdsspy.tui.widgets import timeline_view

SIZE = (120, 40)


async def test_navigation_keys_marks_and_the_mouse() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        timeline = app.main.timeline
        last = len(timeline.view) - 1
        await pilot.press("G")
        assert timeline.cursor == last
        await pilot.press("g", "down", "down", "j")
        assert timeline.cursor == 3
        await pilot.press("up", "k")
        assert timeline.cursor == 1
        await pilot.press("pagedown")
        assert timeline.cursor == min(last, 1 + timeline.size.height - 1)
        await pilot.press("pageup", "home")
        assert timeline.cursor == 0
        await pilot.press("n")
        nack = timeline.cursor
        assert timeline.row is not None and timeline.row.is_nack
        await pilot.press("n")  # no NACK after it: the cursor stays, a notice says so
        assert timeline.cursor == nack
        await pilot.press("end", "N")
        assert timeline.cursor == nack
        await pilot.press("g", "down", "m", "down", "down", "m", "g", "M")
        assert timeline.marks == {1, 3} and timeline.cursor == 1
        await pilot.press("M")
        assert timeline.cursor == 3
        await pilot.press("m")
        assert timeline.marks == {1}
        await pilot.click(timeline_view.TimelineView, offset=(10, 6))  # a row under the pointer
        assert timeline.cursor == round(timeline.scroll_y) + 5
        moved = [m for m in seen.messages if isinstance(m, timeline_view.TimelineView.Moved)]
        assert moved and moved[-1].position == timeline.cursor


async def test_a_long_recording_draws_only_what_is_on_screen(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "busy.xdsspy"
    busy_recording.write(str(path), 20_000, envoys=10, big_pushes=0)
    seen = pilot_mod.Seen()
    app = app_mod.make_app(str(path))
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        timeline = app.main.timeline
        assert len(timeline.view) > 20_000
        await pilot.press("G")
        await pilot.pause()
        drawn = len(timeline._lines)
        assert 0 < drawn <= 3 * timeline.size.height  # the top screen and the bottom one, not 20,000 lines
        assert timeline.virtual_size.height == len(timeline.view)
