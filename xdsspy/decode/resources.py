"""Resource bytes -> the JSON Envoy's /config_dump would print, for every Any at any depth, never raising.

Each `google.protobuf.Any` (the resource itself, every `typed_config`, every
nested Any) is resolved in the registry: its own schema (`Status.TYPED`), the
v3 successor of a v2 type (`V2_AS_V3`), or nothing, in which case the bytes are
shown schema-less (a `protoc --decode_raw`-style tree under "@fields", or
"@json" when the payload is JSON text, as istiod's `istio.io/debug` resources
are). What was not fully typed is listed in `notes`, with its path in the body:
schema-less parts, v2 mappings, fields the schema does not know (for v2 types,
named after the v2 field), TypedStructs whose inner type is unknown or whose
value does not fit it.

The body of a typed resource equals `json_format.MessageToDict` of the Any with
the same options (see `todict`); markers the decoder adds start with "@".
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import functools
import gc
import json
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf import message as pb_message

from xdsspy.decode import envelope
from xdsspy.decode import memo as memo_module
from xdsspy.decode import methods
from xdsspy.decode import schemas
from xdsspy.decode import todict
from xdsspy.decode import tree
from xdsspy.decode import unknown
from xdsspy.decode import versions
from xdsspy.decode import wire

TYPED_STRUCTS = frozenset(("udpa.type.v1.TypedStruct", "xds.type.v3.TypedStruct"))
MAX_ANY_DEPTH = 16
"""Anys inside Anys decoded with their schemas; a deeper one is shown schema-less. Envoy's deepest real
nesting (a matcher's action's typed_config inside a filter inside a listener) is well under ten; bytes
that nest thousands deep would otherwise decode until Python's recursion limit."""
_MAX_RESOLUTIONS = 4096
"""Type URLs whose resolution is cached; a real API has a few hundred, garbage can have millions."""


class Status(enum.StrEnum):
    """How the resource itself (the outermost Any) was decoded."""

    TYPED = "typed"
    V2_AS_V3 = "v2_as_v3"  # a v2 type decoded with its v3 successor
    SCHEMALESS = "schemaless"  # no schema: wire-format tree
    JSON = "json"  # no schema and the payload is JSON text, or a REST resource kept as JSON
    INVALID = "invalid"  # a schema exists but the bytes do not parse with it
    HEARTBEAT = "heartbeat"  # a Resource wrapper without payload: nothing to decode


class NoteKind(enum.StrEnum):
    SCHEMALESS = "schemaless"
    JSON_PAYLOAD = "json_payload"
    INVALID = "invalid"
    V2_AS_V3 = "v2_as_v3"
    UNKNOWN_FIELDS = "unknown_fields"
    TYPED_STRUCT_UNKNOWN = "typed_struct_unknown_type"
    TYPED_STRUCT_INVALID = "typed_struct_invalid"


NOT_TYPED = frozenset((NoteKind.SCHEMALESS, NoteKind.JSON_PAYLOAD, NoteKind.INVALID))
"""Note kinds that mean part of the body is shown without a schema."""


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    """Something about one Any in the body; `path` locates it ("" is the resource itself)."""

    path: str
    kind: NoteKind
    type_url: str
    detail: str
    unknown_fields: tuple[unknown.UnknownField, ...] = ()


@dataclasses.dataclass(slots=True)
class _Pending:
    node: object  # the dict in the body the note is about; its path is found only when asked for
    kind: NoteKind
    type_url: str
    detail: str
    unknown_fields: tuple[unknown.UnknownField, ...] = ()


@dataclasses.dataclass(slots=True)
class DecodedResource:
    """One decoded resource. Treat it as immutable; `notes` resolve their paths on first access."""

    type_url: str
    status: Status
    message_type: str  # the schema used for the outermost message, "" when none
    body: Any  # JSON-ready; None for a heartbeat
    note_kinds: frozenset[NoteKind]
    _pending: tuple[_Pending, ...] = ()
    _notes: tuple[Note, ...] | None = None

    @property
    def fully_typed(self) -> bool:
        """Decoded with schemas throughout (v2-as-v3 counts; unknown fields and TypedStruct notes do not)."""
        return self.status in (Status.TYPED, Status.V2_AS_V3) and not (self.note_kinds & NOT_TYPED)

    @property
    def notes(self) -> tuple[Note, ...]:
        if self._notes is None:
            paths = tree.locate(self.body, {id(p.node) for p in self._pending})
            self._notes = tuple(
                Note(_path_text(paths, p.node), p.kind, p.type_url, p.detail, p.unknown_fields)
                for p in self._pending
            )
        return self._notes

    @property
    def unknown_fields(self) -> tuple[tuple[str, unknown.UnknownField], ...]:
        """(path of the Any, field) for every field no schema knew."""
        return tuple((note.path, field) for note in self.notes for field in note.unknown_fields)


