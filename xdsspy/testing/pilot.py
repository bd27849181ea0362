"""Helpers for driving the terminal UI with Textual's Pilot: wait on the app's messages, never sleep."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from xdsspy.tui import app as app_mod
from xdsspy.tui import messages

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "recordings"
WAIT_S = 20.0


class Seen:
    """Every message the app handled (pass `hook` as App.run_test's message_hook), and waits on them."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Event()

    def hook(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()

    async def until(self, pilot: Pilot[object], condition: Callable[[], object], what: str) -> None:
        """Wait until condition() holds, checking again whenever the app handles a message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:
            await pilot.pause()
            if condition():
                return
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass

    def indexed(self) -> bool:
        """The index worker has read the whole recording (its last progress report came)."""
        return any(isinstance(m, messages.IndexProgress) and m.progress.done for m in self.messages)


def sample_app(name: str, **kwargs: bool) -> app_mod.XdsspyApp:
    """The UI over one of the sample recordings in recordings/."""
    return app_mod.make_app(os.fspath(RECORDINGS / name), **kwargs)  # type: ignore[arg-type]


def busy_app(directory: str | os.PathLike[str], messages: int, **shape: int) -> app_mod.XdsspyApp:
    """The UI over a busy mesh's recording of about `messages` messages, written into directory
    (busy_recording.events' keywords shape it: envoys=, big_pushes=, ...)."""
    from xdsspy.testing import busy_recording

    path = os.path.join(directory, "busy.xdsspy")
    busy_recording.write(path, messages, **shape)
    return app_mod.make_app(path)


def tree_nodes(tree: Tree[Any]) -> list[TreeNode[Any]]:
    """Every node below the tree's root, depth first as the tree lists them (collapsed ones included)."""
    out: list[TreeNode[Any]] = []

    def walk(node: TreeNode[Any]) -> None:
        for child in node.children:
            out.append(child)
            walk(child)

    walk(tree.root)
    return out


def tree_labels(tree: Tree[Any]) -> list[str]:
    """The plain text of every node's label below the root, in `tree_nodes` order."""
    return [str(node.label) for node in tree_nodes(tree)]
