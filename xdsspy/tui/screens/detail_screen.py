"""The detail screen (Enter on a row): the message as a tree beside its selected part as YAML or JSON.

For a NACK, Envoy's whole error sits on top and the push it rejected is
explained below it, the resources it names first; for a push, what changed
against the previous version of each resource, field by field. The
explanation is built in a worker (a 10k-cluster push takes a second).
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
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets import Static
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from xdsspy import configdiff
from xdsspy.frontends import render
from xdsspy.tui.widgets import body_view
from xdsspy.viewmodel import detail as detail_mod
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import words

RESOURCES_LISTED = 2000
"""Resource nodes put in the tree at once; a 10k push lists this many and says how many more there are."""
CHANGE_MARKS = {"added": ("+", "green"), "updated": ("~", "yellow"), "removed": ("-", "red")}


class DetailScreen(Screen[None]):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", tooltip="Back to the timeline"),
        Binding("y", "toggle_format", "YAML/JSON", tooltip="Show the selected part as YAML or JSON"),
        Binding("e", "save", "Save", tooltip="Save this message, secrets masked"),
        Binding("right,l", "focus_body", "Body", show=False, tooltip="Scroll the body"),
        Binding("left,h", "focus_tree", "Tree", show=False, tooltip="Back to the tree"),
    ]

    def __init__(self, index: index_mod.RecordingIndex, row: rows_mod.Row) -> None:
        super().__init__()
        self.index = index
        self.row = row
        self.detail: detail_mod.MessageDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._headline(), classes="summary", id="detail-summary")
        nack = Static("", classes="nack-error", id="detail-nack")
        nack.display = False
        yield nack
        with Horizontal(classes="split"):
            tree: Tree[Any] = Tree(f"#{self.row.step.seq}", id="detail-tree")
            tree.show_root = False
            yield tree
            yield body_view.BodyView(classes="body", id="detail-body")
        yield Footer()

    def _headline(self) -> rich_text.Text:
        row = self.row
        if row.kind == rows_mod.RowKind.MESSAGE:
            return render.message_line(row.step, render.Columns(), self.index.answered(row))
        return rich_text.Text(f"#{row.step.seq} {row.kind}: decoding…")

    def on_mount(self) -> None:
        self.query_one("#detail-tree", Tree).focus()
        self.query_one("#detail-body", body_view.BodyView).show(None, "decoding…")
        self._explain()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _explain(self) -> None:
        found = detail_mod.explain(self.index, self.row)
        self.app.call_from_thread(self._show, found)

    def _show(self, found: detail_mod.MessageDetail) -> None:
        self.detail = found
        summary = self.query_one("#detail-summary", Static)
        headline = self._headline()
        if self.row.kind != rows_mod.RowKind.MESSAGE:
            headline = rich_text.Text(found.summary)
        if found.problem:
            headline.append(f"\n⚠ {found.problem}", "yellow")
        if found.rule:
            headline.append(f"\nrule: {found.rule}", "dim")
        summary.update(headline)
        if found.nack is not None:
            box = self.query_one("#detail-nack", Static)
            box.display = True
            code = f" (code {found.nack.code})" if found.nack.code is not None else ""
            error = found.nack.error.strip()
            if not error and self.row.step.verdict is not None:  # REST, or a NACK by the version rule
                error = (
                    f"none sent {words.nack_error(self.row.step.verdict)}: Envoy's update_rejected"
                    " stats and its log say why"
                )
            box.update(rich_text.Text(f"Envoy's error{code}:\n{error}"))
        tree = self.query_one("#detail-tree", Tree)
        tree.clear()
        self._fill(tree.root, found)
        tree.root.expand()
        tree.move_cursor(tree.root.children[0] if tree.root.children else tree.root)

    def _fill(self, root: TreeNode[Any], found: detail_mod.MessageDetail) -> None:
        if found.verdict is not None:
            root.add_leaf(
                rich_text.Text.assemble(("Verdict ", "bold"), str(found.verdict.get("verdict", ""))),
                found.verdict,
            )
        if found.nack is not None:
            nack = found.nack
            label = rich_text.Text.assemble(
                ("NACK ", "bold red"), words.shorten(words.one_line(nack.error), 80)
            )
            branch = root.add(
                label, {"error": nack.error, "rejected": nack.rejected_seq, "names": list(nack.culprits)}
            )
            if nack.push is not None:
                push = branch.add(
                    rich_text.Text(f"the push it rejected: #{nack.rejected_seq}", "bold"), nack.push.envelope
                )
                culprits = set(nack.culprits)
                self._changes(push, nack.push, culprits=culprits)
                listed = push.add(
                    rich_text.Text(f"Resources ({len(nack.push.resources)})", "bold"), nack.push.envelope
                )
                self._resources(listed, nack.push, first=culprits)
                push.expand()
            branch.expand()
        if found.resources:
            self._changes(root, found)
        if found.envelope is not None:
            root.add_leaf(rich_text.Text("Envelope", "bold"), found.envelope)
        if found.resources:
            self._resources(
                root.add(rich_text.Text(f"Resources ({len(found.resources)})", "bold"), found.envelope), found
            )
        if found.body is not None:
            root.add_leaf(rich_text.Text("Message", "bold"), found.body)
        if found.facts:
            facts = root.add(rich_text.Text("Event", "bold"), dict(found.facts))
            for key, value in found.facts:
                facts.add_leaf(rich_text.Text.assemble((f"{key}: ", "bold"), value), {key: value})
            facts.expand()
        if found.headers:
            headers = root.add(rich_text.Text(f"Headers ({len(found.headers)})", "bold"), dict(found.headers))
            for key, value in found.headers:
                headers.add_leaf(
                    rich_text.Text.assemble((f"{key}: ", "bold"), words.shorten(value, 100)), {key: value}
                )
        if found.answers is not None:
            answers = found.answers
            latency = (
                f" in {words.latency_text(answers.latency_ms)}" if answers.latency_ms is not None else ""
            )
            root.add_leaf(
                rich_text.Text(f"Answers #{answers.seq} (version {answers.version or '-'}){latency}", "bold"),
                {
                    "seq": answers.seq,
                    "version": answers.version,
                    "nonce": answers.nonce,
                    "latency_ms": answers.latency_ms,
                },
            )

    def _changes(
        self, root: TreeNode[Any], found: detail_mod.MessageDetail, culprits: set[str] | None = None
    ) -> None:
        changed = [r for r in found.resources if str(r.change) in CHANGE_MARKS]
        changed.sort(key=lambda r: r.name not in (culprits or ()))
        if not changed:
            return
        counts = {kind: sum(1 for r in changed if str(r.change) == kind) for kind in CHANGE_MARKS}
        title = f"Changes +{counts['added']} ~{counts['updated']} -{counts['removed']}"
        branch = root.add(rich_text.Text(title, "bold"), {r.name: str(r.change) for r in changed})
        for resource in changed[:RESOURCES_LISTED]:
            mark, style = CHANGE_MARKS[str(resource.change)]
            label = rich_text.Text(f"{mark} {resource.name}", style)
            if culprits and resource.name in culprits:
                label.append("  ← rejected", "bold red")
            node = branch.add(label, resource.body)
            for change in resource.field_changes or ():
                node.add_leaf(rich_text.Text(configdiff.format_change(change), style), _change_json(change))
            if resource.field_changes and (len(changed) <= 10 or (culprits and resource.name in culprits)):
                node.expand()
            if resource.field_changes is None and str(resource.change) == "updated":
                node.add_leaf(
                    rich_text.Text("(select to compute the field changes)", "dim"), ("diff", resource.name)
                )
        branch.expand()

    def _resources(
        self, parent: TreeNode[Any], found: detail_mod.MessageDetail, first: set[str] | None = None
    ) -> None:
        ordered = sorted(found.resources, key=lambda r: (r.name not in (first or ()), r.type_url, r.name))
        for resource in ordered[:RESOURCES_LISTED]:
            mark, style = CHANGE_MARKS.get(str(resource.change), (" ", ""))
            if first and resource.name in first:
                style = "bold red"
            parent.add_leaf(rich_text.Text(f"{mark} {resource.name or '(no name)'}", style), resource.body)
        if len(ordered) > RESOURCES_LISTED:
            parent.add_leaf(
                rich_text.Text(
                    f"… {len(ordered) - RESOURCES_LISTED} more: save the message (e) for all", "dim"
                )
            )

    @on(Tree.NodeHighlighted, "#detail-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        data = event.node.data
        body = self.query_one("#detail-body", body_view.BodyView)
        if isinstance(data, tuple) and data and data[0] == "diff":
            self._diff_later(data[1], event.node)
            body.show(None, "computing the field changes…")
            return
        body.show(data, str(event.node.label))

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _diff_later(self, name: str, node: TreeNode[Any]) -> None:
        if self.detail is None:
            return
        resource = detail_mod.diff_of(self.index, self.detail, name)
        changes = list(resource.field_changes or ()) if resource is not None else []
        self.app.call_from_thread(self._show_diff, node, changes)

    def _show_diff(self, node: TreeNode[Any], changes: list[configdiff.FieldChange] | None) -> None:
        parent = node.parent
        node.remove()
        if parent is None:
            return
        for change in changes or []:
            parent.add_leaf(rich_text.Text(configdiff.format_change(change), "yellow"), _change_json(change))
        parent.expand()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_format(self) -> None:
        fmt = self.query_one("#detail-body", body_view.BodyView).toggle_format()
        self.notify(f"showing {fmt.upper()}", timeout=1)

    def action_focus_body(self) -> None:
        self.query_one("#detail-body", body_view.BodyView).focus()

    def action_focus_tree(self) -> None:
        self.query_one("#detail-tree", Tree).focus()

    def action_save(self) -> None:
        from xdsspy.tui.screens import save_screen

        self.app.push_screen(save_screen.SaveScreen(self.index, save_screen.SaveChoice.message(self.row)))


def _change_json(change: configdiff.FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.path, "kind": str(change.kind)}
    if change.old is not configdiff.MISSING:
        out["old"] = change.old
    if change.new is not configdiff.MISSING:
        out["new"] = change.new
    return out
