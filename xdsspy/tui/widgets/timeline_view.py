"""The timeline: one line per row of a RowView, drawn on Textual's Line API so 100k+ rows stay smooth.

Only the lines on screen are rendered (with `render`, the formatting `show`
prints), and each rendered line is cached by its row; nothing here holds a
row of its own. The cursor is a position in the view; moving it posts
`Moved` (the Envoys pane follows the moment), Enter posts `Opened`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich import style as rich_style
from rich import text as rich_text
from textual import events
from textual import message
from textual.binding import Binding
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xdsspy.frontends import render
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import rowview

LINE_WIDTH = 512
"""Virtual width: long lines (a NACK's error) scroll sideways rather than wrap."""
GUTTER_MARK = "● "
GUTTER_NONE = "  "


class TimelineView(ScrollView, can_focus=True):
    """See the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("g", "first", "First", tooltip="Go to the first row"),
        Binding("home", "first", "First", show=False, tooltip="Go to the first row"),
        Binding("G", "last", "Last", tooltip="Go to the last row"),
        Binding("end", "last", "Last", show=False, tooltip="Go to the last row"),
        Binding("n", "next_nack", "Next NACK", tooltip="Jump to the next NACK"),
        Binding("N", "previous_nack", "Prev NACK", show=False, tooltip="Jump to the previous NACK"),
        Binding("m", "mark", "Mark", show=False, tooltip="Mark or unmark this row"),
        Binding("M", "next_mark", "Next mark", show=False, tooltip="Jump to the next marked row"),
        Binding("enter", "open", "Detail", tooltip="Everything about this message"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--cursor",
        "timeline--nack",
        "timeline--mark",
        "timeline--gap",
    }

    cursor: reactive[int] = reactive(0, init=False, always_update=True)

    @dataclasses.dataclass
    class Moved(message.Message):
        """The cursor is on another row (`row` None when the view is empty)."""

        timeline: TimelineView
        position: int
        row: rows_mod.Row | None

        def can_replace(self, message: message.Message) -> bool:
            return isinstance(message, TimelineView.Moved)

    @dataclasses.dataclass
    class Opened(message.Message):
        """Enter (or a double click) on a row."""

        timeline: TimelineView
        row: rows_mod.Row

    def __init__(self, view: rowview.RowView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.columns = render.Columns()
        self.marks: set[int] = set()  # row numbers in index.rows
        self._lines: LRUCache[tuple[int, bool], Strip] = LRUCache(4096)
        self._sized = -1

    # -- the view ---------------------------------------------------------------------------------

    def show_view(self, view: rowview.RowView) -> None:
        """Show another view of the same index (a new filter), keeping the cursor on the same row."""
        current = self.view.row_number(self.cursor) if len(self.view) else 0
        self.view = view
        self._lines.clear()
        self._sized = -1
        self.grow()
        self.cursor = view.position_of(current) if len(view) else 0

    def grow(self, *, follow: bool = False) -> None:
        """The view may hold more rows: resize, and with `follow` put the cursor on the last one."""
        count = len(self.view)
        if count != self._sized:
            self._sized = count
            self.virtual_size = Size(LINE_WIDTH, count)
            self.refresh()
        if follow and count:
            self.cursor = count - 1

    @property
    def row(self) -> rows_mod.Row | None:
        return self.view.row(self.cursor) if 0 <= self.cursor < len(self.view) else None

    # -- drawing ----------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        position = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if position >= len(self.view):
            return Strip.blank(width, base)
        strip = self._line(position).crop_extend(scroll_x, scroll_x + width, base)
        if position == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("timeline--cursor"))
        return strip.apply_offsets(scroll_x, y)

    def _line(self, position: int) -> Strip:
        number = self.view.row_number(position)
        row = self.index_row(number)
        marked = number in self.marks
        key = (number, marked)
        cached = self._lines.get(key)
        if cached is not None and row.kind != rows_mod.RowKind.QUIET_POLLS:  # a run's row keeps counting
            return cached
        widths = dataclasses.astuple(self.columns)
        text = rich_text.Text(GUTTER_MARK if marked else GUTTER_NONE, self._gutter_style(marked))
        text.append_text(self._text(row))
        style = self._row_style(row)
        if style is not None:
            text.stylize(style)
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        if dataclasses.astuple(self.columns) != widths:  # a wider value: the lines drawn so far realign
            self._lines.clear()
            self.refresh()
        self._lines[key] = strip
        return strip

    def index_row(self, number: int) -> rows_mod.Row:
        return self.view.index.rows[number]

    def _gutter_style(self, marked: bool) -> rich_style.Style | str:
        return self.get_component_rich_style("timeline--mark") if marked else ""

    def _row_style(self, row: rows_mod.Row) -> rich_style.Style | None:
        if row.kind == rows_mod.RowKind.MESSAGE and row.is_nack:
            return self.get_component_rich_style("timeline--nack")
        if row.kind == rows_mod.RowKind.GAP:
            return self.get_component_rich_style("timeline--gap")
        return None

    def _text(self, row: rows_mod.Row) -> rich_text.Text:
        if row.kind == rows_mod.RowKind.MESSAGE:
            return render.message_line(row.step, self.columns, self.view.index.answered(row))
        if row.kind == rows_mod.RowKind.QUIET_POLLS and row.quiet is not None:
            return render.quiet_polls_line(row.quiet)
        if row.event is not None:
            line = render.event_line(row.event, row.step.node, self.columns)
            if line is not None:
                return line
        return rich_text.Text(f"#{row.step.seq} {row.kind}", "dim")

    def refresh_rows(self) -> None:
        """Forget every drawn line (styles or marks changed)."""
        self._lines.clear()
        self.refresh()

    # -- the cursor -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        count = len(self.view)
        if count and not 0 <= new < count:
            self.cursor = max(0, min(new, count - 1))
            return
        height = max(self.size.height, 1)
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Moved(self, new, self.row))

    def action_cursor_up(self) -> None:
        self.cursor = max(self.cursor - 1, 0)

    def action_cursor_down(self) -> None:
        self.cursor = min(self.cursor + 1, max(len(self.view) - 1, 0))

    def action_page_up(self) -> None:
        self.cursor = max(self.cursor - max(self.size.height - 1, 1), 0)

    def action_page_down(self) -> None:
        self.cursor = min(self.cursor + max(self.size.height - 1, 1), max(len(self.view) - 1, 0))

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = max(len(self.view) - 1, 0)

    def action_next_nack(self) -> None:
        self._go(self.view.next_nack(self.cursor), "no NACK after this row")

    def action_previous_nack(self) -> None:
        self._go(self.view.next_nack(self.cursor, forward=False), "no NACK before this row")

    def action_mark(self) -> None:
        if not len(self.view):
            return
        number = self.view.row_number(self.cursor)
        self.marks.symmetric_difference_update({number})
        self.refresh()

    def action_next_mark(self) -> None:
        here = self.view.row_number(self.cursor) if len(self.view) else -1
        later = sorted(m for m in self.marks if m > here) or sorted(self.marks)
        for number in later:
            position = self.view.position_of(number)
            if self.view.row_number(position) == number:
                self.cursor = position
                return
        self.notify("no marked row in this view (m marks one)", severity="warning")

    def _go(self, position: int | None, otherwise: str) -> None:
        if position is None:
            self.notify(otherwise, severity="information", timeout=2)
        else:
            self.cursor = position

    def action_open(self) -> None:
        row = self.row
        if row is not None:
            self.post_message(self.Opened(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return  # the border or a scrollbar
        position = round(self.scroll_y) + offset.y
        if 0 <= position < len(self.view):
            self.cursor = position
            if event.chain >= 2:
                self.action_open()
