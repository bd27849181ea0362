"""Masks secrets inside protobuf messages, Anys included, leaving alone every byte no rule touches.

`Redactor.json` decides what is secret, on the message's /config_dump JSON
(proto field names, "@type" in every Any), so a recording redacted here shows
the markers a snapshot or diff made with the same Redactor shows. What it
masked is written back field by field: the rest of the message, and every Any
that holds no secret, keep their bytes (`redact_writeback`).

Most messages hold no secret and are never converted to JSON. A rule fires
only on (1) a key some rule names (`redact.key_matters`), (2) a secret
header's name beside a value (`redact.names_header`), or (3) text inside a
string (`redact.TEXT_HINTS`). Field names are fixed per type, so each type gets
a plan once, listing the fields under which (1) or (2) can happen, whose keys
are free-form (Struct, maps) or whose type only the bytes tell (Any). A message
is walked along its plan, and its bytes are searched for (3): protobuf stores
strings as they are. Only where something may fire is JSON built.

What cannot be judged may hold secrets, so it is dropped: an Any whose type no
schema defines (unless it holds only numbers), or whose bytes do not parse,
keeps its type URL and loses its value; fields its schema does not know are
discarded. Each counts as masked.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection
from typing import Any

from google.protobuf import descriptor
from google.protobuf import message as pb_message

from xdsspy import redact
from xdsspy import redact_writeback
from xdsspy.decode import schemas
from xdsspy.decode import todict
from xdsspy.decode import unknown
from xdsspy.decode import wire
from xdsspy.decode import wkt

LOOK = 1
"""A rule may apply: the message's JSON must be walked."""
CHANGED = 2
"""Something that cannot be judged was dropped: the message was changed in place."""

NESTED_MEMO_ENTRIES = 20_000
NESTED_MEMO_BYTES = 4096
"""Nested Anys up to this size are remembered with what looking at them found (their bytes are the key)."""

_FD = descriptor.FieldDescriptor
_DYNAMIC = frozenset(("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"))
_TEXT_WRAPPERS = frozenset(("google.protobuf.StringValue", "google.protobuf.BytesValue"))
_TEXT_TYPES = frozenset((_FD.TYPE_STRING, _FD.TYPE_BYTES, _FD.TYPE_ENUM))
_NUMERIC = frozenset(
    (_FD.CPPTYPE_INT32, _FD.CPPTYPE_UINT32, _FD.CPPTYPE_BOOL, _FD.CPPTYPE_DOUBLE, _FD.CPPTYPE_FLOAT)
)
_NUMBER_WIRE_TYPES = frozenset((wire.VARINT, wire.FIXED32, wire.FIXED64))
_NAME_KEYS = ("key", "name")  # a HeaderValue's key, a HeaderMatcher's name (redact._Walk.header_in)
UNDECODABLE = redact_writeback.UNMAPPABLE
"""What masking can raise on input it cannot handle; the caller then drops the whole part."""


class _Kind(enum.Enum):
    MESSAGE = "message"  # a message whose type has a plan
    ANY = "any"
    DYNAMIC = "dynamic"  # Struct, Value, ListValue: free-form keys
    TEXT = "text"  # a string in JSON: checked as a header name (singular key/name, or pair)
    OPAQUE = "opaque"  # JSON text derived from the value (FieldMask): always looked at
    MAP = "map"


@dataclasses.dataclass(frozen=True, slots=True)
class _Look:
    """How one field is looked at: `flag` is LOOK when being set is enough for a rule to apply."""

    flag: int
    kind: _Kind | None
    many: bool = False  # repeated (not a map): each item is looked at
    plan: _Plan | None = None  # MESSAGE: the value's plan
    string_keys: bool = False  # MAP: its keys are free-form JSON keys
    value: _Look | None = None  # MAP: how each value is looked at


@dataclasses.dataclass(slots=True)
class _Plan:
    """The fields of one message type worth a look (a type that may be recursive is always walked)."""

    looks: dict[descriptor.FieldDescriptor, _Look]
    extendable: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Tally:
    """What masking one part did: values masked (drops included) and parts dropped unjudged."""

    masked: int
    dropped: int


