"""The filter bar: errors with a caret while typing, never applied; Esc cancels."""

from __future__ import annotations

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.widgets import filter_bar

SIZE = (120, 40)


async def test_errors_show_as_you_type_and_escape_cancels() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        bar = app.main.query_one(filter_bar.FilterBar)
        assert not bar.display
        await pilot.press("slash")
        assert bar.display
        await pilot.press(*"(~nack")
        assert bar.has_class("-invalid")
        assert "missing )" in str(bar.query_one("#filter-error").render())
        await pilot.press(")")
        assert not bar.has_class("-invalid")
        await pilot.press("escape")
        assert not bar.display and not app.main.filter.active
        assert any(isinstance(m, filter_bar.FilterBar.Cancelled) for m in seen.messages)
