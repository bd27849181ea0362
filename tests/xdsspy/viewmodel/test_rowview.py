"""Views over an index's rows: everything, or what a filter keeps, gaps always; NACKs a bisect away."""

from __future__ import annotations

import pathlib

from xdsspy import model
from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import index
from xdsspy.viewmodel import rows
from xdsspy.viewmodel import rowview

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"


def _index(name: str = "sotw-nack.xdsspy") -> index.RecordingIndex:
    ix = index.RecordingIndex(RECORDINGS / name)
    ix.run()
    return ix


def test_without_a_filter_the_view_is_the_index_as_far_as_it_was_taken_in() -> None:
    ix = _index()
    view = rowview.RowView(ix)
    assert len(view) == 0 and view.pending == len(ix.rows) and not view.filtered
    assert view.catch_up(budget=10) == 10 and len(view) == 10
    view.catch_up()
    assert len(view) == len(ix.rows) and view.pending == 0
    assert view.row_number(7) == 7 and view.position_of(999) == len(ix.rows) - 1
    nack = view.next_nack(0)
    assert nack is not None and view.row(nack).is_nack
    assert view.next_nack(nack) is None and view.next_nack(nack, forward=False) is None
    assert view.next_nack(len(view) - 1, forward=False) == nack


def test_a_filter_keeps_its_rows_and_every_gap() -> None:
    ix = _index()
    gap = model.Gap(
        seq=0,
        wall_ns=1,
        monotonic_ns=1,
        first_seq=5,
        last_seq=6,
        records_lost=2,
        bytes_lost=10,
        reason="disk full",
    )
    ix.add(gap)
    view = rowview.RowView(ix, filterexpr.compile("~t lds"))
    view.catch_up()
    kinds = [view.row(i).kind for i in range(len(view))]
    assert kinds[-1] == rows.RowKind.GAP and kinds.count(rows.RowKind.MESSAGE) == len(kinds) - 1
    assert all(view.row(i).type_url.endswith("Listener") for i in range(len(view) - 1))
    assert view.next_nack(0) is None  # the NACK is on CDS: not in this view
    assert view.position_of(0) == 0 and view.row_number(view.position_of(11)) <= 11


def test_an_empty_filter_is_no_filter() -> None:
    assert not rowview.RowView(_index(), filterexpr.compile("  ")).filtered
