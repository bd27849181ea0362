"""Commands for the palette (ctrl+p): jumps, filters and each Envoy by name, searched as you type."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit
from textual.command import Hit
from textual.command import Hits
from textual.command import Provider

from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import words

FILTERS = (
    ("Only NACKs", "~nack", "the pushes Envoy rejected"),
    ("Only pushes", "~push", "responses that changed something"),
    ("Only CDS", "~t cds", "clusters"),
    ("Only EDS", "~t eds", "endpoints"),
    ("Only LDS", "~t lds", "listeners"),
    ("Only RDS", "~t rds", "routes"),
    ("Only SDS", "~t sds", "secrets"),
    ("Only big messages", "~big 1M", "a megabyte or more"),
    ("Only REST polls", "~rest", "api_type REST"),
    ("Only Delta xDS", "~delta", "incremental streams"),
)


class XdsspyCommands(Provider):
    """What a user may want by name: see FILTERS, the screen's actions, and one entry per Envoy."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from xdsspy.tui.screens import timeline_screen

        main = getattr(self.app, "main", None)
        if not isinstance(main, timeline_screen.TimelineScreen):
            return []
        found: list[tuple[str, Callable[[], object], str]] = [
            ("Jump to the first NACK", partial(_first_nack, main), "n and N move between NACKs"),
            ("Jump to the last row", main.timeline.action_last, "G"),
            ("Toggle follow", main.action_toggle_follow, "f: keep the newest row in view"),
            ("Toggle pause", main.action_toggle_pause, "space: freeze the display, the capture goes on"),
            ("Clear the filter", main.action_clear_filter, "esc"),
            ("Save…", main.action_save, "e: this message or this Envoy's state, secrets masked"),
        ]
        for title, expression, help_text in FILTERS:
            found.append(
                (f"Filter: {title}", partial(main.apply_filter, filterexpr.compile(expression)), help_text)
            )
        for row in main.index.envoys.at():
            node = row.identity.node
            short = words.short_node(node)
            only = filterexpr.compile(f"~node {filterexpr.quote(node)}")
            found.append((f"Filter: only Envoy {short}", partial(main.apply_filter, only), node))
            found.append((f"Resources of Envoy {short}", partial(main._open_resources, node), node))
        return found

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)


def _first_nack(main: object) -> None:
    from xdsspy.tui.screens import timeline_screen

    assert isinstance(main, timeline_screen.TimelineScreen)
    main.timeline.action_first()
    if not main.timeline.row or not main.timeline.row.is_nack:
        main.timeline.action_next_nack()
