"""Saving from the UI: the file is mode 0600, secrets masked unless unticked, and then it says so loudly."""

from __future__ import annotations

import os
import pathlib
import stat

from textual.widgets import Checkbox
from textual.widgets import Input

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.screens import save_screen

SIZE = (120, 40)


async def test_save_the_nack_as_yaml(tmp_path: pathlib.Path) -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    target = tmp_path / "nack.yaml"
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("n", "e")
        screen = app.screen
        assert isinstance(screen, save_screen.SaveScreen)
        assert screen.query_one("#save-path", Input).value == "xdsspy-message-sample-sotw-at-23.yaml"
        screen.query_one("#save-path", Input).value = os.fspath(target)
        await pilot.click("#save-ok")
        await seen.until(pilot, lambda: app.screen is not screen, "the dialog to close")
    assert target.exists() and stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert "Invalid duration" in text and "static-svc" in text


async def test_unmasked_saves_warn_and_json_is_json(tmp_path: pathlib.Path) -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    target = tmp_path / "state.json"
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("G", "tab", "e")  # the Envoys pane: this Envoy's state
        screen = app.screen
        assert isinstance(screen, save_screen.SaveScreen) and screen.choice.kind == "state"
        await pilot.click("#fmt-json")
        assert screen.query_one("#save-path", Input).value.endswith(".json")
        screen.query_one("#save-redact", Checkbox).value = False
        await pilot.pause()
        assert screen.query_one("#save-warning").display
        screen.query_one("#save-path", Input).value = os.fspath(target)
        await pilot.click("#save-ok")
        await seen.until(pilot, target.exists, "the file")
        await seen.until(
            pilot, lambda: any("UNMASKED" in str(n.title) for n in app._notifications), "the warning"
        )
    import json

    document = json.loads(target.read_text())
    assert document["configs"][0]["@type"].endswith("ClustersConfigDump")
