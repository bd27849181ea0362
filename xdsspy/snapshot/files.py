"""The files a snapshot comes from and goes to: JSON or YAML documents, and xdsspy's own snapshot format.

`read_document` reads a file as JSON, or as YAML when it is not JSON (Istio
1.6's bootstrap is not strict JSON; Envoy reads it as YAML): with a safe
loader only, timestamps left as the strings JSON would hold, a size cap
(`MAX_DOCUMENT_BYTES`), and one line saying what is wrong rather than a
traceback.

xdsspy's snapshot file (`to_document`, `from_document`) is one JSON object:
`{"xdsspy_snapshot": 1, "source", "source_kind", "node", "at", "seq",
"has_static", "has_endpoints", "envoy_version", "istio_version", "notes",
"resources": {"clusters": [{"name", "state", "version", "last_updated",
"error", "problem", "body"}], …}}`, resources keyed by their type's plural
(`model.plural`); an entry of a type without a plural of its own says its
`type_url`. Empty optional fields are left out. A file stands for the Envoy
it was taken from: reading it gives the snapshot's kind, node, moment and
items as they were, under the name the file is read by (the `source` it was
taken from stays in the file). Items come back grouped by type, in their
order within it.

`write` writes a file the way every xdsspy output is written: mode 0600,
never through a symlink.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import json
import os
import stat
from collections.abc import Iterator
from typing import Any
from typing import BinaryIO
from typing import TypeVar

import yaml

from xdsspy import errors
from xdsspy import privatefile
from xdsspy.snapshot import model
from xdsspy.snapshot import problems

_E = TypeVar("_E", bound=enum.StrEnum)
FORMAT_VERSION = 1
"""The snapshot file format this xdsspy writes, and the newest it reads."""
MAX_DOCUMENT_BYTES = 2 * 1024**3
"""Larger files are refused rather than read into memory."""

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BY_PLURAL = {plural: type_url for type_url, plural in model.PLURALS.items()}
_EXPECTED = {str: "a string", bool: "true or false", int: "a whole number", list: "a list", dict: "an object"}
_SCALARS = {
    str: "a plain string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "nothing",
}
_STATE_NAMES = {str(state): state for state in model.State}
_ITEM_TEXTS = ("version", "last_updated", "error", "problem")  # model.Item's fields after `state`
_COMPRESSED = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}


class _Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """Safe YAML that leaves timestamps as strings: a dump's `last_updated` stays what JSON would hold."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}


# -- reading JSON or YAML ---------------------------------------------------------------------------


def read_document(path: str, *, max_bytes: int | None = None) -> Any:
    """The file's JSON, or its YAML when it is not JSON; problems.SnapshotError for anything else."""
    try:
        return _read_document(path, MAX_DOCUMENT_BYTES if max_bytes is None else max_bytes)
    except MemoryError:  # under the size cap, but more than this process may hold once parsed
        raise problems.SnapshotError(f"{path}: too big to read in the memory xdsspy may use") from None


