"""The Envoys pane: istioctl's words in their colours, versions beside them, redrawn only on change."""

from __future__ import annotations

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.widgets import envoys_table
from xdsspy.viewmodel import envoys

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
        await pilot.press("G")
        table = app.main.envoys
        assert table.row_count == 1
        cells = dict(zip(envoys_table.COLUMNS, (cell.plain for cell in table.get_row_at(0)), strict=True))
        assert cells["ENVOY"] == "sample-rest" and cells["STREAM"] == "REST"
        assert (
            cells["CONNECTED"].startswith("polling since")
            and cells["LDS"] == "SYNCED"
            and cells["NACKS"] == "1"
        )
        before = table.rows_shown
        table.show(list(before))  # the same rows: nothing redrawn
        assert table.rows_shown is before
