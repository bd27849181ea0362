"""Fields no schema knew: found in a parsed message, placed by path, named after their v2 field.

A v2 resource decoded with its v3 successor keeps the fields v3 dropped
(`hosts`, `tls_context`, the Struct `config` of filters) as unknown fields; so
does a v3 resource from an Envoy API newer than xds-protos. Each is reported
with its path, number and wire type, and where the message's v2 predecessor
defines that number, with the v2 name and the value decoded with the v2 type.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any
from typing import cast

from google.protobuf import descriptor
from google.protobuf import message as pb_message
from google.protobuf import message_factory
from google.protobuf import unknown_fields

from xdsspy.decode import schemas
from xdsspy.decode import todict
from xdsspy.decode import versions
from xdsspy.decode import wire
from xdsspy.decode import wkt


@dataclasses.dataclass(frozen=True, slots=True)
class UnknownField:
    """A field the schema used does not define; `path` is relative to the Any that holds it."""

    path: str
    number: int
    wire_type: str
    v2_name: str  # the field's name in the v2 predecessor of the message, when there is one
    value: Any


def fields_of(message: Any) -> list[Any]:
    """The unknown fields of `message` itself (not its submessages), as protobuf reports them."""
    return list(cast("list[Any]", unknown_fields.UnknownFieldSet(message)))


class Finder:
    """Walks a message for unknown fields; `render_message` converts v2-typed values to JSON."""

    def __init__(
        self,
        registry: schemas.Registry,
        version_map: versions.VersionMap,
        options: todict.Options,
        render_message: Callable[[Any], Any],
    ) -> None:
        self.registry = registry
        self.versions = version_map
        self.options = options
        self.render_message = render_message

    def find(self, message: Any) -> tuple[UnknownField, ...]:
        """Every unknown field in `message` and its submessages, not descending into Any payloads."""
        found: list[UnknownField] = []
        self._walk(message, "", found)
        return tuple(found)

    def _walk(self, message: Any, path: str, found: list[UnknownField]) -> None:
        stray = fields_of(message)
        if stray:
            v2_fields = self._v2_fields(message.DESCRIPTOR.full_name)
            for field in stray:
                v2_field = v2_fields.get(field.field_number)
                found.append(
                    UnknownField(
                        path,
                        field.field_number,
                        wire.WIRE_TYPE_NAMES.get(field.wire_type, str(field.wire_type)),
                        v2_field.name if v2_field is not None else "",
                        self._render(v2_field, field.wire_type, field.data),
                    )
                )
        for field, value in message.ListFields():
            if field.cpp_type != field.CPPTYPE_MESSAGE:
                continue
            sub_type = wkt.message_type_of(field)
            if sub_type.full_name == "google.protobuf.Any":
                continue  # decoded (and checked) on its own
            name = field.name if self.options.preserving_proto_field_name else field.json_name
            prefix = f"{path}.{name}" if path else name
            if wkt.is_map(field):
                if sub_type.fields_by_name["value"].cpp_type == field.CPPTYPE_MESSAGE:
                    for key in value:
                        self._walk(value[key], f"{prefix}[{key!r}]", found)
            elif field.is_repeated:
                for index, item in enumerate(value):
                    self._walk(item, f"{prefix}[{index}]", found)
            else:
                self._walk(value, prefix, found)

    def _v2_fields(self, v3_name: str) -> dict[int, descriptor.FieldDescriptor]:
        predecessor = self.versions.predecessor(v3_name)
        v2_descriptor = self.registry.find(predecessor) if predecessor else None
        if v2_descriptor is None:
            return {}
        return {field.number: field for field in v2_descriptor.fields}

    def _render(self, v2_field: descriptor.FieldDescriptor | None, wire_type: int, data: Any) -> Any:
        """A dropped field's value: decoded with the v2 field's type when known, else decode_raw-style."""
        if v2_field is not None:
            try:
                if wire_type == wire.LEN and v2_field.cpp_type == v2_field.CPPTYPE_MESSAGE:
                    cls = message_factory.GetMessageClass(wkt.message_type_of(v2_field))
                    return self.render_message(cls.FromString(bytes(data)))
                if wire_type == wire.LEN and v2_field.type == v2_field.TYPE_STRING:
                    return bytes(data).decode("utf-8")
                if wire_type == wire.VARINT and v2_field.cpp_type == v2_field.CPPTYPE_ENUM:
                    value = wkt.enum_type_of(v2_field).values_by_number.get(int(data))
                    return value.name if value is not None else int(data)
                if wire_type == wire.VARINT and v2_field.cpp_type == v2_field.CPPTYPE_BOOL:
                    return bool(data)
            except (pb_message.DecodeError, UnicodeDecodeError):
                pass
        return render_raw(wire_type, data)


def render_raw(wire_type: int, data: Any) -> Any:
    """An unknown field's value without any schema, the way `wire.decode_raw` shows values."""
    if wire_type == wire.VARINT:
        return int(data)
    if wire_type == wire.FIXED64:
        return f"0x{int(data):016x}"
    if wire_type == wire.FIXED32:
        return f"0x{int(data):08x}"
    if wire_type == wire.LEN:
        return wire.render_len(bytes(data))
    if isinstance(data, (bytes, bytearray)):
        return wire.decode_raw(bytes(data)) or {"@bytes": base64.b64encode(bytes(data)).decode("ascii")}
    # A group arrives as a nested UnknownFieldSet.
    return {str(f.field_number): render_raw(f.wire_type, f.data) for f in data}
