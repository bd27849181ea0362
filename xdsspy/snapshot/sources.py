"""Turns what a user names as a snapshot into one: `FILE@POINT` of a recording, a dump, a snapshot file.

A recording (found by its magic) is read at its point (`recorded`; no point
means `@last`); any other file is read as JSON or YAML and recognised by its
shape: xdsspy's own snapshot file (`files`), else a `/config_dump`, Envoy's or
istiod's (`configdump`). Anything else gets one line saying what was
expected.
"""

from __future__ import annotations

import os

from xdsspy.decode import resources
from xdsspy.record import format as record_format
from xdsspy.snapshot import configdump
from xdsspy.snapshot import files
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.snapshot import recorded

EXPECTED = (
    "a recording (FILE, FILE@N, FILE@<time>, FILE@last, FILE@nack:K), an Envoy /config_dump, "
    "istiod's /debug/config_dump or an xdsspy snapshot file"
)


def is_recording(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(record_format.FILE_MAGIC)) == record_format.FILE_MAGIC
    except OSError:
        return False


def load(spec: str, *, node: str | None = None, kind: model.SourceKind | None = None) -> model.Snapshot:
    """The snapshot `spec` names (see the module docstring); raises problems.SnapshotError."""
    with resources.paused_gc():  # a large dump is millions of acyclic containers
        return _load(spec, node, kind)


def _load(spec: str, node: str | None, kind: model.SourceKind | None) -> model.Snapshot:
    path, point = recorded.split_source(spec)
    if point is not None or is_recording(path):
        if not os.path.exists(path):
            raise problems.SnapshotError(f"{path}: no such file")
        if not is_recording(path):
            raise problems.SnapshotError(
                f"{path}: not an xdsspy recording, so @{spec.rpartition('@')[2]} means nothing"
            )
        return recorded.load(path, point or recorded.LAST, node=node, source=spec)
    document = files.read_document(path)
    if files.is_snapshot(document):
        snapshot = files.from_document(document, spec)
    elif isinstance(document, dict) and "configs" in document:
        snapshot = configdump.load(document, spec, kind=kind)
    else:
        raise problems.SnapshotError(f"{path}: not {EXPECTED}")
    if node is not None and snapshot.node and not recorded.names(snapshot.node, node):
        return snapshot.with_items(
            snapshot.items, f"--node {node} does not name this dump's node ({snapshot.node})"
        )
    return snapshot
