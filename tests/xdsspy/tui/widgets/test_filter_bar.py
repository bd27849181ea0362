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
        await pilot.press(*"~t CDS & (~nack")
        assert bar.has_class("-invalid")
        error = bar.query_one("#filter-error")
        assert "missing )" in str(error.render())
        field = bar.query_one("#filter-input")
        caret = error.content_region.x + str(error.render()).index("^")
        parenthesis = field.content_region.x + "~t CDS & (~nack".index("(")
        assert caret == parenthesis  # the caret is right under the ( that is not closed
        await pilot.press(")")
        assert not bar.has_class("-invalid")
        await pilot.press("escape")
        assert not bar.display and not app.main.filter.active
        assert any(isinstance(m, filter_bar.FilterBar.Cancelled) for m in seen.messages)
