"""Timestamps as people and tools read them."""

from __future__ import annotations

import datetime


def rfc3339(wall_ns: int) -> str:
    """UTC RFC 3339 with nanoseconds, e.g. 2026-11-25T22:50:40.123456789Z."""
    seconds, nanos = divmod(wall_ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def clock(wall_ns: int) -> str:
    """Local wall-clock time of day with microseconds, for one-line-per-message output."""
    seconds, nanos = divmod(wall_ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds).strftime("%H:%M:%S")
    return f"{base}.{nanos // 1000:06d}"
