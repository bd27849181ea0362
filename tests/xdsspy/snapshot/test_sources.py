"""Which reader a named source goes to: recordings by magic, snapshot files and dumps by shape."""

from __future__ import annotations

import json
import pathlib

import pytest

from xdsspy.snapshot import files
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.snapshot import sources

SAMPLE = pathlib.Path(__file__).resolve().parents[3] / "recordings" / "delta-nack.xdsspy"


def test_a_recording_with_or_without_a_point() -> None:
    assert sources.is_recording(str(SAMPLE))
    last = sources.load(str(SAMPLE))
    assert last.kind == model.SourceKind.RECORDING and last.source == str(SAMPLE)
    assert sources.load(f"{SAMPLE}@nack:1").seq is not None


def test_a_snapshot_file_and_a_config_dump(tmp_path: pathlib.Path) -> None:
    snap = sources.load(str(SAMPLE))
    own = tmp_path / "own.json"
    own.write_text(json.dumps(files.to_document(snap)))
    again = sources.load(str(own))
    assert {i.key for i in again.items} == {i.key for i in snap.items}
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"configs": []}))
    assert sources.load(str(dump)).kind == model.SourceKind.CONFIG_DUMP
    assert sources.load(str(dump), kind=model.SourceKind.ISTIOD).kind == model.SourceKind.ISTIOD


def test_a_point_on_a_file_that_is_not_a_recording_is_refused(tmp_path: pathlib.Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text('{"configs": []}')
    with pytest.raises(problems.SnapshotError, match="not an xdsspy recording"):
        sources.load(f"{dump}@3")
    with pytest.raises(problems.SnapshotError, match="no such file"):
        sources.load(f"{tmp_path}/missing.xdsspy@3")


def test_other_json_says_what_was_expected(tmp_path: pathlib.Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"clusters": []}')
    with pytest.raises(problems.SnapshotError, match="an Envoy /config_dump"):
        sources.load(str(other))
