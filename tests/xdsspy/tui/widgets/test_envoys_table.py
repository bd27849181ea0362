"""The Envoys pane: istioctl's words in their colours, versions beside them, redrawn only on change."""

from __future__ import annotations

import pathlib

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.screens import resources_screen
from xdsspy.tui.widgets import envoys_table
from xdsspy.viewmodel import envoys
from xdsspy.viewmodel import words

SIZE = (120, 40)
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def test_words_and_styles_of_each_status() -> None:
    stale = envoys.TypeSync(CDS, envoys.SyncStatus.NEVER_ACKED, "2", "")
    assert envoys_table.status_text(stale).plain == "STALE*"
    assert envoys_table.status_text(stale, wide=True).plain == "STALE (Never Acknowledged)"
    nacked = envoys.TypeSync(CDS, envoys.SyncStatus.NACKED, "3", "2", error="Invalid duration")
    assert str(envoys_table.status_text(nacked).style) == "bold red"
    assert envoys_table.status_text(None).plain == "-"
    assert envoys_table.link_text(None).plain == "-"
    row = envoys.EnvoyRow(
        envoys.Identity("sidecar~1~reviews-v1.default~d", "c", "1.40.0", "", 1), None, (nacked,), 1
    )
    details = envoys_table.type_details(row).plain
    assert details.startswith("reviews-v1.default (c) envoy 1.40.0  CDS NACKED sent 3 acked 2 Invalid")


async def test_the_pane_lists_each_envoy_with_its_columns() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("rest-reject.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        table = app.main.envoys

        def cells() -> dict[str, str]:
            if not table.rows_shown:
                return {}
            shown = (c.plain for c in table.cells(table.rows_shown[0]))
            return dict(zip(envoys_table.COLUMNS, shown, strict=True))

        await pilot.press("G", "up")  # the last poll, before the capture stopped
        await seen.until(
            pilot, lambda: "polling since" in cells().get("CONNECTED", ""), "the pane at the last poll"
        )
        assert cells()["ENVOY"] == "sample-rest" and cells()["STREAM"] == "REST"
        assert cells()["LDS"] == "SYNCED" and cells()["NACKS"] == "1"
        await pilot.press("G")  # the capture's end: nobody is connected through it any more
        await seen.until(
            pilot, lambda: "capture stopped" in cells().get("CONNECTED", ""), "the pane at the end"
        )
        before = table.rows_shown
        table.show(list(before))  # the same rows: nothing redrawn
        assert table.rows_shown is before


async def test_many_envoys_scroll_in_the_pane_and_each_can_be_chosen(tmp_path: pathlib.Path) -> None:
    app = pilot_mod.busy_app(tmp_path, 2_000, envoys=12, big_pushes=0)
    seen = pilot_mod.Seen()
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        main, table = app.main, app.main.envoys
        await pilot.press("G")
        await seen.until(pilot, lambda: table.row_count == 12, "every Envoy in the pane")
        visible = table.size.height - 1  # under the header line
        assert 3 < visible < 12  # the largest step: more Envoys than lines, so the pane scrolls
        await pilot.press("tab")
        assert table.has_focus
        for _ in range(11):
            await pilot.press("up")
        assert table.cursor_row == 0 and round(table.scroll_y) == 0
        for _ in range(11):
            await pilot.press("down")
        assert table.cursor_row == 11 and round(table.scroll_y) == 12 - visible  # scrolled to keep it
        last = table.rows_shown[11].identity.node
        detail = main.query_one("#envoy-detail")
        await seen.until(pilot, lambda: words.short_node(last) in str(detail.render()), "its detail line")
        await pilot.press("down", "up", "k")
        assert table.cursor_row == 9
        second = table.content_region.y - table.region.y + 2  # under the header: the second Envoy shown
        await pilot.click(envoys_table.EnvoysTable, offset=(5, second))
        assert table.cursor_row == round(table.scroll_y) + 1
        chosen = table.rows_shown[table.cursor_row].identity.node
        await pilot.press("r")  # its resources, at this moment
        await seen.until(pilot, lambda: isinstance(app.screen, resources_screen.ResourcesScreen), "resources")
        assert isinstance(app.screen, resources_screen.ResourcesScreen) and app.screen.node == chosen
        await pilot.press("escape")
        await seen.until(pilot, lambda: app.screen is main, "back")
        await pilot.press("enter")  # only this Envoy
        await seen.until(pilot, lambda: main.filter.active, "the Envoy's filter")
        assert str(main.filter) == f"~node {chosen}"