@dataclasses.dataclass(frozen=True, slots=True)
class _Resolution:
    status: Status  # TYPED, V2_AS_V3, or SCHEMALESS when nothing defines the type
    target: todict.AnyTarget | None
    schema: str
    detail: str


class Decoder:
    """Decodes resources against one registry with one set of JSON options; use `decoder_for` to share one."""

    def __init__(
        self,
        registry: schemas.Registry | None = None,
        options: todict.Options = todict.CONFIG_DUMP,
        *,
        check_unknown_fields: bool = True,
        memo: bool = True,
    ) -> None:
        self.registry = registry or schemas.default()
        self.options = options
        self.check_unknown_fields = check_unknown_fields
        self.memo: memo_module.PayloadMemo[_Pending] | None = memo_module.PayloadMemo() if memo else None
        self.versions = versions.VersionMap(self.registry)
        self.unknown = unknown.Finder(self.registry, self.versions, options, self._render_quietly)
        self._local = threading.local()
        self._reset()

    def _reset(self) -> None:
        self._generation = self.registry.generation
        self.converter = todict.Converter(
            self.options, pool=self.registry.pool, any_handler=self._any, memo=self.memo is not None
        )
        self._resolutions: dict[str, _Resolution] = {}
        if self.memo is not None:
            self.memo.clear()

    def resolve(self, type_url: str) -> _Resolution:
        """Which schema a type URL decodes with (cached)."""
        resolution = self._resolutions.get(type_url)
        if resolution is not None:
            return resolution
        name = type_url.split("/")[-1]
        upgrade = self.versions.upgrade(name) if name else None
        message_descriptor = None
        if upgrade is not None:
            message_descriptor = self.registry.find(upgrade.v3_name)
        if message_descriptor is not None and upgrade is not None:
            how = "its versioning annotation" if upgrade.by_annotation else "Envoy's v2 -> v3 package move"
            resolution = _Resolution(
                Status.V2_AS_V3,
                self.converter.target(message_descriptor),
                upgrade.v3_name,
                f"v2 type {name} decoded as {upgrade.v3_name} (by {how})",
            )
        else:
            message_descriptor = self.registry.find(name) if name else None
            if message_descriptor is None:
                resolution = _Resolution(Status.SCHEMALESS, None, "", f"no schema for {name or type_url!r}")
            else:
                resolution = _Resolution(Status.TYPED, self.converter.target(message_descriptor), name, "")
        if len(self._resolutions) >= _MAX_RESOLUTIONS:  # type URLs are the peers' to choose: stay bounded
            self._resolutions.clear()
        self._resolutions[type_url] = resolution
        return resolution

    def decode(self, type_url: str, raw: bytes) -> DecodedResource:
        """Decode one resource payload (the bytes of an Any's `value`) named by `type_url`."""
        if self._generation != self.registry.generation:
            self._reset()
        if not isinstance(raw, bytes):
            raw = bytes(raw)  # a memoryview or bytearray from a reader: the memo keys on bytes
        pending: list[_Pending] = []
        self._local.pending = pending
        try:
            body = self._payload(type_url, raw)
        except Exception as exc:
            pending.clear()
            body = self._opaque(
                type_url, raw, f"decoding failed: {type(exc).__name__}: {exc}", NoteKind.INVALID
            )
        finally:
            self._local.pending = None
        status = Status.TYPED
        for note in pending:
            if note.node is body:
                if note.kind == NoteKind.SCHEMALESS:
                    status = Status.SCHEMALESS
                elif note.kind == NoteKind.JSON_PAYLOAD:
                    status = Status.JSON
                elif note.kind == NoteKind.INVALID:
                    status = Status.INVALID
                elif note.kind == NoteKind.V2_AS_V3 and status == Status.TYPED:
                    status = Status.V2_AS_V3
        resolution = self._resolutions.get(type_url)
        schema = resolution.schema if resolution is not None and status != Status.INVALID else ""
        return DecodedResource(
            type_url, status, schema, body, frozenset(p.kind for p in pending), tuple(pending)
        )

    def parse(self, type_url: str, raw: bytes) -> pb_message.Message | None:
        """The typed message (v3 for v2 types), or None when there is no schema or the bytes do not fit."""
        target = self.resolve(type_url).target
        if target is None:
            return None
        try:
            return target.cls.FromString(raw)
        except pb_message.DecodeError:
            return None

    def _note(
        self,
        node: object,
        kind: NoteKind,
        type_url: str,
        detail: str,
        fields: tuple[unknown.UnknownField, ...] = (),
    ) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(_Pending(node, kind, type_url, detail, fields))
            self.converter.serial += 1

    def _render_quietly(self, message: Any) -> Any:
        """Convert a message outside any resource (an unknown field's value): its notes go nowhere."""
        saved, self._local.pending = getattr(self._local, "pending", None), None
        try:
            return self.converter.to_dict(message)
        finally:
            self._local.pending = saved

    def _any(self, converter: todict.Converter, value: Any) -> Any:
        type_url: str = value.type_url
        data: bytes = value.value
        if not type_url and not data:
            return {}
        depth: int = getattr(self._local, "any_depth", 0)
        if depth >= MAX_ANY_DEPTH:
            reason = f"an Any nested more than {MAX_ANY_DEPTH} deep in Anys is not decoded with its schema"
            return self._opaque(type_url, data, reason, NoteKind.SCHEMALESS)
        self._local.any_depth = depth + 1
        try:
            return self._payload(type_url, data)
        finally:
            self._local.any_depth = depth

    def _payload(self, type_url: str, data: bytes) -> dict[str, Any]:
        pending: list[_Pending] | None = getattr(self._local, "pending", None)
        memo = self.memo
        if memo is None or pending is None:
            return self._convert(type_url, data)
        key = (type_url, data)
        hit = memo.get(key)
        if hit is not None:
            out, notes = hit
            if notes:
                self.converter.serial += 1
                pending.extend(
                    _Pending(node, n.kind, n.type_url, n.detail, n.unknown_fields) for node, n in notes
                )
            return out  # type: ignore[no-any-return]
        store = memo.should_store(key)
        start = len(pending)
        out = self._convert(type_url, data)
        if store:
            memo.store(key, out, [(note.node, note) for note in pending[start:]])
        return out

    def _convert(self, type_url: str, data: bytes) -> dict[str, Any]:
        resolution = self.resolve(type_url)
        target = resolution.target
        if target is None:
            return self._opaque(type_url, data, resolution.detail, NoteKind.SCHEMALESS)
        try:
            message = target.cls.FromString(data)
        except pb_message.DecodeError as exc:
            detail = f"bytes do not parse as {resolution.schema}: {exc}"
            return self._opaque(type_url, data, detail, NoteKind.INVALID)
        body = target.fn(message)
        out: dict[str, Any] = {"@type": type_url}
        if target.special:
            out["value"] = body
        else:
            out.update(body)
        if resolution.status == Status.V2_AS_V3:
            self._note(out, NoteKind.V2_AS_V3, type_url, resolution.detail)
        if self.check_unknown_fields:
            message.DiscardUnknownFields()
            if message.ByteSize() != len(data):
                found = self.unknown.find(target.cls.FromString(data))
                if found:
                    numbers = ", ".join(f"{f.path or '.'}#{f.number}" for f in found[:8])
                    detail = f"{len(found)} field(s) not in {resolution.schema}: {numbers}"
                    if resolution.status == Status.V2_AS_V3:
                        detail += " (v2 fields that v3 dropped)"
                    self._note(out, NoteKind.UNKNOWN_FIELDS, type_url, detail, found)
        if resolution.schema in TYPED_STRUCTS:
            self._check_typed_struct(message, out)
        return out

    def _opaque(self, type_url: str, data: bytes, reason: str, kind: NoteKind) -> dict[str, Any]:
        """A payload without a usable schema: JSON text as "@json", else the wire tree, else base64."""
        out: dict[str, Any] = {"@type": type_url}
        parsed_json = _json_payload(data)
        if parsed_json is not _NOT_JSON and kind == NoteKind.SCHEMALESS:
            out["@json"] = parsed_json
            self._note(out, NoteKind.JSON_PAYLOAD, type_url, f"{reason}; the payload is JSON text")
            return out
        marker = "@schemaless" if kind == NoteKind.SCHEMALESS else "@invalid"
        out[marker] = reason
        tree = wire.decode_raw(data)
        if tree is None:
            out["@bytes"] = base64.b64encode(data).decode("ascii")
            reason += "; not protobuf wire format either (shown as base64)"
        else:
            out["@fields"] = tree
        self._note(out, kind, type_url, reason)
        return out

    def _check_typed_struct(self, message: Any, out: dict[str, Any]) -> None:
        inner_url: str = message.type_url
        inner = self.resolve(inner_url)
        if inner.target is None:
            detail = f"TypedStruct of {inner_url}: {inner.detail}; its value is shown as the JSON it carries"
            self._note(out, NoteKind.TYPED_STRUCT_UNKNOWN, inner_url, detail)
            return
        value = out.get("value", {})
        try:
            json_format.ParseDict(value, inner.target.cls(), descriptor_pool=self.registry.pool)
        except (json_format.ParseError, TypeError, ValueError, KeyError, AttributeError) as exc:
            detail = f"TypedStruct value does not fit {inner.schema}: {exc}"
            self._note(out, NoteKind.TYPED_STRUCT_INVALID, inner_url, detail)


