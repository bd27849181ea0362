"""The header: the recording, its size, Envoys, messages per second, NACKs, and push-rate sparklines."""

from __future__ import annotations

import os

from rich import text as rich_text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label
from textual.widgets import Sparkline
from textual.widgets import Static

from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import words

RATE_SERVICES = ("CDS", "EDS", "LDS", "RDS", "SDS")
RATE_WINDOW_S = 60.0
"""The sparklines show the last minute of the recording's own time (the whole of a shorter one)."""
RATE_BUCKETS = 12
FILTER_SHOWN = 40
"""The header shows this much of a filter; the filter bar (/) has it whole."""


class SessionHeader(Static):
    """One line of facts; `update_from` redraws it from the index."""

    _shown: rich_text.Text | None = None

    def update_from(
        self, index: index_mod.RecordingIndex, *, mode: str, filter_text: str, status: str = ""
    ) -> None:
        """What matters most comes first, so a narrow terminal cuts the least of it."""
        text = rich_text.Text(no_wrap=True, overflow="ellipsis")  # one line: a wrapped rest would be hidden
        text.append(" xdsspy ", "bold reverse")
        text.append(f" [{mode}] ", "bold cyan")
        if status:
            text.append(f"{status} │ ", "bold yellow")
        if filter_text:  # before the figures: a filtered view must never pass for the whole recording
            text.append(f"filter: {words.shorten(filter_text, FILTER_SHOWN)}", "magenta")
            text.append(" │ ")
        nacks = len(index.nack_rows)
        text.append(f"{nacks} NACK{'s' if nacks != 1 else ''}", "bold red" if nacks else "green")
        rows = index.envoys.at()
        connected = sum(1 for row in rows if row.link is not None and row.link.open)
        text.append(f" │ {len(rows)} Envoy{'s' if len(rows) != 1 else ''}")
        text.append(f" ({connected} up)", "dim")
        per_s, bytes_per_s = index.recent_rates()
        text.append(f" │ {per_s:,.0f} msg/s {words.size_text(int(bytes_per_s))}/s")
        try:
            size = os.path.getsize(index.path)
        except OSError:
            size = 0
        text.append(f" │ {os.path.basename(index.path)} ", "bold")
        text.append(f"{words.size_text(size)}, {index.messages:,} messages", "dim")
        if not index.done and not index.caught_up:  # behind the file (a following view is never done)
            text.append(" indexing…", "yellow")
        if text != self._shown:  # unchanged (browsing a finished recording): no redraw at all
            self._shown = text
            self.update(text, layout=False)  # one line, always: no layout pass for the whole screen


class PushRates(Horizontal):
    """A push-rate sparkline per type, so that a push storm shows."""

    def compose(self) -> ComposeResult:
        for service in RATE_SERVICES:
            yield Label(f" {service} ", classes="rate-label")
            yield Sparkline([0.0], id=f"rate-{service}", classes="rate")

    def update_from(self, index: index_mod.RecordingIndex) -> None:
        end = index.last_ns
        if not end:
            return
        start = max(index.first_ns, end - int(RATE_WINDOW_S * 1e9))
        for service in RATE_SERVICES:
            series = index.rates.series(service, start, end, RATE_BUCKETS)
            sparkline = self.query_one(f"#rate-{service}", Sparkline)
            data = [float(v) for v in series]
            if data != sparkline.data:
                sparkline.data = data
                sparkline.tooltip = (
                    f"{service}: {sum(series)} push(es) in the last {(end - start) / 1e9:.0f} s"
                )
