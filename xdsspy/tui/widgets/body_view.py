"""A JSON-ready value shown as syntax-highlighted YAML or JSON, scrollable; very large values are cut."""

from __future__ import annotations

import json
from typing import Any

import yaml
from rich import syntax as rich_syntax
from rich import text as rich_text
from textual.containers import VerticalScroll
from textual.widgets import Static

MAX_CHARS = 200_000
"""Past this, the text is cut (and says so): highlighting a megabyte would stall the screen."""


def as_text(value: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return str(
        yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    )


class BodyView(VerticalScroll):
    """Shows one value; `fmt` is "yaml" or "json" (toggled by the screen)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.fmt = "yaml"
        self._value: Any = None
        self._title = ""
        self._shown = ""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="body-text")

    def show(self, value: Any, title: str = "") -> None:
        self._value = value
        self._title = title
        self._draw()

    @property
    def plain(self) -> str:
        """What is shown, as plain text."""
        return self._shown

    def toggle_format(self) -> str:
        self.fmt = "json" if self.fmt == "yaml" else "yaml"
        self._draw()
        return self.fmt

    def _draw(self) -> None:
        target = self.query_one("#body-text", Static)
        if self._value is None:
            self._shown = self._title
            target.update(rich_text.Text(self._title or "", "dim"))
            return
        if isinstance(self._value, rich_text.Text):
            self._shown = self._value.plain
            target.update(self._value)
            return
        text = as_text(self._value, self.fmt)
        cut = ""
        if len(text) > MAX_CHARS:
            cut = f"\n… cut at {MAX_CHARS:,} of {len(text):,} characters: save it (e) to see the whole"
            text = text[:MAX_CHARS]
        self._shown = text + cut
        syntax = rich_syntax.Syntax(
            text + cut, self.fmt, theme="ansi_dark", word_wrap=False, background_color="default"
        )
        target.update(syntax)
        self.scroll_home(animate=False)
