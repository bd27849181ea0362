"""The timeline widget: every navigation key, the mouse, and only the lines on screen ever drawn."""

from __future__ import annotations

import pathlib

from textual import events
from textual import pilot as textual_pilot

from xdsspy.testing import pilot as pilot_mod
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
        await pilot.press("n")  # no NACK after it: the cursor stays, the header says so
        assert timeline.cursor == nack
        nowhere = [m for m in seen.messages if isinstance(m, timeline_view.TimelineView.Nowhere)]
        assert {m.why for m in nowhere} == {"no NACK after this row"}
        await seen.until(
            pilot, lambda: "no NACK after this row" in str(app.main.query_one("#header").render()), "the word"
        )
        await pilot.press("end", "N")
        assert timeline.cursor == nack
        await pilot.press("g", "down", "m", "down", "down", "m", "g", "M")
        assert timeline.marks == {1, 3} and timeline.cursor == 1
        await pilot.press("M")
        assert timeline.cursor == 3
        await pilot.press("m")
        assert timeline.marks == {1}
        await pilot.click(timeline_view.TimelineView, offset=(10, 6))  # a row under the pointer
        assert timeline.cursor == timeline.top + 5
        moved = [m for m in seen.messages if isinstance(m, timeline_view.TimelineView.Moved)]
        assert moved and moved[-1].position == timeline.cursor


async def test_a_long_recording_draws_only_what_is_on_screen(tmp_path: pathlib.Path) -> None:
    app = pilot_mod.busy_app(tmp_path, 20_000, envoys=10, big_pushes=0)
    seen = pilot_mod.Seen()
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        timeline = app.main.timeline
        assert len(timeline.view) > 20_000
        await pilot.press("G")
        await pilot.pause()
        drawn = len(timeline._lines)
        assert 0 < drawn <= 3 * timeline.size.height  # the top screen and the bottom one, not 20,000 lines
        assert timeline.top == len(timeline.view) - timeline.height  # the window ends on the last row
        await pilot.press("g")
        assert timeline.top == 0 and timeline.cursor == 0


async def test_the_wheel_and_the_scrollbar_move_the_window(tmp_path: pathlib.Path) -> None:
    app = pilot_mod.busy_app(tmp_path, 2_000, envoys=3, big_pushes=0)
    seen = pilot_mod.Seen()
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        timeline = app.main.timeline
        count, height = len(timeline.view), timeline.height
        assert timeline.top == 0 and timeline.cursor == 0
        await _wheel(pilot, timeline, down=True)
        assert timeline.top == 3 and timeline.cursor == 3  # the cursor stays in the window, at its edge
        await _wheel(pilot, timeline, down=False)
        assert timeline.top == 0 and timeline.cursor == 3  # in the window still: it stays on its row
        content = timeline.content_region
        bar = (content.right - 1 - timeline.region.x, content.y - timeline.region.y + height // 2)
        await pilot.click(timeline_view.TimelineView, offset=bar)  # half-way down the scrollbar
        assert abs(timeline.top - count // 2) <= count // height + 1  # the middle of the recording
        assert timeline.top <= timeline.cursor < timeline.top + height
        await pilot.press("G")
        await _wheel(pilot, timeline, down=True)
        assert timeline.top == count - height and timeline.cursor == count - 1  # no further than the end


async def _wheel(pilot: textual_pilot.Pilot[int], widget: timeline_view.TimelineView, *, down: bool) -> None:
    """One notch of the mouse wheel over the widget, routed by the app as a terminal's would be."""
    x, y = widget.region.x + 10, widget.region.y + 3
    kind = events.MouseScrollDown if down else events.MouseScrollUp
    pilot.app.post_message(
        kind(None, x, y, 0, 1 if down else -1, 0, False, False, False, screen_x=x, screen_y=y)
    )
    await pilot.pause()