def _read_document(path: str, limit: int) -> Any:
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_size > limit:
                raise problems.SnapshotError(
                    f"{path}: {info.st_size:,} bytes, more than xdsspy reads ({limit:,})"
                )
            data = file.read(info.st_size + 1) if stat.S_ISREG(info.st_mode) else _read_capped(file, limit)
    except FileNotFoundError:
        raise problems.SnapshotError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise problems.SnapshotError(f"{path}: a directory, not a file") from None
    except OSError as e:
        raise problems.SnapshotError(f"{path}: cannot be read: {e.strerror or e}") from None
    if len(data) > limit:
        raise problems.SnapshotError(f"{path}: more bytes than xdsspy reads ({limit:,})")
    if not data.strip():
        raise problems.SnapshotError(f"{path}: the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        packed = next((name for magic, name in _COMPRESSED.items() if data.startswith(magic)), "")
        hint = f": it is {packed}-compressed, decompress it first" if packed else ""
        raise problems.SnapshotError(
            f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}){hint}"
        ) from None
    return _parse(path, text)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing makes millions of containers and no cycles: the cyclic collector would triple the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_capped(file: BinaryIO, limit: int) -> bytes:
    """A pipe's or a device's bytes, stopping one past the limit."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = file.read(min(1 << 24, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _parse(path: str, text: str) -> Any:
    with _collector_paused():
        return _parse_text(path, text)


def _parse_text(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        json_error = f"line {e.lineno}, column {e.colno}: {e.msg}"
    except RecursionError:
        raise problems.SnapshotError(f"{path}: nested too deeply to read") from None
    try:
        document = yaml.load(text, Loader=_Loader)  # _Loader is a safe loader
    except yaml.YAMLError as e:
        yaml_error = _yaml_problem(e)
    except RecursionError:
        raise problems.SnapshotError(f"{path}: nested too deeply to read") from None
    else:
        if isinstance(document, dict | list):
            return document
        yaml_error = f"{_SCALARS.get(type(document), 'a value')} rather than an object or a list"
    if text.lstrip()[:1] in ("{", "["):
        raise problems.SnapshotError(f"{path}: malformed JSON at {json_error} (and not YAML: {yaml_error})")
    raise problems.SnapshotError(f"{path}: neither YAML ({yaml_error}) nor JSON ({json_error})")


def _yaml_problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if mark is None:
        return str(problem)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


# -- xdsspy's snapshot files ------------------------------------------------------------------------


def is_snapshot(document: Any) -> bool:
    return isinstance(document, dict) and "xdsspy_snapshot" in document


def to_document(snapshot: model.Snapshot) -> dict[str, Any]:
    """The snapshot as xdsspy's snapshot file (see the module docstring), ready for JSON or YAML."""
    out: dict[str, Any] = {
        "xdsspy_snapshot": FORMAT_VERSION,
        "source": snapshot.source,
        "source_kind": str(snapshot.kind),
    }
    if snapshot.node:
        out["node"] = snapshot.node
    if snapshot.at:
        out["at"] = snapshot.at
    if snapshot.seq is not None:
        out["seq"] = snapshot.seq
    out["has_static"] = snapshot.has_static
    out["has_endpoints"] = snapshot.has_endpoints
    if snapshot.envoy_version:
        out["envoy_version"] = snapshot.envoy_version
    if snapshot.istio_version:
        out["istio_version"] = snapshot.istio_version
    if snapshot.notes:
        out["notes"] = list(snapshot.notes)
    resources: dict[str, list[dict[str, Any]]] = {}
    for item in snapshot.items:
        key = model.plural(item.type_url)
        entry: dict[str, Any] = {} if _BY_PLURAL.get(key) == item.type_url else {"type_url": item.type_url}
        entry["name"] = item.name
        entry["state"] = str(item.state)
        for field, value in (
            ("version", item.version),
            ("last_updated", item.last_updated),
            ("error", item.error),
            ("problem", item.problem),
        ):
            if value:
                entry[field] = value
        if item.body is not None:
            entry["body"] = item.body
        resources.setdefault(key, []).append(entry)
    out["resources"] = resources
    return out


