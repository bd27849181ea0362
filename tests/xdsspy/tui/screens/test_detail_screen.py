"""The detail screen: a NACK beside the push it rejected, a push's field-level changes, YAML or JSON."""

from __future__ import annotations

from textual.widgets import Tree

from xdsspy.testing import pilot as pilot_mod
from xdsspy.tui.screens import detail_screen
from xdsspy.tui.widgets import body_view
from xdsspy.viewmodel import rows

SIZE = (120, 40)


def labels(screen: detail_screen.DetailScreen) -> list[str]:
    return pilot_mod.tree_labels(screen.query_one("#detail-tree", Tree))


async def test_a_nack_shows_envoy_s_error_and_the_change_it_rejected() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("n", "enter")
        screen = app.screen
        assert isinstance(screen, detail_screen.DetailScreen)
        await seen.until(pilot, lambda: screen.detail is not None, "the detail")
        found = labels(screen)
        assert any(label.startswith("NACK Invalid duration") for label in found)
        assert any("static-svc  ← rejected" in label for label in found)
        assert 'connect_timeout: "1s" → "-1s"' in found
        assert "Invalid duration" in str(screen.query_one("#detail-nack").render())
        await pilot.press("escape")
        assert app.screen is app.main


async def test_a_push_shows_what_it_changed_and_a_part_as_yaml_or_json() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("delta-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        push = next(
            i
            for i, r in enumerate(app.index.rows)
            if r.verdict == "push" and r.step.verdict is not None and r.step.verdict.updated
        )
        app.main.timeline.cursor = push
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, detail_screen.DetailScreen)
        await seen.until(pilot, lambda: screen.detail is not None, "the detail")
        found = labels(screen)
        assert any(label.startswith("Changes +") for label in found), found
        assert any("connect_timeout" in label and "→" in label for label in found), found
        body = screen.query_one("#detail-body", body_view.BodyView)
        assert body.fmt == "yaml"
        await pilot.press("y")
        assert body.fmt == "json"


async def test_rows_that_are_not_messages_say_what_they_are() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("sotw-nack.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        assert app.main is not None
        app.main.timeline.cursor = next(
            i for i, r in enumerate(app.index.rows) if r.kind == rows.RowKind.OPEN
        )
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, detail_screen.DetailScreen)
        await seen.until(pilot, lambda: screen.detail is not None, "the detail")
        found = labels(screen)
        assert "Event" in found and any(label.startswith("Headers (") for label in found)


async def test_a_rest_rejection_says_why_there_is_no_error_to_show() -> None:
    seen = pilot_mod.Seen()
    app = pilot_mod.sample_app("rest-reject.xdsspy")
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await seen.until(pilot, seen.indexed, "the index")
        await pilot.press("n", "enter")
        screen = app.screen
        assert isinstance(screen, detail_screen.DetailScreen)
        await seen.until(pilot, lambda: screen.detail is not None, "the detail")
        box = str(screen.query_one("#detail-nack").render())
        assert "none sent (REST: the next poll kept the old version)" in box
