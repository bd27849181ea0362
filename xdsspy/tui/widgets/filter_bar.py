"""The filter bar: type an expression, see where it is wrong as you type, apply it with Enter."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from textual import message
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Input
from textual.widgets import Static

from xdsspy.viewmodel import filterexpr

PLACEHOLDER = "filter: ~t cds & ~nack | ~node 'reviews-*' | ~n outbound  (? lists every filter; Esc cancels)"


class FilterBar(Vertical):
    """Hidden until `/`; posts `Applied` with the compiled filter, or `Cancelled`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    @dataclasses.dataclass
    class Applied(message.Message):
        filter: filterexpr.Filter

    class Cancelled(message.Message):
        pass

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter-input")
        yield Static("", id="filter-error")

    def open(self, text: str) -> None:
        self.display = True
        field = self.query_one(Input)
        field.value = text
        field.cursor_position = len(text)
        field.focus()
        self._check(text)

    def close(self) -> None:
        self.display = False
        self.query_one("#filter-error", Static).update("")

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            compiled = filterexpr.compile(event.value)
        except filterexpr.FilterError:
            return  # the error is on screen already; the bar stays open
        self.post_message(self.Applied(compiled))

    def _check(self, text: str) -> None:
        shown = self.query_one("#filter-error", Static)
        try:
            filterexpr.compile(text)
        except filterexpr.FilterError as e:
            shown.update(f"[red]{' ' * self._caret_column(e.position)}^ {_escape(str(e))}[/red]")
            self.set_class(True, "-invalid")
        else:
            shown.update("")
            self.set_class(False, "-invalid")

    def _caret_column(self, position: int) -> int:
        """Where the character at `position` of the expression is on screen, under the field: past the
        field's border and padding, less what it has scrolled sideways."""
        field = self.query_one(Input)
        return max(0, field.styles.gutter.left + position - round(field.scroll_x))

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
