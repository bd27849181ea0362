"""The main screen: filtering (and bad expressions), choosing an Envoy, the Envoys pane at the moment."""

from __future__ import annotations

import pathlib

from xdsspy.testing import pilot as pilot_mod
from xdsspy.viewmodel import envoys
from xdsspy.viewmodel import words

SIZE = (120, 40)


async def test_filter_and_bad_expressions_are_shown_where_they_are_wrong() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        main = app.main
        assert len(main.timeline.view) == len(app.index.rows) == 25
        await pilot.press("slash", *"~t cds & ~bogus")
        error = str(main.query_one("#filter-error").render())
        assert "unknown filter ~bogus" in error and "^" in error
        await pilot.press("enter")
        assert not main.filter.active  # a bad expression is never applied
        for _ in "~bogus":
            await pilot.press("backspace")
        await pilot.press(*"~nack", "enter")
        await seen.until(pilot, lambda: main.filter.active and len(main.timeline.view) == 1, "the filter")
        assert main.timeline.view.row(0).is_nack and main.timeline.has_focus
        assert "~t cds & ~nack" in str(main.query_one("#header").render())
        await pilot.press("escape")  # clears the filter
        await seen.until(pilot, lambda: len(main.timeline.view) == 25, "the filter cleared")


async def test_choose_an_envoy_and_the_pane_shows_the_selected_moment() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        main = app.main
        assert main.envoys.rows_shown == []  # at row #1 no Envoy had said who it was
        await pilot.press("n")  # the NACK: CDS is NACKED at this moment (once the cursor rests)
        row = main.timeline.row
        assert row is not None and row.is_nack and row.step.seq == 23

        def cds_is(status: envoys.SyncStatus) -> bool:
            current = main.envoys.current
            sync = current.sync("CDS") if current is not None else None
            return sync is not None and sync.status == status

        await seen.until(pilot, lambda: cds_is(envoys.SyncStatus.NACKED), "the pane at the NACK")
        main.timeline.cursor = 20  # before it: the push #22 is not sent yet
        await seen.until(pilot, lambda: cds_is(envoys.SyncStatus.SYNCED), "the pane before the push")
        assert "CDS SYNCED sent 2 acked 2" in str(main.query_one("#envoy-detail").render())
        await pilot.press("tab")  # to the Envoys pane
        assert main.envoys.has_focus
        await pilot.press("enter")  # only this Envoy
        await seen.until(pilot, lambda: main.filter.active, "the Envoy's filter")
        assert str(main.filter) == "~node sample-sotw" and main.timeline.has_focus
        assert all(
            main.timeline.view.row(i).node in ("", "sample-sotw") for i in range(len(main.timeline.view))
        )


async def test_narrow_terminals_keep_every_pane() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("rest-reject.xdsspy")
    async with app.run_test(size=(80, 24), message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        for pane in ("#header", "#rates", "#envoys", "#envoy-detail", "#timeline"):
            region = app.main.query_one(pane).region
            assert region.height >= 1 and region.width == 80, pane
        assert app.main.query_one("#timeline").region.height >= 10


async def test_the_pane_selects_the_envoy_of_the_selected_message(tmp_path: pathlib.Path) -> None:
    app = pilot_mod.busy_app(tmp_path, 1_000, envoys=4, big_pushes=0)
    seen = pilot_mod.Seen()
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        main = app.main
        await pilot.press("G")
        for _ in range(6):  # a few messages of different Envoys
            await pilot.press("up")
            row = main.timeline.row
            if row is None or not row.node:
                continue
            node = row.node

            def selected(node: str = node) -> bool:
                current = main.envoys.current
                return current is not None and current.identity.node == node

            await seen.until(pilot, selected, f"the pane on {node}")
            assert words.short_node(node) in str(main.query_one("#envoy-detail").render())
