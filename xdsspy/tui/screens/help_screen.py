"""The help screen (`?`): every key of every screen and every filter, generated from their definitions."""

from __future__ import annotations

from typing import ClassVar

from rich import table as rich_table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from xdsspy.viewmodel import filters

ABOUT = (
    "xdsspy shows the xDS conversation between Envoy and its control plane. Arrows read from Envoy:"
    " 'node →' is Envoy sending, 'node ←' Envoy receiving. Verdicts: PUSH +added ~updated -removed,"
    " ACK, NACK (red), STALE, INITIAL, RECONNECT, SUBSCRIBE, and for REST POLL, 304, HTTP ERR."
)


def _keys(binding: BindingType) -> tuple[str, str]:
    if isinstance(binding, Binding):
        keys = ", ".join(_key_name(k) for k in binding.key.split(","))
        return keys, binding.tooltip or binding.description or binding.action
    if isinstance(binding, tuple):
        return _key_name(binding[0]), binding[2] if len(binding) > 2 else binding[1]
    return str(binding), ""


def _key_name(key: str) -> str:
    names = {"slash": "/", "question_mark": "?", "space": "space", "escape": "esc"}
    return names.get(key.strip(), key.strip())


def key_sections() -> list[tuple[str, list[BindingType]]]:
    """Every binding of the UI, by where it works (the app's, each screen's, each widget's)."""
    from xdsspy.tui import app
    from xdsspy.tui.screens import detail_screen
    from xdsspy.tui.screens import resources_screen
    from xdsspy.tui.screens import timeline_screen
    from xdsspy.tui.widgets import envoys_table
    from xdsspy.tui.widgets import timeline_view

    return [
        (
            "Anywhere",
            [
                *app.XdsspyApp.BINDINGS,
                Binding(
                    "ctrl+p",
                    "command_palette",
                    "Commands",
                    tooltip="Command palette: jumps, filters, each Envoy by name",
                ),
            ],
        ),
        ("Timeline", [*timeline_view.TimelineView.BINDINGS, *timeline_screen.TimelineScreen.BINDINGS]),
        ("Envoys pane (tab to reach it)", list(envoys_table.EnvoysTable.BINDINGS)),
        ("Detail of a message", list(detail_screen.DetailScreen.BINDINGS)),
        ("Resources of an Envoy", list(resources_screen.ResourcesScreen.BINDINGS)),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(ABOUT, classes="help-about")
            for title, bindings in key_sections():
                table = rich_table.Table(
                    title=title, title_justify="left", show_header=False, box=None, expand=True
                )
                table.add_column("keys", style="bold cyan", no_wrap=True, width=22)
                table.add_column("what")
                for binding in bindings:
                    keys, what = _keys(binding)
                    table.add_row(keys, what)
                yield Static(table)
            filter_table = rich_table.Table(
                title="Filters (/ opens the bar; the same language as show --filter)",
                title_justify="left",
                show_header=False,
                box=None,
                expand=True,
            )
            filter_table.add_column("syntax", style="bold magenta", no_wrap=True, width=22)
            filter_table.add_column("what")
            for syntax, what in filters.help_rows():
                filter_table.add_row(syntax, what)
            yield Static(filter_table)
            yield Static("[dim]esc closes this help[/dim]")

    def on_mount(self) -> None:
        self.query_one("#help", VerticalScroll).focus()  # arrows and page keys scroll at once

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
