"""The save dialog (`e`): a message, a resource or one Envoy's state, as YAML or JSON, secrets masked.

What is written comes from viewmodel.saving (the same documents a later
`xdsspy snapshot` writes); masking is xdsspy.redact, on unless the user
unticks it, and then the dialog and the notice say so loudly.
"""

from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

from textual import on
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button
from textual.widgets import Checkbox
from textual.widgets import Input
from textual.widgets import Label
from textual.widgets import RadioButton
from textual.widgets import RadioSet
from textual.widgets import Static

from xdsspy import redact
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import saving
from xdsspy.viewmodel import words


@dataclasses.dataclass(frozen=True, slots=True)
class SaveChoice:
    """What the user pointed at when pressing `e`."""

    kind: str  # "message", "resource" or "state"
    row: rows_mod.Row | None = None
    node: str = ""
    position: int = -1
    type_url: str = ""
    name: str = ""

    @classmethod
    def message(cls, row: rows_mod.Row) -> SaveChoice:
        return cls("message", row=row, node=row.node, position=row.position)

    @classmethod
    def state(cls, node: str, position: int) -> SaveChoice:
        return cls("state", node=node, position=position)

    @classmethod
    def resource(cls, node: str, position: int, type_url: str, name: str) -> SaveChoice:
        return cls("resource", node=node, position=position, type_url=type_url, name=name)

    @property
    def seq(self) -> int:
        return self.row.step.seq if self.row is not None else 0

    def title(self) -> str:
        if self.kind == "message" and self.row is not None:
            return f"message #{self.row.step.seq}"
        if self.kind == "resource":
            return f"{words.short_type(self.type_url)} {self.name} of {words.short_node(self.node)}"
        return f"the state of {words.short_node(self.node)}"


class SaveScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        index: index_mod.RecordingIndex,
        choice: SaveChoice,
        *,
        config: envoy_config.EnvoyConfig | None = None,
    ) -> None:
        super().__init__()
        self.index = index
        self.choice = choice
        self.config = config

    def compose(self) -> ComposeResult:
        with Vertical(id="save"):
            yield Label(f"Save {self.choice.title()}", classes="title")
            with RadioSet(id="save-format"):
                yield RadioButton("YAML", value=True, id="fmt-yaml")
                yield RadioButton("JSON", id="fmt-json")
            yield Input(self._file_name("yaml"), id="save-path")
            yield Checkbox(
                "Mask secrets (private keys, SDS secrets, passwords, tokens, authorization and cookies)",
                value=True,
                id="save-redact",
            )
            warning = Static(redact.NOT_REDACTED_WARNING, classes="warning", id="save-warning")
            warning.display = False
            yield warning
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save-ok")
                yield Button("Cancel", id="save-cancel")

    def _file_name(self, fmt: str) -> str:
        seq = self.choice.seq
        if seq == 0 and 0 <= self.choice.position < len(self.index.timeline.steps):
            seq = self.index.timeline.steps[self.choice.position].seq
        kind = self.choice.kind if self.choice.kind != "resource" else f"{self.choice.name}"
        return saving.default_name(kind, self.choice.node, seq, fmt)

    @property
    def fmt(self) -> str:
        return "json" if self.query_one("#fmt-json", RadioButton).value else "yaml"

    @on(RadioSet.Changed, "#save-format")
    def _format_changed(self) -> None:
        path = self.query_one("#save-path", Input)
        stem, ext = os.path.splitext(path.value)
        if ext in (".yaml", ".json"):
            path.value = f"{stem}.{self.fmt}"

    @on(Checkbox.Changed, "#save-redact")
    def _redact_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#save-warning", Static).display = not event.value

    @on(Button.Pressed, "#save-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save-ok")
    @on(Input.Submitted, "#save-path")
    def _save_pressed(self) -> None:
        path = self.query_one("#save-path", Input).value.strip()
        if not path:
            self.notify("a file name, please", severity="warning")
            return
        self.query_one("#save-ok", Button).disabled = True
        self._save(path, self.fmt, self.query_one("#save-redact", Checkbox).value)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _save(self, path: str, fmt: str, masked: bool) -> None:
        try:
            document = self._document()
            result = saving.save(document, path, fmt, redact=masked)
        except (OSError, ValueError) as e:
            self.app.call_from_thread(self._failed, str(e))
            return
        self.app.call_from_thread(self._saved, result, masked)

    def _document(self) -> dict[str, object]:
        choice = self.choice
        if choice.kind == "message" and choice.row is not None:
            return saving.message_document(self.index, choice.row)
        config = self.config
        if config is None or config.node != choice.node or config.position != choice.position:
            config = envoy_config.at(self.index, choice.node, choice.position)
        if choice.kind == "resource":
            return saving.resource_document(config, choice.type_url, choice.name)
        return saving.state_document(config)

    def _failed(self, why: str) -> None:
        self.query_one("#save-ok", Button).disabled = False
        self.notify(why, title="not saved", severity="error", timeout=10)

    def _saved(self, result: saving.SaveResult, masked: bool) -> None:
        if masked:
            self.notify(
                f"{result.path} ({words.size_text(result.bytes_written)}, {result.masked} secret(s) masked)",
                title="saved",
                timeout=8,
            )
        else:
            self.notify(
                f"{result.path}: {redact.NOT_REDACTED_WARNING}",
                title="saved UNMASKED",
                severity="error",
                timeout=15,
            )
        self.dismiss(None)
