"""The body view: YAML or JSON of a value, plain text, and huge values cut rather than stalling."""

from __future__ import annotations

import json

from textual.app import App
from textual.app import ComposeResult

from xdsspy.tui.widgets import body_view


class _One(App[None]):
    def compose(self) -> ComposeResult:
        yield body_view.BodyView(id="body")


async def test_yaml_json_and_cut() -> None:
    app = _One()
    async with app.run_test(size=(80, 24)) as pilot:
        body = app.query_one(body_view.BodyView)
        body.show({"name": "svc-a", "connect_timeout": "1s"})
        assert body.plain.startswith("name: svc-a")
        body.toggle_format()
        assert json.loads(body.plain) == {"name": "svc-a", "connect_timeout": "1s"}
        body.show(None, "decoding…")
        assert body.plain == "decoding…"
        body.show({"x": "y" * (body_view.MAX_CHARS + 10)})
        await pilot.pause()
        assert "cut at 200,000 of" in body.plain and len(body.plain) < body_view.MAX_CHARS + 200