def from_document(document: Any, source: str) -> model.Snapshot:
    """The snapshot an xdsspy snapshot file holds, named `source`; problems.SnapshotError if it cannot be."""
    if not is_snapshot(document):
        raise problems.SnapshotError(f'{source}: not an xdsspy snapshot file (no "xdsspy_snapshot")')
    version = document["xdsspy_snapshot"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise problems.SnapshotError(f"{source}: xdsspy_snapshot: {version!r} is not a format version")
    if version > FORMAT_VERSION:
        raise problems.SnapshotError(
            f"{source}: written by a newer xdsspy (snapshot format {version}; "
            f"this one reads format {FORMAT_VERSION}): upgrade xdsspy to read it"
        )
    fields = _Fields(source)
    kind = fields.choice(
        "source_kind", document.get("source_kind"), model.SourceKind, model.SourceKind.SNAPSHOT
    )
    notes = fields.get(document, "notes", list, [])
    resources = fields.get(document, "resources", dict, {})
    items: list[model.Item] = []
    for key, entries in resources.items():
        if not isinstance(entries, list):
            raise fields.fail(f"resources.{key}", "a list", entries)
        items.extend(fields.item(key, j, entry) for j, entry in enumerate(entries))
    seq = fields.get(document, "seq", int, None)
    return model.Snapshot(
        source=source,
        kind=kind,
        items=tuple(items),
        node=fields.get(document, "node", str, ""),
        at=fields.get(document, "at", str, ""),
        seq=None if isinstance(seq, bool) else seq,
        has_static=fields.get(document, "has_static", bool, False),
        has_endpoints=fields.get(document, "has_endpoints", bool, True),
        envoy_version=fields.get(document, "envoy_version", str, ""),
        istio_version=fields.get(document, "istio_version", str, ""),
        notes=tuple(fields.text(f"notes[{i}]", note) for i, note in enumerate(notes)),
    )


class _Fields:
    """Typed reads from a snapshot file, each failing with where it failed."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> problems.SnapshotError:
        found = type(value).__name__ if value is not None else "null"
        return problems.SnapshotError(f"{self.source}: {where}: expected {expected}, found {found}")

    def get(self, obj: dict[str, Any], key: str, kind: type, default: Any) -> Any:
        value = obj.get(key)
        if value is None:
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, _EXPECTED.get(kind, f"a {kind.__name__}"), value)
        return value

    def text(self, where: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "a string", value)
        return value

    def choice(self, where: str, value: Any, kind: type[_E], default: _E | None = None) -> _E:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or value not in {str(k) for k in kind}:
            allowed = ", ".join(str(k) for k in kind)
            raise problems.SnapshotError(f"{self.source}: {where}: {value!r} is not one of {allowed}")
        return kind(value)

    def item(self, key: str, j: int, entry: Any) -> model.Item:
        """One entry of `resources[key]`; the checks run in one pass, the message only when one fails."""
        if isinstance(entry, dict):
            type_url = entry.get("type_url", _BY_PLURAL.get(key))
            name, held = entry.get("name"), entry.get("state")
            state = _STATE_NAMES.get(held) if type(held) is str else None
            texts = [entry.get(field, "") for field in _ITEM_TEXTS]
            if type(type_url) is str and type(name) is str and state and all(type(t) is str for t in texts):
                return model.Item(type_url, name, entry.get("body"), state, *texts)
        raise self._bad_item(f"resources.{key}[{j}]", _BY_PLURAL.get(key), entry)

    def _bad_item(self, where: str, type_url: str | None, entry: Any) -> problems.SnapshotError:
        if not isinstance(entry, dict):
            return self.fail(where, "an object", entry)
        if not isinstance(entry.get("type_url", type_url), str):
            return problems.SnapshotError(
                f"{self.source}: {where}: no type_url, and its list is not a type's plural"
            )
        try:
            self.text(f"{where}.name", entry.get("name"))
            self.choice(f"{where}.state", entry.get("state"), model.State)
            for field in _ITEM_TEXTS:
                self.text(f"{where}.{field}", entry.get(field, ""))
        except problems.SnapshotError as e:
            return e
        raise AssertionError(f"{where} reads")


# -- writing ---------------------------------------------------------------------------------------


def write_bytes(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write data to path with mode 0600, refusing to follow a symlink there (OSError, ELOOP)."""
    with privatefile.open_private(path, "wb") as file:
        file.write(data)


def write(text: str, path: str) -> None:
    """Write text (UTF-8) as `write_bytes` does; errors.XdsspyError with one line when it cannot."""
    try:
        write_bytes(text.encode("utf-8"), path)
    except OSError as e:
        if os.path.islink(path):
            raise errors.XdsspyError(f"{path}: a symlink; xdsspy does not write through one") from None
        raise errors.XdsspyError(f"{path}: cannot be written: {e.strerror or e}") from None
