"""The main screen: header and push rates, the Envoys pane, the timeline, the filter bar, the key bar.

It owns what the user chose (the filter, follow, pause) and keeps the panes
in step: index progress grows the timeline, a cursor move sets the moment the
Envoys pane shows. Long work (re-filtering 100k rows) runs in a worker.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich import text as rich_text
from textual import on
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.widgets import Static

from xdsspy.tui import messages
from xdsspy.tui.widgets import envoys_table
from xdsspy.tui.widgets import filter_bar
from xdsspy.tui.widgets import session_header
from xdsspy.tui.widgets import timeline_view
from xdsspy.viewmodel import envoys
from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import rowview

PANES_INTERVAL_S = 0.25
"""The header and the Envoys pane redraw at most this often while rows pour in."""
PANES_SETTLE_S = 0.1
"""After the cursor moves, the Envoys pane shows the new moment once the cursor has rested this long."""
STATUS_S = 3.0
"""How long a word said in the header (say()) stays there."""
LEGEND = "STALE* = STALE (Never Acknowledged): sent, never ACKed on this stream"


class TimelineScreen(Screen[None]):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", tooltip="Filter the timeline with an expression (? lists them)"),
        Binding("f", "toggle_follow", "Follow", tooltip="Keep the newest row in view"),
        Binding("space", "toggle_pause", "Pause", tooltip="Freeze the display; the capture goes on"),
        Binding("r", "resources", "Resources", tooltip="The selected Envoy's resources at this moment"),
        Binding("e", "save", "Save", tooltip="Save this message or this Envoy's state (secrets masked)"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("tab", "switch_pane", "Pane", show=False, tooltip="Envoys pane / timeline"),
    ]

    def __init__(self, index: index_mod.RecordingIndex, *, follow: bool, live: bool) -> None:
        super().__init__()
        self.index = index
        self.following = follow
        self.paused = False
        self.live = live
        self.filter = filterexpr.compile("")
        self._panes_at = 0.0
        self._panes_later: Timer | None = None
        self._detail_shown: rich_text.Text | None = None
        self._status = ""  # a word for the user in the header, for a moment (say())
        self._status_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield session_header.SessionHeader(id="header")
        yield session_header.PushRates(id="rates")
        yield envoys_table.EnvoysTable(id="envoys")
        yield Static("", id="envoy-detail")
        yield timeline_view.TimelineView(rowview.RowView(self.index), id="timeline")
        bar = filter_bar.FilterBar(id="filter-bar")
        bar.display = False
        yield bar
        yield Footer()

    def on_mount(self) -> None:
        self.timeline.focus()
        self.refresh_panes(force=True)

    @property
    def timeline(self) -> timeline_view.TimelineView:
        return self.query_one("#timeline", timeline_view.TimelineView)

    @property
    def envoys(self) -> envoys_table.EnvoysTable:
        return self.query_one("#envoys", envoys_table.EnvoysTable)

    @property
    def mode(self) -> str:
        if self.paused:
            return "PAUSED"
        if self.following:
            return "LIVE" if self.live and not self.index.done else "FOLLOW"
        return "BROWSE"

    # -- rows arrive ------------------------------------------------------------------------------

    def on_index_progress(self, event: messages.IndexProgress) -> None:
        """Called by the app for every (coalesced) progress report of the index worker."""
        if self.paused:
            self.refresh_panes(force=event.progress.done)
            return
        view = self.timeline.view
        view.catch_up()
        self.timeline.grow(follow=self.following)
        self.refresh_panes(force=event.progress.done or event.progress.caught_up)

    def refresh_panes(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._panes_at < PANES_INTERVAL_S:
            return
        self._panes_at = now
        self.query_one("#header", session_header.SessionHeader).update_from(
            self.index, mode=self.mode, filter_text=str(self.filter), status=self._status
        )
        self.query_one("#rates", session_header.PushRates).update_from(self.index)
        self._show_envoys()

    def _show_envoys(self) -> None:
        row = self.timeline.row
        position = None if self.following or row is None else row.position
        found = self.index.envoys.at(position)
        self.envoys.show(found)
        if row is not None and row.node and not self.envoys.has_focus:
            self.envoys.select(row.node)  # the selected message's Envoy is the selected Envoy
        current = self.envoys.current
        if current is None:
            self._detail(
                rich_text.Text("No Envoy yet: waiting for a first request that says who it is.", "dim")
            )
            return
        text = envoys_table.type_details(current)
        if any(s.status == envoys.SyncStatus.NEVER_ACKED for r in found for s in r.types):
            text.append(f"   {LEGEND}", "dim")
        self._detail(text)

    def _detail(self, text: rich_text.Text) -> None:
        """The line under the Envoys pane; redrawn only when it says something else."""
        if text != self._detail_shown:
            self._detail_shown = text
            self.query_one("#envoy-detail", Static).update(text, layout=False)

    @on(timeline_view.TimelineView.Moved)
    def _moved(self, event: timeline_view.TimelineView.Moved) -> None:
        count = len(self.timeline.view)
        if self.following and count and event.position < count - 1:
            self.following = False  # the user went back in time: stop pulling the cursor down
        if self.following:
            return
        # The panes follow the cursor once it rests: a held-down key redraws the timeline, not them.
        if self._panes_later is not None:
            self._panes_later.stop()
        self._panes_later = self.set_timer(PANES_SETTLE_S, lambda: self.refresh_panes(force=True))

    @on(timeline_view.TimelineView.Nowhere)
    def _nowhere(self, event: timeline_view.TimelineView.Nowhere) -> None:
        self.say(event.why)

    def say(self, text: str, seconds: float = STATUS_S) -> None:
        """Put a short word in the header for a moment (cheaper than a toast: no layout pass)."""
        self._status = text
        self.refresh_panes(force=True)
        if self._status_timer is not None:
            self._status_timer.stop()
        self._status_timer = self.set_timer(seconds, self._unsay)

    def _unsay(self) -> None:
        self._status = ""
        self.refresh_panes(force=True)

    @on(envoys_table.EnvoysTable.Highlighted)
    def _envoy_highlighted(self) -> None:
        current = self.envoys.current
        if current is not None:
            self._detail(envoys_table.type_details(current))

    # -- filtering --------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one(filter_bar.FilterBar).open(self.filter.text)

    @on(filter_bar.FilterBar.Applied)
    def _filter_applied(self, event: filter_bar.FilterBar.Applied) -> None:
        self.query_one(filter_bar.FilterBar).close()
        self.timeline.focus()
        self.apply_filter(event.filter)

    @on(filter_bar.FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        self.query_one(filter_bar.FilterBar).close()
        self.timeline.focus()

    @on(envoys_table.EnvoysTable.EnvoyChosen)
    def _envoy_chosen(self, event: envoys_table.EnvoysTable.EnvoyChosen) -> None:
        self.apply_filter(filterexpr.compile(f"~node {filterexpr.quote(event.node)}"))
        self.timeline.focus()

    def action_clear_filter(self) -> None:
        if self.filter.active:
            self.apply_filter(filterexpr.compile(""))

    def apply_filter(self, wanted: filterexpr.Filter) -> None:
        self.filter = wanted
        self._build_view(wanted)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def _build_view(self, wanted: filterexpr.Filter) -> None:
        view = rowview.RowView(self.index, wanted)
        view.catch_up()  # off the UI thread: 100k rows take a tenth of a second
        self.app.call_from_thread(self._show_view, view, wanted)

    def _show_view(self, view: rowview.RowView, wanted: filterexpr.Filter) -> None:
        if wanted is not self.filter:
            return  # a newer filter is on its way
        view.catch_up()  # the rows that came while it was built
        self.timeline.show_view(view)
        if self.following:
            self.timeline.grow(follow=True)
        self.refresh_panes(force=True)
        if wanted.active and not len(view):
            self.app.bell()
            self.say(f"no row matches {wanted.normalized!r} yet")

    # -- modes ------------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.timeline.grow(follow=True)
        self.say("following the newest row" if self.following else "not following")

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.timeline.view.catch_up()
            self.timeline.grow(follow=self.following)
        self.say("display paused: the capture goes on" if self.paused else "display resumed")

    def action_switch_pane(self) -> None:
        if self.timeline.has_focus:
            self.envoys.focus()
        else:
            self.timeline.focus()

    # -- other screens ----------------------------------------------------------------------------

    @on(timeline_view.TimelineView.Opened)
    def _opened(self, event: timeline_view.TimelineView.Opened) -> None:
        from xdsspy.tui.screens import detail_screen

        self.app.push_screen(detail_screen.DetailScreen(self.index, event.row))

    @on(envoys_table.EnvoysTable.ResourcesWanted)
    def _resources_wanted(self, event: envoys_table.EnvoysTable.ResourcesWanted) -> None:
        self._open_resources(event.node)

    def action_resources(self) -> None:
        node = None
        if self.envoys.has_focus and self.envoys.current is not None:
            node = self.envoys.current.identity.node
        else:
            row = self.timeline.row
            node = row.node if row is not None and row.node else None
            if node is None and self.envoys.current is not None:
                node = self.envoys.current.identity.node
        if node is None:
            self.app.bell()
            self.say("no Envoy here: select a message of one, or an Envoy in the pane")
            return
        self._open_resources(node)

    def _open_resources(self, node: str) -> None:
        from xdsspy.tui.screens import resources_screen

        row = self.timeline.row
        position = (
            row.position if row is not None and not self.following else len(self.index.timeline.steps) - 1
        )
        self.app.push_screen(resources_screen.ResourcesScreen(self.index, node, position))

    def action_save(self) -> None:
        from xdsspy.tui.screens import save_screen

        row = self.timeline.row
        current = self.envoys.current
        if self.envoys.has_focus and current is not None:
            choice = save_screen.SaveChoice.state(current.identity.node, self._position())
        elif row is not None:
            choice = save_screen.SaveChoice.message(row)
        else:
            self.app.bell()
            self.say("nothing selected to save")
            return
        self.app.push_screen(save_screen.SaveScreen(self.index, choice))

    def _position(self) -> int:
        row = self.timeline.row
        return row.position if row is not None and not self.following else len(self.index.timeline.steps) - 1
