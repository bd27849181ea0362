"""The timeline: one line per row of a RowView, drawn on Textual's Line API so 100k+ rows stay smooth.

Only the lines on screen are rendered (with `render`, the formatting `show`
prints), and each rendered line is cached by its row; nothing here holds a
row of its own. The cursor is a position in the view; moving it posts
`Moved` (the Envoys pane follows the moment), Enter posts `Opened`.

The widget scrolls itself vertically (`top`, and a scrollbar drawn in its
last column): a Textual scroll costs a layout pass of the whole screen, and
keys that move the window would pay it every time. A cursor move on screen
redraws two lines; a move off screen redraws the widget, nothing else.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich import console as rich_console
from rich import style as rich_style
from rich import text as rich_text
from rich.segment import Segment
from textual import events
from textual import message
from textual.binding import Binding
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Region
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xdsspy.frontends import render
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import rowview
from xdsspy.viewmodel import words

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
        "timeline--thumb",
        "timeline--track",
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
    class Nowhere(message.Message):
        """A jump found nothing (no NACK after this row...): what to tell the user."""

        timeline: TimelineView
        why: str

    @dataclasses.dataclass
    class Opened(message.Message):
        """Enter (or a double click) on a row."""

        timeline: TimelineView
        row: rows_mod.Row

    def __init__(self, view: rowview.RowView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.columns = render.Columns.for_screen()
        self.marks: set[int] = set()  # row numbers in index.rows
        self.top = 0  # the view position of the first line on screen
        self._styles: dict[str, rich_style.Style] = {}
        self._thumb_drawn = (0, 0)
        self._lines: LRUCache[tuple[int, bool], Strip] = LRUCache(4096)

    # -- the view ---------------------------------------------------------------------------------

    def show_view(self, view: rowview.RowView) -> None:
        """Show another view of the same index (a new filter), keeping the cursor on the same row."""
        current = self.view.row_number(self.cursor) if len(self.view) else 0
        self.view = view
        self._lines.clear()
        self.top = 0
        self.refresh()
        self.cursor = view.position_of(current) if len(view) else 0

    def grow(self, *, follow: bool = False) -> None:
        """The view may hold more rows: with `follow` put the cursor on the last one, else redraw the
        scrollbar and whatever new rows are on screen."""
        self._fit_nodes()
        count = len(self.view)
        if follow and count:
            self.cursor = count - 1
        elif count <= self.top + self.size.height:
            self.refresh()  # new rows show in the window
        elif self._thumb() != self._thumb_drawn:
            self.refresh(Region(self.size.width - 1, 0, 1, self.size.height))  # the scrollbar moved

    def _fit_nodes(self) -> None:
        """The node column as wide as the longest Envoy name so far (up to its cap): it only grows, and
        only when a new Envoy comes, so lines drawn before rarely realign."""
        longest = max((len(words.short_node(node)) for node in self.view.index.envoys.nodes()), default=0)
        wanted = max(8, min(self.columns.node_cap, longest))
        if wanted > self.columns.node:
            self.columns.node = wanted
            self._lines.clear()
            self.refresh()

    def on_resize(self) -> None:
        columns = render.Columns.for_screen(self.size.width)
        if columns.services != self.columns.services:  # narrow <-> wide: another layout of every line
            self.columns = columns
            self._lines.clear()
            self._fit_nodes()
        self.virtual_size = Size(LINE_WIDTH, self.size.height)  # only sideways scrolling is Textual's
        self._place(self.cursor)
        self.refresh()

    @property
    def height(self) -> int:
        return max(self.size.height, 1)

    @property
    def row(self) -> rows_mod.Row | None:
        return self.view.row(self.cursor) if 0 <= self.cursor < len(self.view) else None

    # -- drawing ----------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x = round(self.scroll_x)
        position = self.top + y
        width = max(self.size.width - 1, 0)  # the last column is the scrollbar
        base = self.rich_style
        if position >= len(self.view):
            strip = Strip.blank(width, base)
        else:
            strip = self._line(position).crop_extend(scroll_x, scroll_x + width, base)
            if position == self.cursor:
                strip = strip.apply_style(self._style("timeline--cursor"))
        return Strip.join([strip, self._scrollbar(y)])

    def _style(self, component: str) -> rich_style.Style:
        """A component's style, looked up once (Textual's lookup costs a tenth of a millisecond)."""
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._lines.clear()

    def _thumb(self) -> tuple[int, int]:
        """Where the scrollbar's thumb starts and how long it is (0, 0: no scrollbar)."""
        count, height = len(self.view), self.height
        if count <= height:
            return 0, 0
        size = max(1, height * height // count)
        return min(height - size, self.top * height // count), size

    def _scrollbar(self, y: int) -> Strip:
        start, size = self._thumb_drawn = self._thumb()
        if not size:
            return Strip.blank(1, self.rich_style)
        if start <= y < start + size:
            return Strip([Segment("▐", self._style("timeline--thumb"))], 1)
        return Strip([Segment(" ", self._style("timeline--track"))], 1)

    def _line(self, position: int) -> Strip:
        number = self.view.row_number(position)
        row = self.index_row(number)
        marked = number in self.marks
        key = (number, marked)
        cached = self._lines.get(key)
        if cached is not None and row.kind != rows_mod.RowKind.QUIET_POLLS:  # a run's row keeps counting
            return cached
        text = self._text(row)
        gutter = Segment(GUTTER_MARK, self._style("timeline--mark")) if marked else Segment(GUTTER_NONE)
        strip = Strip([gutter, *_segments(text)], len(GUTTER_NONE) + text.cell_len)
        style = self._row_style(row)
        if style is not None:
            strip = strip.apply_style(style)
        self._lines[key] = strip  # widths are fixed on screen (Columns.for_screen): no line realigns
        return strip

    def index_row(self, number: int) -> rows_mod.Row:
        return self.view.index.rows[number]

    def _row_style(self, row: rows_mod.Row) -> rich_style.Style | None:
        if row.kind == rows_mod.RowKind.MESSAGE and row.is_nack:
            return self._style("timeline--nack")
        if row.kind == rows_mod.RowKind.GAP:
            return self._style("timeline--gap")
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
        if self.top <= new < self.top + self.height and self.top <= old < self.top + self.height:
            # On screen: only the two lines whose cursor mark changed are drawn again.
            width = self.size.width
            self.refresh(Region(0, old - self.top, width, 1), Region(0, new - self.top, width, 1))
        else:
            self._place(new)
            self.refresh()
        self.post_message(self.Moved(self, new, self.row))

    def _place(self, cursor: int) -> None:
        """Move the window so that the cursor is on screen: in the middle after a jump (as vim's zz)."""
        height, count = self.height, len(self.view)
        if not self.top <= cursor < self.top + height:
            self.top = cursor - height // 2
        self.top = max(0, min(self.top, count - height))

    def scroll_rows(self, lines: int) -> None:
        """Move the window (the mouse wheel): the cursor stays on its row, or at the edge of the window."""
        self.top = max(0, min(self.top + lines, len(self.view) - self.height))
        self.refresh()
        if not self.top <= self.cursor < self.top + self.height:
            self.cursor = min(max(self.cursor, self.top), self.top + self.height - 1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_rows(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_rows(-3)

    def action_cursor_up(self) -> None:
        self.cursor = max(self.cursor - 1, 0)

    def action_cursor_down(self) -> None:
        self.cursor = min(self.cursor + 1, max(len(self.view) - 1, 0))

    def action_page_up(self) -> None:
        step = max(self.height - 1, 1)
        self.top = max(self.top - step, 0)
        self.cursor = max(self.cursor - step, 0)

    def action_page_down(self) -> None:
        step = max(self.height - 1, 1)
        self.top = max(0, min(self.top + step, len(self.view) - self.height))
        self.cursor = min(self.cursor + step, max(len(self.view) - 1, 0))

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
        self._nowhere("no marked row in this view (m marks one)")

    def _go(self, position: int | None, otherwise: str) -> None:
        if position is None:
            self._nowhere(otherwise)
        else:
            self.cursor = position

    def _nowhere(self, why: str) -> None:
        """A jump with nowhere to go: a bell and a word in the header (a toast would cost a layout pass)."""
        self.app.bell()
        self.post_message(self.Nowhere(self, why))

    def action_open(self) -> None:
        row = self.row
        if row is not None:
            self.post_message(self.Opened(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return  # the border
        if offset.x >= self.size.width - 1:  # the scrollbar: jump there
            self.scroll_rows(offset.y * len(self.view) // self.height - self.top)
            return
        position = self.top + offset.y
        if 0 <= position < len(self.view):
            self.cursor = position
            if event.chain >= 2:
                self.action_open()


def _segments(text: rich_text.Text) -> list[Segment]:
    """A line's segments without rich's general renderer: the spans of `render` lines never overlap
    (render._Parts builds them one after another), so each is one segment, over the line's own style."""
    plain = text.plain
    base = rich_style.Style.parse(text.style) if isinstance(text.style, str) else text.style
    out: list[Segment] = []
    position = 0
    for span in sorted(text.spans, key=lambda span: span.start):
        if span.start < position:  # overlapping spans after all: rich knows best
            return list(text.render(_CONSOLE))
        if span.start > position:
            out.append(Segment(plain[position : span.start], base))
        style = rich_style.Style.parse(span.style) if isinstance(span.style, str) else span.style
        out.append(Segment(plain[span.start : span.end], base + style))
        position = span.end
    if position < len(plain):
        out.append(Segment(plain[position:], base))
    return out


_CONSOLE = rich_console.Console(width=LINE_WIDTH, color_system="truecolor", force_terminal=True)