class WireRedactor:
    """Masks protobuf messages and Any payloads with one `redact.Redactor`; caches plans and types."""

    def __init__(self, redactor: redact.Redactor, registry: schemas.Registry | None = None) -> None:
        self.redactor = redactor
        self.registry = registry or schemas.default()
        self.converter = todict.Converter(
            todict.CONFIG_DUMP, pool=self.registry.pool, any_handler=self._any_json
        )
        self._plans: dict[descriptor.Descriptor, _Plan | None] = {}
        self._classes: dict[str, type[pb_message.Message] | None] = {}
        self._skip: Collection[descriptor.FieldDescriptor] = ()
        self._dropped = 0
        self._nested: dict[tuple[str, bytes], int] = {}
        self._writeback = redact_writeback.WriteBack(self.message_class)

    # -- the two entry points ------------------------------------------------------------------

    def payload(self, type_url: str, data: bytes) -> tuple[bytes, Tally] | None:
        """An Any's value with its secrets masked and the Tally, or None when nothing in it changes."""
        if not data:
            return None
        cls = self.message_class(type_url)
        if cls is None:
            return None if _numbers_only(data) else (b"", Tally(1, 1))
        self._dropped = 0
        try:
            message = cls.FromString(data)
            flags = self._check(message)
            if any(hint in data for hint in redact.TEXT_HINTS):
                flags |= LOOK
            masked = self._mask(message, type_url) if flags & LOOK else 0
            if not masked and not flags & CHANGED:
                return None
            raw = message.SerializeToString()
        except UNDECODABLE:
            return b"", Tally(1, 1)
        return raw, Tally(masked + self._dropped, self._dropped)

    def fields(
        self, message: pb_message.Message, skip: Collection[descriptor.FieldDescriptor] = ()
    ) -> Tally | None:
        """Mask `message` in place but for the fields in `skip` (resources, masked on their own).

        None when nothing changed. A skipped field sits in `message` itself or in the items of
        one of its repeated fields (a delta Resource's payload). Raises what `UNDECODABLE` lists.
        """
        self._dropped = 0
        self._skip = skip
        try:
            flags = self._walk_plan(message)
        finally:
            self._skip = ()
        view = _without(message, skip)
        if self._unknown(view) or unknown.fields_of(message):
            message.DiscardUnknownFields()
            self._dropped += 1
            flags |= CHANGED
        if any(hint in view.SerializeToString() for hint in redact.TEXT_HINTS):
            flags |= LOOK
        masked = 0
        if flags & LOOK:
            old = self.converter.to_dict(view)
            done = self.redactor.json(old)
            if done.paths and done.value != old:
                self._writeback.fields(message, old, done.value)
                masked = len(done.paths)
        if not masked and not flags & CHANGED:
            return None
        return Tally(masked + self._dropped, self._dropped)

    def message_class(self, type_url: str) -> type[pb_message.Message] | None:
        """The class of a type URL's message, v2 types as themselves (their field names are v2's)."""
        try:
            return self._classes[type_url]
        except KeyError:
            pass
        name = type_url.rpartition("/")[2]
        cls = self.registry.message_class(name) if name else None
        self._classes[type_url] = cls
        return cls

    # -- plans ---------------------------------------------------------------------------------

    def _plan(self, message_type: descriptor.Descriptor) -> _Plan | None:
        """The plan of a type, None when no rule can fire inside it but on text."""
        try:
            return self._plans[message_type]
        except KeyError:
            pass
        plan = _Plan({}, bool(message_type.extension_ranges))
        self._plans[message_type] = plan  # a recursive reference walks this plan: never skipped
        for field in message_type.fields:
            look = self._field_look(message_type, field)
            if look is not None:
                plan.looks[field] = look
        if not plan.looks and not plan.extendable:
            self._plans[message_type] = None
            return None
        return plan

    def _field_look(self, owner: descriptor.Descriptor, field: descriptor.FieldDescriptor) -> _Look | None:
        is_message = field.cpp_type == _FD.CPPTYPE_MESSAGE
        keyed = redact.key_matters(field.name, owner.full_name, is_message) and not _numeric(field)
        flag = LOOK if keyed else 0
        if wkt.is_map(field):
            entry = wkt.message_type_of(field)
            string_keys = entry.fields_by_name["key"].type == _FD.TYPE_STRING
            value = self._value_look(entry.fields_by_name["value"])
            if keyed or string_keys or value is not None:
                return _Look(flag, _Kind.MAP, string_keys=string_keys, value=value)
            return None
        look = self._value_look(field)
        if look is not None and look.kind is _Kind.TEXT:
            # A string matters as a header name: a key or name beside a value, or a pair's first item.
            if not (field.is_repeated or field.name in _NAME_KEYS):
                look = None
        if look is None:
            return _Look(flag, None) if keyed else None
        return dataclasses.replace(look, flag=flag, many=field.is_repeated)

    def _value_look(self, field: descriptor.FieldDescriptor) -> _Look | None:
        """How one value of `field` is looked at (maps and repeated aside)."""
        if field.cpp_type != _FD.CPPTYPE_MESSAGE:
            return _Look(0, _Kind.TEXT) if field.type in _TEXT_TYPES else None
        message_type = wkt.message_type_of(field)
        name = message_type.full_name
        if name == "google.protobuf.Any":
            return _Look(0, _Kind.ANY)
        if name in _DYNAMIC:
            return _Look(0, _Kind.DYNAMIC)
        if name in _TEXT_WRAPPERS:
            return _Look(0, _Kind.TEXT)
        if name == "google.protobuf.FieldMask":
            return _Look(0, _Kind.OPAQUE)
        if todict.Converter.is_special(message_type):
            return None  # numbers, booleans, Duration, Timestamp: their JSON holds nothing to mask
        plan = self._plan(message_type)
        return None if plan is None else _Look(0, _Kind.MESSAGE, plan=plan)

    # -- walking -------------------------------------------------------------------------------

    def _check(self, message: Any) -> int:
        """Drop unknown fields and unjudgeable Anys in a freshly parsed message; LOOK if a rule may fire."""
        flags = 0
        if self._unknown(message):
            self._dropped += 1
            flags |= CHANGED
        return flags | self._walk_plan(message)

    def _unknown(self, message: Any) -> bool:
        """Discard the unknown fields of `message` and its submessages; True if there were any."""
        before = message.ByteSize()
        message.DiscardUnknownFields()
        return bool(message.ByteSize() != before)

    def _walk_plan(self, message: Any) -> int:
        plan = self._plan(message.DESCRIPTOR)
        return 0 if plan is None else self._walk(message, plan)

    def _walk(self, message: Any, plan: _Plan) -> int:
        flags = 0
        looks = plan.looks
        skip = self._skip
        for field, value in message.ListFields():
            look = looks.get(field)
            if look is None:
                if plan.extendable and field.is_extension:
                    flags |= LOOK
                continue
            if skip and field in skip:
                continue
            flags |= look.flag
            kind = look.kind
            if kind is _Kind.MESSAGE:
                sub = look.plan
                assert sub is not None
                if look.many:
                    for item in value:
                        flags |= self._walk(item, sub)
                else:
                    flags |= self._walk(value, sub)
            elif kind is None:
                continue
            elif kind is _Kind.MAP:
                flags |= self._map(value, look)
            elif kind is _Kind.TEXT:
                first = (value[0] if len(value) == 2 else None) if look.many else value
                if first is not None and redact.names_header(_text(field, first)):
                    flags |= LOOK
            elif look.many:
                for item in value:
                    flags |= self._one(look, item)
            else:
                flags |= self._one(look, value)
        return flags

    def _one(self, look: _Look, value: Any) -> int:
        kind = look.kind
        if kind is _Kind.MESSAGE and look.plan is not None:
            return self._walk(value, look.plan)
        if kind is _Kind.ANY:
            return self._any(value)
        if kind is _Kind.DYNAMIC:
            return LOOK if _dynamic_matters(value) else 0
        return LOOK if kind is _Kind.OPAQUE else 0

    def _map(self, container: Any, look: _Look) -> int:
        flags = 0
        if look.string_keys:
            if any(redact.key_matters(key, None, True) for key in container):
                flags |= LOOK
            for key in _NAME_KEYS:
                text = container.get(key) if key in container else None
                if isinstance(text, str) and redact.names_header(text):
                    flags |= LOOK
        value = look.value
        if value is not None and value.kind is not _Kind.TEXT:
            for key in container:
                flags |= self._one(value, container[key])
        return flags

    def _any(self, packed: Any) -> int:
        """Look inside an Any; one that cannot be judged loses its value, one with unknown fields them."""
        data: bytes = packed.value
        if not data:
            return 0
        key = (packed.type_url, data)
        known = self._nested.get(key)
        if known is not None:
            return known
        cls = self.message_class(packed.type_url)
        try:
            payload = None if cls is None else cls.FromString(data)
        except pb_message.DecodeError:
            payload = None
        if payload is None:
            if cls is None and _numbers_only(data):
                return 0
            packed.value = b""
            self._dropped += 1
            return CHANGED
        flags = self._check(payload)
        if flags & CHANGED:
            packed.value = payload.SerializeToString()
        elif len(data) <= NESTED_MEMO_BYTES:  # typed configs repeat (protocol options, sockets): look once
            if len(self._nested) >= NESTED_MEMO_ENTRIES:
                self._nested.clear()
            self._nested[key] = flags
        return flags

    # -- JSON and back -------------------------------------------------------------------------

    def _payload_json(self, message: Any, type_url: str) -> dict[str, Any]:
        body = self.converter.to_dict(message)
        if todict.Converter.is_special(message.DESCRIPTOR):
            return {"@type": type_url, "value": body}
        return {"@type": type_url, **body}

    def _any_json(self, converter: todict.Converter, value: Any) -> Any:
        """A nested Any as /config_dump prints it; an unjudgeable one (emptied by now) as its type."""
        if not value.type_url and not value.value:
            return {}
        cls = self.message_class(value.type_url)
        try:
            payload = None if cls is None else cls.FromString(value.value)
        except pb_message.DecodeError:
            payload = None
        if payload is None or not value.value:
            return {"@type": value.type_url}
        return self._payload_json(payload, value.type_url)

    def _mask(self, message: Any, type_url: str) -> int:
        """Redact the JSON of an Any's payload and write back what changed; how many values were masked."""
        old = self._payload_json(message, type_url)
        done = self.redactor.json(old)
        if not done.paths or done.value == old:
            return 0
        self._writeback.payload(message, old, done.value)
        return len(done.paths)


