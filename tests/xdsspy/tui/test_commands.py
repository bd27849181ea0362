"""The command palette: jumps, filters and one entry per Envoy, found by typing a few letters."""

from __future__ import annotations

from xdsspy.testing import pilot as pilot_mod

SIZE = (120, 40)


async def test_the_palette_filters_and_names_each_envoy() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        main = app.main
        await pilot.press("ctrl+p", *"only NACKs", "enter")
        await seen.until(pilot, lambda: str(main.filter) == "~nack", "the palette's filter")
        await pilot.press("ctrl+p", *"only Envoy sample", "enter")
        await seen.until(pilot, lambda: "sample-delta" in str(main.filter), "the Envoy's filter")
        await pilot.press("ctrl+p", *"first NACK", "enter")
        await pilot.pause()
        assert main.timeline.row is not None and main.timeline.row.is_nack
