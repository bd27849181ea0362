"""The headless front end: one readable line per event that matters."""

from __future__ import annotations

import io

from xdsspy import model
from xdsspy.frontends import headless
from xdsspy.testing import factories as f


def test_lines_name_direction_method_size_and_status() -> None:
    out = io.StringIO()
    headless.print_events(
        [
            f.topen(seq=1),
            f.tmessage(b"x" * 61_234, seq=2),
            f.tmessage(b"y" * 12, direction=model.Direction.RESPONSE, seq=3),
            f.tclose(code=14, seq=4),
        ],
        out,
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert "open" in lines[0] and "ipv4:127.0.0.1:40000" in lines[0]
    assert "envoy -> cp" in lines[1] and "61.2 kB" in lines[1]
    assert "cp -> envoy" in lines[2] and "12 B" in lines[2]
    assert "UNAVAILABLE 'boom'" in lines[3]


def test_gap_is_impossible_to_miss() -> None:
    gap = model.Gap(
        seq=0,
        wall_ns=0,
        monotonic_ns=0,
        first_seq=3,
        last_seq=4,
        records_lost=2,
        bytes_lost=10,
        reason="disk full",
    )
    assert "GAP: 2 records" in (headless.describe(gap) or "")