def _numbers_only(data: bytes) -> bool:
    """Whether schema-less bytes hold only numbers, which no rule masks: anything length-delimited
    may be a string, and without a schema nothing tells a password from a name."""
    try:
        return all(field.wire_type in _NUMBER_WIRE_TYPES for field in wire.scan(data))
    except wire.WireError:
        return False


def _numeric(field: descriptor.FieldDescriptor) -> bool:
    """Whether the field's JSON is only numbers or booleans, which no rule masks (int64s are strings)."""
    if wkt.is_map(field):
        return False
    if field.cpp_type == _FD.CPPTYPE_MESSAGE:
        message_type = wkt.message_type_of(field)
        if message_type.file.name != wkt.WRAPPERS_FILE:
            return False
        field = message_type.fields_by_name["value"]
    return field.cpp_type in _NUMERIC


def _without(message: Any, skip: Collection[descriptor.FieldDescriptor]) -> Any:
    """A copy of `message` without the skipped fields, in it or in the items of its repeated fields."""
    view = type(message)()
    nested = [field for field in skip if field.containing_type != message.DESCRIPTOR]
    for field, value in message.ListFields():
        if field in skip:
            continue
        if field.is_repeated:
            copied = getattr(view, field.name)
            copied.MergeFrom(value)
            if nested and field.cpp_type == _FD.CPPTYPE_MESSAGE and not wkt.is_map(field):
                for item in copied:
                    for inner in nested:
                        if inner.containing_type == item.DESCRIPTOR:
                            item.ClearField(inner.name)
        elif field.cpp_type == _FD.CPPTYPE_MESSAGE:
            getattr(view, field.name).CopyFrom(value)
        else:
            setattr(view, field.name, value)
    return view


