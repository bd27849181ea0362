"""The Resources screen: an Envoy's resources linked as Envoy links them, NACKED beside, history, diffs."""

from __future__ import annotations

import re

from textual.widgets import DataTable
from textual.widgets import Tree

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.screens import resources_screen
from xdsspy.tui.widgets import body_view

SIZE = (120, 40)


def labels(screen: resources_screen.ResourcesScreen) -> list[str]:
    return pilot_mod.tree_labels(screen.query_one("#res-tree", Tree))


async def test_linked_resources_with_the_nacked_one_beside_and_its_history_diffed() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("n", "r")
        screen = app.screen
        assert isinstance(screen, resources_screen.ResourcesScreen)
        await seen.until(pilot, lambda: screen.config is not None, "the Envoy's resources")
        found = labels(screen)
        assert found[0].startswith("Listener ingress")
        assert any(label.startswith("RouteConfiguration ingress-routes") for label in found)
        static_label = next(label for label in found if label.startswith("Cluster static-svc"))
        assert re.search(r"  v\S+  v\S+ NACKED", static_label), static_label  # accepted, then rejected
        summary = str(screen.query_one("#res-summary").render())
        assert "1 NACKED" in summary and "0 dangling" in summary
        tree = screen.query_one("#res-tree", Tree)
        static = next(n for n in pilot_mod.tree_nodes(tree) if str(n.label).startswith("Cluster static-svc"))
        tree.move_cursor(static)
        await pilot.press("h")
        table = screen.query_one("#res-versions", DataTable)
        await seen.until(pilot, lambda: table.display and table.row_count >= 2, "the versions")
        await pilot.press("down", "d")  # the NACKED version against the one before it
        body = screen.query_one("#res-body", body_view.BodyView)
        await seen.until(pilot, lambda: 'connect_timeout: "1s" → "-1s"' in body.plain, "the diff")