_NOT_JSON = object()


def _json_payload(data: bytes) -> Any:
    stripped = data.lstrip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return _NOT_JSON
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested past Python's limit
        return _NOT_JSON


def _path_text(paths: dict[int, tuple[tree.Token, ...]], node: object) -> str:
    path = paths.get(id(node))
    return "?" if path is None else tree.format_path(path)


def decoder_for(
    registry: schemas.Registry | None = None, options: todict.Options = todict.CONFIG_DUMP
) -> Decoder:
    """The shared Decoder for (registry, options): plans, type resolutions and memo are built once."""
    return _shared_decoder(registry or schemas.default(), options)


@functools.lru_cache(maxsize=32)
def _shared_decoder(registry: schemas.Registry, options: todict.Options) -> Decoder:
    return Decoder(registry, options)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building large acyclic trees.

    Converting a push allocates millions of dicts that contain no cycles; with
    the collector running, each young-generation pass re-scans the growing
    tree, which costs a third of the time. Same trick as Mercurial's `nogc`.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def decode(
    type_url: str,
    raw: bytes,
    *,
    registry: schemas.Registry | None = None,
    options: todict.Options = todict.CONFIG_DUMP,
) -> DecodedResource:
    """Decode one resource payload; never raises."""
    return decoder_for(registry, options).decode(type_url, raw)


