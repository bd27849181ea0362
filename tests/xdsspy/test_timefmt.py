"""Timestamps for export (RFC 3339, nanoseconds, UTC) and for one-line output."""

from __future__ import annotations

import datetime

from xdsspy import timefmt


def test_rfc3339_keeps_nanoseconds_and_is_utc() -> None:
    assert timefmt.rfc3339(1_795_000_000_123_456_789) == "2026-11-18T11:06:40.123456789Z"
    parsed = datetime.datetime.fromisoformat(timefmt.rfc3339(0).replace("Z", "+00:00"))
    assert parsed == datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def test_clock_has_microseconds() -> None:
    assert timefmt.clock(1_795_000_000_123_456_789).endswith(".123456")
