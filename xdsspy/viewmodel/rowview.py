"""The rows a timeline shows: all of an index's rows, or those a filter keeps, growing as the index grows.

A `RowView` maps its own positions (what a scrolling widget counts) to
positions in `index.rows`. Without a filter it is the identity and costs
nothing; with one it keeps the matching row numbers in a list, extended by
`catch_up` as rows arrive (a budget lets a caller do it in slices). Gap rows
pass every filter: a hole in the recording must never hide. Navigation
(next NACK, the row nearest a row number) is bisection, so it stays instant on
100k+ rows.
"""

from __future__ import annotations

import bisect

from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import rows as rows_mod


class RowView:
    """See the module docstring. Extend from one thread; read from that one too (the UI's)."""

    def __init__(self, index: index_mod.RecordingIndex, keeps: filterexpr.Filter | None = None) -> None:
        self.index = index
        self.keeps = keeps if keeps is not None and keeps.active else None
        self._matches: list[int] = []
        self._scanned = 0
        self._visible = 0  # rows visible without a filter (frozen while the display is paused)

    @property
    def filtered(self) -> bool:
        return self.keeps is not None

    @property
    def pending(self) -> int:
        """Rows of the index not yet looked at."""
        return len(self.index.rows) - self._scanned

    def catch_up(self, budget: int | None = None) -> int:
        """Take in rows the index added since the last call (at most `budget`); returns how many."""
        rows = self.index.rows
        end = len(rows) if budget is None else min(len(rows), self._scanned + budget)
        start = self._scanned
        if self.keeps is None:
            self._visible = end
        else:
            test = self.keeps.matches
            gap = rows_mod.RowKind.GAP
            matches = self._matches
            for i in range(start, end):
                row = rows[i]
                if row.kind == gap or test(row):
                    matches.append(i)
        self._scanned = end
        return end - start

    def __len__(self) -> int:
        return self._visible if self.keeps is None else len(self._matches)

    def row_number(self, position: int) -> int:
        """The position in index.rows of this view's row `position`."""
        return position if self.keeps is None else self._matches[position]

    def row(self, position: int) -> rows_mod.Row:
        return self.index.rows[self.row_number(position)]

    def position_of(self, row_number: int) -> int:
        """This view's position of the row `row_number`, or of the nearest kept row before it (0 if none)."""
        if self.keeps is None:
            return max(0, min(row_number, self._visible - 1))
        return max(0, bisect.bisect_right(self._matches, row_number) - 1)

    def next_nack(self, position: int, *, forward: bool = True) -> int | None:
        """The view position of the next (or previous) NACK after `position`, if the view holds one."""
        nacks = self.index.nack_rows
        current = self.row_number(position) if len(self) else -1
        if forward:
            i = bisect.bisect_right(nacks, current)
            candidates = range(i, len(nacks))
        else:
            i = bisect.bisect_left(nacks, current)
            candidates = range(i - 1, -1, -1)
        for k in candidates:
            row_number = nacks[k]
            if row_number >= self._scanned:
                return None  # not taken in yet
            found = self._find(row_number)
            if found is not None:
                return found
        return None

    def _find(self, row_number: int) -> int | None:
        if self.keeps is None:
            return row_number if row_number < self._visible else None
        i = bisect.bisect_left(self._matches, row_number)
        return i if i < len(self._matches) and self._matches[i] == row_number else None
