"""The header and the push-rate sparklines: the facts of a session at a glance."""

from __future__ import annotations

from textual.widgets import Sparkline

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.widgets import session_header
from xdsspy.viewmodel import filterexpr

SIZE = (120, 40)


async def test_the_header_says_file_size_envoys_rates_and_nacks() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        text = str(app.main.query_one("#header").render())
        for words in ("sotw-nack.xdsspy", "kB", "1 Envoy", "msg/s", "1 NACK", "[BROWSE]", "21 messages"):
            assert words in text, words
        rates = app.main.query_one(session_header.PushRates)
        cds = rates.query_one("#rate-CDS", Sparkline)
        assert sum(cds.data or []) == 3  # three CDS pushes in the recording
        assert "3 push(es)" in str(cds.tooltip)


async def test_an_active_filter_shows_before_the_figures_even_at_80_columns() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=(80, 24), message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        await pilot.press("slash", *"~nack | ~t CDS ~push", "enter")
        header = app.main.query_one("#header")
        await seen.until(pilot, lambda: "filter:" in str(header.render()), "the filter in the header")
        visible = app.main.query_one("#header").render_line(0).text
        assert "filter: ~nack | ~t CDS & ~push" in visible


async def test_a_long_filter_is_cut_in_the_header_not_wrapped_out_of_sight() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=(120, 40), message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        long = "~node sidecar~10.0.0.2~ratings-v1-xyz.default~default.svc.cluster.local | ~nack"
        app.main.apply_filter(filterexpr.compile(long))
        header = app.main.query_one("#header")
        await seen.until(pilot, lambda: "filter:" in str(header.render()), "the filter in the header")
        visible = header.render_line(0).text
        assert "filter: ~node sidecar" in visible and "…" in visible
        assert "1 NACK" in visible  # the figures after it are still on the one line
