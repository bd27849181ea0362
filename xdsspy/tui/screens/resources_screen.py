"""The Resources screen (`r`): one Envoy's resources at the chosen moment, linked as Envoy links them.

Listeners lead to their route configurations, routes to clusters, clusters to
endpoints and secrets; a reference to something the Envoy does not have is
marked, a NACKED version sits beside the accepted one. `h` lists every version
of the selected resource over the recording; marking two (space) and Enter
shows their field-level diff. Decoding runs in a worker.
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

from rich import text as rich_text
from textual import on
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable
from textual.widgets import Footer
from textual.widgets import Static
from textual.widgets import Tree

from xdsspy import configdiff
from xdsspy import timefmt
from xdsspy.tui.widgets import body_view
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import history as history_mod
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import links
from xdsspy.viewmodel import words

DANGLING_WORDS = {
    links.Dangling.MISSING: ("✗ missing", "bold red"),
    links.Dangling.NOT_CAPTURED: ("? not on the captured streams", "dim"),
    links.Dangling.STATIC: ("static (bootstrap)", "dim"),
}


def _short_type(type_url: str) -> str:
    return words.short_type(type_url) if type_url else "?"


class ResourcesScreen(Screen[None]):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", tooltip="Back to the timeline"),
        Binding("y", "toggle_format", "YAML/JSON", tooltip="Show the resource as YAML or JSON"),
        Binding("h", "history", "History", tooltip="Every version of this resource; two marked: their diff"),
        Binding("space", "mark_version", "Mark version", show=False, tooltip="Mark a version to compare"),
        Binding(
            "d",
            "diff",
            "Diff",
            tooltip="The diff of the two marked versions (or this one and the one before)",
        ),
        Binding("e", "save", "Save", tooltip="Save this resource or the whole state, secrets masked"),
    ]

    def __init__(self, index: index_mod.RecordingIndex, node: str, position: int) -> None:
        super().__init__()
        self.index = index
        self.node = node
        self.position = position
        self.config: envoy_config.EnvoyConfig | None = None
        self.versions: list[history_mod.Version] = []
        self.marked: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static(
            f"{words.short_node(self.node)}: decoding its resources…", classes="summary", id="res-summary"
        )
        with Horizontal(classes="split"):
            tree: Tree[Any] = Tree(words.short_node(self.node), id="res-tree")
            tree.show_root = False
            yield tree
            with Vertical(classes="body"):
                versions: DataTable[str] = DataTable(id="res-versions", cursor_type="row")
                versions.display = False
                yield versions
                yield body_view.BodyView(id="res-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#res-tree", Tree).focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        config = envoy_config.at(self.index, self.node, self.position)
        self.app.call_from_thread(self._show, config)

    def _show(self, config: envoy_config.EnvoyConfig) -> None:
        self.config = config
        rows = config.tree()
        nacked = sum(1 for row in rows if row.rejected is not None)
        dangling = [d for d in config.dangling() if d.kind == links.Dangling.MISSING]
        step = (
            self.index.timeline.steps[self.position]
            if 0 <= self.position < len(self.index.timeline.steps)
            else None
        )
        when = f"#{step.seq} {timefmt.clock(step.wall_ns)}" if step is not None else "the start"
        summary = rich_text.Text()
        summary.append(words.short_node(self.node), "bold")
        summary.append(f" at {when}: ")
        count = sum(len(v) for v in config.resources.values())
        summary.append(f"{count} resource(s) of {len(config.resources)} type(s)")
        summary.append(f", {nacked} NACKED", "bold red" if nacked else "dim")
        summary.append(f", {len(dangling)} dangling reference(s)", "bold red" if dangling else "dim")
        for problem in config.problems[:2]:
            summary.append(f"\n⚠ {problem}", "yellow")
        self.query_one("#res-summary", Static).update(summary)
        self._fill(rows)

    def _fill(self, rows: list[envoy_config.TreeRow]) -> None:
        tree = self.query_one("#res-tree", Tree)
        tree.clear()
        stack: list[Any] = [tree.root]
        for row in rows:
            item = row.item
            del stack[item.depth + 1 :]
            parent = stack[-1]
            node = parent.add(self._label(row), row, expand=item.depth < 2)
            if item.repeat or item.dangling is not None:
                node.allow_expand = False
            stack.append(node)
        tree.root.expand()

    def _label(self, row: envoy_config.TreeRow) -> rich_text.Text:
        item = row.item
        label = rich_text.Text()
        label.append(f"{_short_type(item.type_url)} ", "dim")
        label.append(item.name or '""', "bold" if item.depth == 0 else "")
        if item.dangling is not None:
            dangling, style = DANGLING_WORDS.get(item.dangling, (str(item.dangling), "red"))
            label.append(f"  {dangling}", style)
        if row.resource is not None and row.resource.version:
            label.append(f"  v{words.shorten(row.resource.version, 20)}", "dim")
        if row.rejected is not None:  # beside the accepted version, or alone: "v4 NACKED"
            rejected = row.rejected.version
            label.append(f"  {'v' + words.shorten(rejected, 20) + ' ' if rejected else ''}NACKED", "bold red")
        if item.repeat:
            label.append("  ↑ above", "dim")
        if item.unreferenced and item.depth == 0:
            label.append("  (nothing refers to it)", "dim")
        return label

    @on(Tree.NodeHighlighted, "#res-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        row = event.node.data
        body = self.query_one("#res-body", body_view.BodyView)
        if not isinstance(row, envoy_config.TreeRow):
            body.show(None)
            return
        shown: dict[str, Any] = {}
        if row.resource is not None:
            shown["accepted"] = {
                "version": row.resource.version,
                "seq": row.resource.seq,
                "body": row.resource.body,
            }
        if row.rejected is not None:
            rejected = row.rejected
            shown["NACKED"] = {"version": rejected.version, "error": rejected.error, "body": rejected.body}
        if row.item.dangling is not None:
            shown["dangling"] = {
                "kind": str(row.item.dangling),
                "via": row.item.ref.via if row.item.ref else "",
            }
        body.show(shown or None, str(event.node.label))
        self.query_one("#res-versions", DataTable).display = False

    def _selected(self) -> envoy_config.TreeRow | None:
        node = self.query_one("#res-tree", Tree).cursor_node
        data = node.data if node is not None else None
        return data if isinstance(data, envoy_config.TreeRow) else None

    def action_history(self) -> None:
        row = self._selected()
        if row is None or row.item.dangling is not None:
            self.notify("select a resource the Envoy has", severity="warning")
            return
        self._history(row.item.type_url, row.item.name)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _history(self, type_url: str, name: str) -> None:
        found = history_mod.history(self.index, self.node, type_url, name)
        self.app.call_from_thread(self._show_history, name, found)

    def _show_history(self, name: str, found: list[history_mod.Version]) -> None:
        self.versions = found
        self.marked = []
        table = self.query_one("#res-versions", DataTable)
        table.clear(columns=True)
        for label in ("", "AT", "TIME", "VERSION", "STATUS", "ERROR"):
            table.add_column(label)
        for i, version in enumerate(found):
            style = {"nacked": "bold red", "removed": "yellow"}.get(str(version.status), "green")
            table.add_row(
                " ",
                f"#{version.seq}",
                timefmt.clock(version.wall_ns),
                words.shorten(version.version, 28),
                rich_text.Text(str(version.status).upper(), style),
                words.shorten(words.one_line(version.error), 60),
                key=str(i),
            )
        table.display = True
        table.focus()
        self.query_one("#res-body", body_view.BodyView).show(
            None, f"{len(found)} version(s) of {name}: space marks two, d shows their diff"
        )

    def action_mark_version(self) -> None:
        table = self.query_one("#res-versions", DataTable)
        if not table.display or not self.versions:
            return
        i = table.cursor_row
        if i in self.marked:
            self.marked.remove(i)
        else:
            self.marked = [*self.marked, i][-2:]
        for k in range(len(self.versions)):
            table.update_cell_at(Coordinate(k, 0), "●" if k in self.marked else " ")

    def action_diff(self) -> None:
        table = self.query_one("#res-versions", DataTable)
        if not table.display or not self.versions:
            self.notify("h lists the versions first", severity="warning")
            return
        if len(self.marked) == 2:
            a, b = sorted(self.marked)
        else:
            b = table.cursor_row
            a = b - 1
            while a >= 0 and self.versions[a].status == history_mod.VersionStatus.REMOVED:
                a -= 1
            if a < 0:
                self.notify("nothing before this version to compare with", severity="warning")
                return
        self._diff(self.versions[a], self.versions[b])

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _diff(self, a: history_mod.Version, b: history_mod.Version) -> None:
        try:
            changes = history_mod.diff_versions(self.index, a, b)
        except history_mod.UnreadableVersion as e:
            self.app.call_from_thread(self.notify, str(e), severity="error")
            return
        self.app.call_from_thread(self._show_diff, a, b, changes)

    def _show_diff(
        self, a: history_mod.Version, b: history_mod.Version, changes: list[configdiff.FieldChange]
    ) -> None:
        text = rich_text.Text()
        text.append(f"#{a.seq} (v{a.version}) → #{b.seq} (v{b.version}): ", "bold")
        text.append(f"{len(changes)} field change(s)\n" if changes else "identical\n")
        for change in changes:
            style = {"added": "green", "removed": "red"}.get(str(change.kind), "yellow")
            text.append(configdiff.format_change(change, 100) + "\n", style)
        self.query_one("#res-body", body_view.BodyView).show(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_format(self) -> None:
        fmt = self.query_one("#res-body", body_view.BodyView).toggle_format()
        self.notify(f"showing {fmt.upper()}", timeout=1)

    def action_save(self) -> None:
        from xdsspy.tui.screens import save_screen

        if self.config is None:
            return
        row = self._selected()
        if row is not None and row.resource is not None:
            choice = save_screen.SaveChoice.resource(
                self.node, self.position, row.item.type_url, row.item.name
            )
        else:
            choice = save_screen.SaveChoice.state(self.node, self.position)
        self.app.push_screen(save_screen.SaveScreen(self.index, choice, config=self.config))
