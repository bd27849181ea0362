"""A snapshot with its secrets masked: what `snapshot`, `diff` and `bundle` show unless told not to.

Bodies, NACK errors and notes go through one `redact.Redactor`: two
snapshots masked with the same one show the same marker for the same secret,
so a diff still says that a secret changed without saying what it was.
"""

from __future__ import annotations

import dataclasses

from xdsspy import redact
from xdsspy.snapshot import model


def masked(snapshot: model.Snapshot, redactor: redact.Redactor) -> tuple[model.Snapshot, int]:
    """The snapshot with every secret replaced by a marker, and how many values were masked."""
    count = 0
    items = []
    for item in snapshot.items:
        done = redactor.json(item.body)
        count += len(done.paths)
        error = redactor.text(item.error) if item.error else ""
        if done.paths or error != item.error:
            item = dataclasses.replace(item, body=done.value, error=error)
        items.append(item)
    notes = tuple(redactor.text(n) for n in snapshot.notes)
    return dataclasses.replace(snapshot, items=tuple(items), notes=notes), count