def decode_entry(
    entry: envelope.ResourceEntry,
    *,
    registry: schemas.Registry | None = None,
    options: todict.Options = todict.CONFIG_DUMP,
) -> DecodedResource:
    """Decode one resource of an envelope (heartbeats and JSON-kept REST resources included)."""
    if entry.heartbeat:
        return DecodedResource(entry.type_url, Status.HEARTBEAT, "", None, frozenset())
    if entry.encoding == envelope.Encoding.JSON:
        body: Any
        try:
            body = json.loads(entry.raw.decode("utf-8"))
        except (ValueError, RecursionError):
            body = {"@bytes": base64.b64encode(entry.raw).decode("ascii")}
        detail = entry.problem or "REST resource of a type without schema, kept as JSON"
        pending = (_Pending(body, NoteKind.JSON_PAYLOAD, entry.type_url, detail),)
        return DecodedResource(
            entry.type_url, Status.JSON, "", body, frozenset((NoteKind.JSON_PAYLOAD,)), pending
        )
    return decode(entry.type_url, entry.raw, registry=registry, options=options)


def decode_entries(
    entries: Iterable[envelope.ResourceEntry],
    *,
    registry: schemas.Registry | None = None,
    options: todict.Options = todict.CONFIG_DUMP,
) -> list[DecodedResource]:
    """Decode many resources (a whole push) with the GC paused; one result per entry, in order."""
    with paused_gc():
        return [decode_entry(entry, registry=registry, options=options) for entry in entries]


def decode_message(
    full_name: str,
    raw: bytes,
    *,
    registry: schemas.Registry | None = None,
    options: todict.Options = todict.CONFIG_DUMP,
) -> DecodedResource:
    """Decode a whole message by type name (LRS/CSDS/HDS bodies, a Node, a DiscoveryResponse)."""
    return decode(methods.TYPE_PREFIX + full_name, raw, registry=registry, options=options)


def parse(
    type_url: str, raw: bytes, *, registry: schemas.Registry | None = None
) -> pb_message.Message | None:
    """The typed message of a payload (v3 for v2 types), or None; for code that wants fields, not JSON."""
    return decoder_for(registry).parse(type_url, raw)
