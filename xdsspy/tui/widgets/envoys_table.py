"""The Envoys pane: a row per Envoy in `istioctl proxy-status` words, at the moment the timeline shows."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich import text as rich_text
from textual import message
from textual.binding import Binding
from textual.binding import BindingType
from textual.widgets import DataTable

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
WIDTHS = {"ENVOY": 20, "NACKS": 5, "STREAM": 5, "CONNECTED": 14}
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


class EnvoysTable(DataTable[rich_text.Text]):
    """See the module docstring. `show(rows)` redraws only when something changed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_envoy", "Only this Envoy", tooltip="Filter the timeline to this Envoy"),
        Binding("r", "resources", "Resources", tooltip="This Envoy's resources at the selected moment"),
    ]

    @dataclasses.dataclass
    class EnvoyChosen(message.Message):
        """Enter on an Envoy: the timeline narrows to it."""

        node: str

    @dataclasses.dataclass
    class ResourcesWanted(message.Message):
        node: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.rows_shown: list[envoys.EnvoyRow] = []

    def on_mount(self) -> None:
        for label in COLUMNS:
            self.add_column(label, key=label, width=WIDTHS.get(label, 8))

    def show(self, found: list[envoys.EnvoyRow]) -> None:
        if found == self.rows_shown:
            return
        keep = self.cursor_row
        self.rows_shown = found
        self.clear()
        for row in found:
            self.add_row(*self._cells(row), key=row.identity.node)
        if found:
            self.move_cursor(row=min(keep, len(found) - 1))

    def _cells(self, row: envoys.EnvoyRow) -> list[rich_text.Text]:
        identity = row.identity
        link = row.link
        return [
            rich_text.Text(words.short_node(identity.node), "bold"),
            *(status_text(row.sync(service)) for service in envoys.COLUMNS),
            rich_text.Text(str(row.nacks), "bold red" if row.nacks else "dim"),
            rich_text.Text(str(link.kind) if link is not None else "-"),
            link_text(link),
        ]

    @property
    def current(self) -> envoys.EnvoyRow | None:
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def action_select_envoy(self) -> None:
        if self.current is not None:
            self.post_message(self.EnvoyChosen(self.current.identity.node))

    def action_resources(self) -> None:
        if self.current is not None:
            self.post_message(self.ResourcesWanted(self.current.identity.node))
