"""The error every snapshot source raises for input it cannot read."""

from __future__ import annotations

from xdsspy import errors


class SnapshotError(errors.XdsspyError):
    """A snapshot source could not be read: the message says which and where."""
