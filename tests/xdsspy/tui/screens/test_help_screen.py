"""The help screen lists every binding and every filter, from their own definitions."""

from __future__ import annotations

import html
import re

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.screens import help_screen
from xdsspy.viewmodel import filters

SIZE = (120, 40)


def _screen_text(app: object) -> str:
    svg = app.export_screenshot()  # type: ignore[attr-defined]
    return html.unescape(" ".join(re.findall(r">([^<>]*)</text>", svg))).replace("\xa0", " ")


def test_every_binding_of_every_screen_is_listed() -> None:
    sections = dict(help_screen.key_sections())
    actions = {binding.action for bindings in sections.values() for binding in bindings}  # type: ignore[union-attr]
    wanted = {"next_nack", "previous_nack", "first", "last", "mark", "open", "filter", "toggle_follow"}
    wanted |= {"toggle_pause", "save", "resources", "quit", "help", "command_palette", "history", "diff"}
    assert wanted <= actions, wanted - actions


async def test_help_shows_keys_then_filters() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("question_mark")
        assert isinstance(app.screen, help_screen.HelpScreen)
        text = _screen_text(app)
        for words in ("Jump to the next NACK", "Filter the timeline", "Command palette", "Mark or unmark"):
            assert words in text, words
        await pilot.press("end")
        text = _screen_text(app)
        for syntax, _ in filters.help_rows()[-5:]:
            assert syntax in text, syntax
        await pilot.press("escape")
        assert app.screen is app.main
