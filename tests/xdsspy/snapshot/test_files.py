"""Tests of xdsspy.snapshot.files: reading JSON or YAML, xdsspy's snapshot files, and private writes."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import threading
from typing import Any

import pytest

from xdsspy import errors
from xdsspy.snapshot import configdump
from xdsspy.snapshot import files
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.testing import istio_files
from xdsspy.testing import processes

FIXTURES, ABSENT = istio_files.ROOT, istio_files.ABSENT
S = model.State


def _path(relative: str) -> str:
    return str(istio_files.path(relative))


def _file(tmp_path: pathlib.Path, data: bytes, name: str = "doc") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _error(path: str, **kwargs: Any) -> str:
    with pytest.raises(problems.SnapshotError) as raised:
        files.read_document(path, **kwargs)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


# -- read_document -------------------------------------------------------------------------------------


def test_reads_json_and_yaml_dumps() -> None:
    as_json = files.read_document(_path("modern-v3/waypoint-istio1.21.config_dump.json"))
    as_yaml = files.read_document(_path("modern-v3/sidecar-listeners-authz.config_dump.yaml"))
    assert len(as_json["configs"]) == 7 and len(as_yaml["configs"]) == 1
    first = as_yaml["configs"][0]["static_listeners"][0]
    assert first["last_updated"] == "2023-06-20T09:07:41.865Z"


def test_istio_16_bootstrap_is_not_json_and_reads_as_yaml() -> None:
    path = _path("golden/bootstrap-default.istio1.6_golden.json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(pathlib.Path(path).read_text())
    document = files.read_document(path)
    assert document["node"]["id"] == "sidecar~1.2.3.4~foo~bar"
    assert "static_resources" in document


def test_yaml_timestamps_stay_strings_as_json_would_hold_them(tmp_path: pathlib.Path) -> None:
    document = files.read_document(
        _file(tmp_path, b"last_updated: 2026-01-02T03:04:05.678Z\nwhen: 2026-01-02\n")
    )
    assert document == {"last_updated": "2026-01-02T03:04:05.678Z", "when": "2026-01-02"}


def test_yaml_never_runs_code(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "ran"
    path = _file(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n'.encode())
    assert "could not determine a constructor for the tag" in _error(path)
    assert not marker.exists()


def test_reads_a_pipe_and_caps_what_has_no_size(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(b'{"configs": []}',))
    writer.start()
    assert files.read_document(str(fifo)) == {"configs": []}
    writer.join()
    assert _error("/dev/zero", max_bytes=1000) == "/dev/zero: more bytes than xdsspy reads (1,000)"


def test_malformed_json_says_line_and_column(tmp_path: pathlib.Path) -> None:
    path = _file(tmp_path, b'{\n  "configs": [\n    {"@type": "x",,}\n  ]\n}\n')
    message = _error(path)
    assert message.startswith(f"{path}: malformed JSON at line 3, column 19: Expecting property name")
    assert "(and not YAML: line 3" in message


def test_neither_yaml_nor_json(tmp_path: pathlib.Path) -> None:
    assert "neither YAML (line 2, column 1" in _error(_file(tmp_path, b"a: [unclosed\n"))
    message = _error(_file(tmp_path, b"just some words\n", "words"))
    assert "a plain string rather than an object or a list" in message and "line 1, column 1" in message


@pytest.mark.parametrize("data", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path: pathlib.Path, data: bytes) -> None:
    assert _error(_file(tmp_path, data)).endswith(": the file is empty")


def test_missing_file_and_directory(tmp_path: pathlib.Path) -> None:
    assert _error(str(tmp_path / "nope.json")).endswith(": no such file")
    assert _error(str(tmp_path)).endswith(": a directory, not a file")


def test_not_utf8(tmp_path: pathlib.Path) -> None:
    assert _error(_file(tmp_path, b'{"a": "\xff"}')).endswith(": not UTF-8 text (byte 0xff at offset 7)")
    gzipped = _file(tmp_path, b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "dump.json.gz")
    assert _error(gzipped).endswith("it is gzip-compressed, decompress it first")


def test_a_utf8_byte_order_mark_is_fine(tmp_path: pathlib.Path) -> None:
    assert files.read_document(_file(tmp_path, b'\xef\xbb\xbf{"configs": []}')) == {"configs": []}


def test_size_cap(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, b'{"configs": []}' + b" " * 100)
    assert _error(path, max_bytes=50) == f"{path}: 115 bytes, more than xdsspy reads (50)"
    monkeypatch.setattr(files, "MAX_DOCUMENT_BYTES", 20)
    assert "more than xdsspy reads (20)" in _error(path)
    assert files.MAX_DOCUMENT_BYTES == 20 and files.read_document(path, max_bytes=115) == {"configs": []}


def test_a_file_under_the_cap_but_over_the_memory_is_refused_in_one_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # sparse: a gigabyte to read that costs no disk
    for args in (("snapshot", str(path)), ("diff", str(path), str(path))):
        capped = processes.with_address_space(384 << 20, processes.xdsspy_command(*args))
        done = subprocess.run(capped, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr == f"xdsspy: {path}: too big to read in the memory xdsspy may use\n"


@pytest.mark.parametrize("data", [b"[" * 200_000, b"[" * 200_000 + b"]" * 200_000])
def test_absurd_nesting_is_refused_not_a_crash(tmp_path: pathlib.Path, data: bytes) -> None:
    assert _error(_file(tmp_path, data)).endswith(": nested too deeply to read")


# -- xdsspy's snapshot files ---------------------------------------------------------------------------


def _rich_snapshot() -> model.Snapshot:
    return model.Snapshot(
        source="run.xdsspy@17",
        kind=model.SourceKind.RECORDING,
        items=(
            model.Item(model.LISTENER, "l", {"@type": "x.Listener", "name": "l"}, S.ACTIVE, "3", "T1"),
            model.Item(
                model.LISTENER,
                "l",
                {"@type": "x.Listener", "name": "l", "bad": 1},
                S.REJECTED,
                "4",
                "T2",
                "no",
            ),
            model.Item(model.CLUSTER, "c", None, S.ACTIVE, problem="undecodable"),
            model.Item("type.googleapis.com/acme.v1.Thing", "t", {"@type": "acme.v1.Thing"}),
            model.Item("type.googleapis.com/acme.v2.Thing", "t2", {"@type": "acme.v2.Thing"}, S.WARMING),
            model.Item("type.googleapis.com/acme.v1.clusters", "odd", {"@type": "acme.v1.clusters"}),
        ),
        node="sidecar~1",
        at="2026-01-01T00:00:00Z",
        seq=17,
        has_static=False,
        has_endpoints=True,
        envoy_version="1.40.0",
        istio_version="1.28.0",
        notes=("run.xdsspy: torn at byte 7",),
    )


def test_snapshot_document_shape() -> None:
    document = files.to_document(_rich_snapshot())
    assert list(document) == [
        "xdsspy_snapshot",
        "source",
        "source_kind",
        "node",
        "at",
        "seq",
        "has_static",
        "has_endpoints",
        "envoy_version",
        "istio_version",
        "notes",
        "resources",
    ]
    assert list(document["resources"]) == ["listeners", "clusters", "Thing"]
    assert document["resources"]["listeners"][1] == {
        "name": "l",
        "state": "rejected",
        "version": "4",
        "last_updated": "T2",
        "error": "no",
        "body": {"@type": "x.Listener", "name": "l", "bad": 1},
    }
    assert document["resources"]["clusters"] == [
        {"name": "c", "state": "active", "problem": "undecodable"},
        {
            "type_url": "type.googleapis.com/acme.v1.clusters",
            "name": "odd",
            "state": "active",
            "body": {"@type": "acme.v1.clusters"},
        },
    ]
    assert [e["type_url"] for e in document["resources"]["Thing"]] == [
        "type.googleapis.com/acme.v1.Thing",
        "type.googleapis.com/acme.v2.Thing",
    ]
    bare = files.to_document(model.Snapshot("s", model.SourceKind.CONFIG_DUMP, ()))
    assert bare == {
        "xdsspy_snapshot": 1,
        "source": "s",
        "source_kind": "config_dump",
        "has_static": False,
        "has_endpoints": True,
        "resources": {},
    }


def test_snapshot_round_trip_through_json_text() -> None:
    snapshot = _rich_snapshot()
    text = json.dumps(files.to_document(snapshot))
    back = files.from_document(json.loads(text), snapshot.source)
    grouped = sorted(
        snapshot.items, key=lambda i: ["listeners", "clusters", "Thing"].index(model.plural(i.type_url))
    )
    assert back == snapshot.with_items(grouped)


def test_reading_names_the_snapshot_by_its_file() -> None:
    back = files.from_document(files.to_document(_rich_snapshot()), "saved.json")
    assert (back.source, back.kind, back.seq) == ("saved.json", model.SourceKind.RECORDING, 17)


@pytest.mark.parametrize("path", istio_files.dump_params())
def test_every_istio_fixture_round_trips_as_a_snapshot_file(path: pathlib.Path) -> None:
    snapshot = configdump.load(files.read_document(str(path)), path.name)
    assert files.is_snapshot(files.to_document(snapshot))
    assert files.from_document(json.loads(json.dumps(files.to_document(snapshot))), path.name) == snapshot


def test_is_snapshot() -> None:
    assert files.is_snapshot({"xdsspy_snapshot": 1})
    assert not files.is_snapshot({"configs": []}) and not files.is_snapshot([1])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"configs": []}, 'not an xdsspy snapshot file (no "xdsspy_snapshot")'),
        ({"xdsspy_snapshot": 2}, "written by a newer xdsspy (snapshot format 2; this one reads format 1)"),
        ({"xdsspy_snapshot": "1"}, "xdsspy_snapshot: '1' is not a format version"),
        ({"xdsspy_snapshot": True}, "xdsspy_snapshot: True is not a format version"),
        ({"xdsspy_snapshot": 1, "source_kind": "mystery"}, "source_kind: 'mystery' is not one of recording,"),
        ({"xdsspy_snapshot": 1, "seq": "17"}, "seq: expected a whole number, found str"),
        ({"xdsspy_snapshot": 1, "seq": True}, "seq: expected a whole number, found bool"),
        ({"xdsspy_snapshot": 1, "has_static": "yes"}, "has_static: expected true or false, found str"),
        ({"xdsspy_snapshot": 1, "notes": ["a", 2]}, "notes[1]: expected a string, found int"),
        ({"xdsspy_snapshot": 1, "resources": []}, "resources: expected an object, found list"),
        (
            {"xdsspy_snapshot": 1, "resources": {"clusters": {}}},
            "resources.clusters: expected a list, found dict",
        ),
        (
            {"xdsspy_snapshot": 1, "resources": {"clusters": [3]}},
            "resources.clusters[0]: expected an object, found int",
        ),
        (
            {"xdsspy_snapshot": 1, "resources": {"clusters": [{"name": "c", "state": "gone"}]}},
            "resources.clusters[0].state: 'gone' is not one of static, active, warming, draining, rejected",
        ),
        (
            {"xdsspy_snapshot": 1, "resources": {"clusters": [{"name": "c", "state": ["active"]}]}},
            "resources.clusters[0].state: ['active'] is not one of",
        ),
        (
            {"xdsspy_snapshot": 1, "resources": {"clusters": [{"state": "active"}]}},
            "resources.clusters[0].name: expected a string, found null",
        ),
        (
            {
                "xdsspy_snapshot": 1,
                "resources": {"clusters": [{"name": "c", "state": "active", "version": 3}]},
            },
            "resources.clusters[0].version: expected a string, found int",
        ),
        (
            {"xdsspy_snapshot": 1, "resources": {"Widget": [{"name": "w", "state": "active"}]}},
            "resources.Widget[0]: no type_url, and its list is not a type's plural",
        ),
    ],
)
def test_snapshot_file_validation(document: Any, message: str) -> None:
    with pytest.raises(problems.SnapshotError) as raised:
        files.from_document(document, "snap.json")
    assert str(raised.value).startswith("snap.json: ") and message in str(raised.value)


def test_missing_optional_fields_read_as_their_defaults() -> None:
    snapshot = files.from_document(
        {"xdsspy_snapshot": 1, "resources": {"clusters": [{"name": "c", "state": "static", "body": {}}]}}, "s"
    )
    assert snapshot == model.Snapshot(
        "s", model.SourceKind.SNAPSHOT, (model.Item(model.CLUSTER, "c", {}, S.STATIC),), has_static=False
    )


# -- write ---------------------------------------------------------------------------------------------


def test_write_is_private(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.json"
    files.write("héllo\n", str(path))
    assert path.read_text(encoding="utf-8") == "héllo\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    files.write("again\n", str(path))
    assert path.read_text() == "again\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_refuses_a_symlink(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep me")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(errors.XdsspyError, match="a symlink; xdsspy does not write through one"):
        files.write("overwritten", str(link))
    assert target.read_text() == "keep me" and os.path.islink(link)
    with pytest.raises(OSError):
        files.write_bytes(b"overwritten", link)


def test_write_failure_is_one_line(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.XdsspyError, match=r"cannot be written: No such file or directory"):
        files.write("x", str(tmp_path / "missing" / "out.json"))
