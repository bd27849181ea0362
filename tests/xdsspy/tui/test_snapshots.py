"""SVG snapshots of what a person sees, a second line behind the Pilot tests (--snapshot-update)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from xdsspy.testing import pilot as pilot_mod


async def _indexed_then(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.app.workers.wait_for_complete()  # the index worker has read the whole recording
    await pilot.pause()
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()  # and whatever the keys started (a detail's decoding)
    for _ in range(3):  # the Envoys table measures its columns after a refresh: let every one land
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def test_the_timeline_on_the_nack_at_120_by_40(snap_compare: Any) -> None:
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    assert snap_compare(app, terminal_size=(120, 40), run_before=lambda pilot: _indexed_then(pilot, "n"))


def test_the_timeline_at_80_by_24(snap_compare: Any) -> None:
    app = pilot_mod.sample_app("rest-reject.xdsspy")
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda pilot: _indexed_then(pilot, "G"))


def test_the_detail_of_the_nack(snap_compare: Any) -> None:
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: _indexed_then(pilot, "n", "enter")
    )
