"""The Envoys pane: a row per Envoy in `istioctl proxy-status` words, at the moment the timeline shows."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich import text as rich_text
from textual import events
from textual import message
from textual.binding import Binding
from textual.binding import BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xdsspy import timefmt
from xdsspy.viewmodel import envoys
from xdsspy.viewmodel import words

STATUS_STYLES = {
    envoys.SyncStatus.SYNCED: "green",
    envoys.SyncStatus.NOT_SENT: "dim",
    envoys.SyncStatus.STALE: "yellow",
    envoys.SyncStatus.NEVER_ACKED: "yellow",
    envoys.SyncStatus.NACKED: "bold red",
}
SHORT_WORDS = {envoys.SyncStatus.NEVER_ACKED: "STALE*"}
"""In a narrow cell, "STALE (Never Acknowledged)" is STALE*; the legend under the table says so."""
COLUMNS = ("ENVOY", *envoys.COLUMNS, "NACKS", "STREAM", "CONNECTED")
"""The statuses first: on an 80-column terminal they are what shows without scrolling sideways. The
cluster, versions, peer address and types beyond these are on the line under the table (`type_details`)."""
WIDTHS = {"ENVOY": 20, "NACKS": 5, "STREAM": 6, "CONNECTED": 14}
LINE_WIDTH = 1 + sum(WIDTHS.get(label, 8) + 2 for label in COLUMNS)
"""Fixed widths (a status word is at most 8): the table fits 120 columns and never reflows as rows change."""


def status_text(sync: envoys.TypeSync | None, *, wide: bool = False) -> rich_text.Text:
    if sync is None:
        return rich_text.Text("-", "dim")
    label = str(sync.status) if wide else SHORT_WORDS.get(sync.status, str(sync.status))
    return rich_text.Text(label, STATUS_STYLES[sync.status])


def link_text(link: envoys.Link | None) -> rich_text.Text:
    if link is None:
        return rich_text.Text("-", "dim")
    if link.open:
        label = "polling since" if link.kind == envoys.StreamKind.REST else "since"
        return rich_text.Text(f"{label} {timefmt.clock(link.opened_ns)[:8]}", "green")
    return rich_text.Text(f"closed {timefmt.clock(link.closed_ns)[:8]}: {link.close_status}", "yellow")


def type_details(row: envoys.EnvoyRow) -> rich_text.Text:
    """One line of the versions behind each status of an Envoy, for under the table."""
    out = rich_text.Text()
    out.append(words.short_node(row.identity.node), "bold")
    identity = row.identity
    if identity.cluster:
        out.append(f" ({identity.cluster})", "dim")
    if identity.envoy_version:
        istio = f", istio {identity.istio_version}" if identity.istio_version else ""
        out.append(f" envoy {identity.envoy_version}{istio}", "dim")
    if row.link is not None and row.link.peer:
        out.append(f" {row.link.peer}", "dim")
    for sync in row.types:
        out.append(f"  {sync.service} ", "bold")
        out.append_text(status_text(sync, wide=True))
        out.append(f" sent {words.shorten(sync.sent_version or '-', 24)}", "dim")
        out.append(f" acked {words.shorten(sync.acked_version or '-', 24)}", "dim")
        if sync.error:
            out.append(f" {words.shorten(words.one_line(sync.error), 60)}", "red")
    return out


class EnvoysTable(ScrollView, can_focus=True):
    """See the module docstring. A header line, then a line per Envoy, drawn on the Line API.

    Not a DataTable: the pane is redrawn at every moment the timeline's cursor rests on, and a
    DataTable re-rendered all of its cells each time (60 ms for 20 Envoys); here a row is drawn only
    when it changed. `show(rows)` does nothing when the rows are the same.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("enter", "select_envoy", "Only this Envoy", tooltip="Filter the timeline to this Envoy"),
        Binding("r", "resources", "Resources", tooltip="This Envoy's resources at the selected moment"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"envoys--header", "envoys--cursor"}
    MAX_HEIGHT = 8

    cursor_row: reactive[int] = reactive(0, init=False)

    @dataclasses.dataclass
    class EnvoyChosen(message.Message):
        """Enter on an Envoy: the timeline narrows to it."""

        node: str

    @dataclasses.dataclass
    class ResourcesWanted(message.Message):
        node: str

    @dataclasses.dataclass
    class Highlighted(message.Message):
        """The cursor is on another Envoy."""

        row: envoys.EnvoyRow | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows_shown: list[envoys.EnvoyRow] = []
        self._lines: dict[int, tuple[envoys.EnvoyRow, Strip]] = {}
        self.styles.height = 3  # a border, the header and one line saying there is no Envoy yet

    @property
    def row_count(self) -> int:
        return len(self.rows_shown)

    def show(self, found: list[envoys.EnvoyRow]) -> None:
        if found == self.rows_shown:
            return
        count_changed = len(found) != len(self.rows_shown)
        self.rows_shown = found
        self.virtual_size = Size(LINE_WIDTH, len(found) + 1)
        if count_changed:
            # A layout pass of the whole screen, so in few steps: 1, 3, then 7 lines of Envoys.
            lines = 1 if len(found) <= 1 else 3 if len(found) <= 3 else self.MAX_HEIGHT - 1
            height = lines + 2  # the header and the border
            if self.styles.height is None or self.styles.height.value != height:
                self.styles.height = height
            if self.cursor_row >= len(found):
                self.cursor_row = max(len(found) - 1, 0)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def cells(self, row: envoys.EnvoyRow) -> list[rich_text.Text]:
        identity = row.identity
        link = row.link
        return [
            rich_text.Text(words.short_node(identity.node), "bold"),
            *(status_text(row.sync(service)) for service in envoys.COLUMNS),
            rich_text.Text(str(row.nacks), "bold red" if row.nacks else "dim"),
            rich_text.Text(str(link.kind) if link is not None else "-"),
            link_text(link),
        ]

    def _joined(self, cells: list[rich_text.Text]) -> rich_text.Text:
        line = rich_text.Text(" ")
        for label, cell in zip(COLUMNS, cells, strict=True):
            width = WIDTHS.get(label, 8)
            cell = cell.copy()
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append("  ")
        return line

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = self._joined([rich_text.Text(label) for label in COLUMNS])
            header.stylize(self.get_component_rich_style("envoys--header"))
            strip = Strip(list(header.render(self.app.console)), header.cell_len)
            return strip.crop_extend(scroll_x, scroll_x + width, base)
        number = scroll_y + y - 1
        if number >= len(self.rows_shown):
            return Strip.blank(width, base)
        row = self.rows_shown[number]
        cached = self._lines.get(number)
        if cached is None or cached[0] is not row:
            text = self._joined(self.cells(row))
            cached = self._lines[number] = (row, Strip(list(text.render(self.app.console)), text.cell_len))
        strip = cached[1].crop_extend(scroll_x, scroll_x + width, base)
        if number == self.cursor_row and self.has_focus:
            strip = strip.apply_style(self.get_component_rich_style("envoys--cursor"))
        return strip

    def watch_cursor_row(self, old: int, new: int) -> None:
        height = max(self.size.height - 1, 1)
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    @property
    def current(self) -> envoys.EnvoyRow | None:
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def select(self, node: str) -> None:
        """Put the cursor on this Envoy, if the pane lists it."""
        for number, row in enumerate(self.rows_shown):
            if row.identity.node == node:
                if number != self.cursor_row:
                    self.cursor_row = number
                return

    def action_cursor_up(self) -> None:
        self.cursor_row = max(self.cursor_row - 1, 0)

    def action_cursor_down(self) -> None:
        self.cursor_row = min(self.cursor_row + 1, max(len(self.rows_shown) - 1, 0))

    def action_select_envoy(self) -> None:
        if self.current is not None:
            self.post_message(self.EnvoyChosen(self.current.identity.node))

    def action_resources(self) -> None:
        if self.current is not None:
            self.post_message(self.ResourcesWanted(self.current.identity.node))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        number = round(self.scroll_y) + offset.y - 1
        if 0 <= number < len(self.rows_shown):
            self.cursor_row = number
            if event.chain >= 2:
                self.action_select_envoy()