def _text(field: descriptor.FieldDescriptor, value: Any) -> str:
    """A value as its JSON string: a string, bytes as base64, an enum by name, a String/BytesValue."""
    if field.cpp_type == _FD.CPPTYPE_MESSAGE:
        value = value.value
    if isinstance(value, bytes):
        return wkt.b64(value)
    if field.type == _FD.TYPE_ENUM:
        number = wkt.enum_type_of(field).values_by_number.get(value)
        return str(value) if number is None else number.name
    return str(value)


def _dynamic_matters(value: Any) -> bool:
    """Whether a rule may fire inside a Struct, Value or ListValue (keys anywhere, header pairs)."""
    name = value.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        fields = value.fields
        for key in fields:
            if redact.key_matters(key, None, True):
                return True
            item = fields[key]
            if key in _NAME_KEYS and item.WhichOneof("kind") == "string_value":
                if redact.names_header(item.string_value):
                    return True
            if _dynamic_matters(item):
                return True
        return False
    if name == "google.protobuf.ListValue":
        items = value.values
        if len(items) == 2 and items[0].WhichOneof("kind") == "string_value":
            if redact.names_header(items[0].string_value):
                return True
        return any(_dynamic_matters(item) for item in items)
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _dynamic_matters(value.struct_value)
    if kind == "list_value":
        return _dynamic_matters(value.list_value)
    return False
