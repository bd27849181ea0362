"""Writes masked JSON back into the protobuf message it was made from, changing only what differs.

`Redactor.json` masks a message's /config_dump JSON; `WriteBack` compares that
JSON with the original and sets the differing values in the message, field by
field: Anys are opened, changed and packed again, everything else keeps its
bytes. Only strings are ever masked, so a masked value that its field cannot
hold (a number, an enum, a Duration) is cleared instead. Input it cannot map
raises one of `UNMAPPABLE`; the caller then drops the part whole.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor
from google.protobuf import json_format
from google.protobuf import message as pb_message

from xdsspy.decode import todict
from xdsspy.decode import wkt

UNMAPPABLE = (pb_message.DecodeError, ValueError, TypeError, KeyError, json_format.ParseError)
"""What writing back raises on JSON that does not map onto the message."""

_FD = descriptor.FieldDescriptor
_DYNAMIC = frozenset(("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"))
_TEXT_WRAPPERS = frozenset(("google.protobuf.StringValue", "google.protobuf.BytesValue"))
_UNFIT = object()
_MISSING = object()

MessageClass = Callable[[str], "type[pb_message.Message] | None"]
"""Type URL -> the class of its payload (None when no schema defines it)."""


class WriteBack:
    """Writes masked JSON into messages; `message_class` resolves the type URLs of nested Anys."""

    def __init__(self, message_class: MessageClass) -> None:
        self._message_class = message_class

    def payload(self, message: Any, old: dict[str, Any], new: Any) -> None:
        """Set what differs in an Any's payload; its JSON has "@type" (and a well-known type's, "value")."""
        if not isinstance(new, dict) or new.get("@type") != old.get("@type"):
            raise ValueError("a payload was masked whole")
        if todict.Converter.is_special(message.DESCRIPTOR):
            if not self._special(message, old.get("value"), new.get("value")):
                message.Clear()
        else:
            self.fields(message, old, new)

    def fields(self, message: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Set the values that differ between `old`, the JSON of `message`, and `new`, its masked copy."""
        fields = message.DESCRIPTOR.fields_by_name
        for key, value in new.items():
            before = old.get(key, _MISSING)
            if key == "@type" or value == before:
                continue
            if before is _MISSING:
                raise ValueError(f"masking added {key!r}")
            field = fields[key]
            if wkt.is_map(field):
                self._map(getattr(message, key), field, before, value)
            elif field.is_repeated:
                self._list(message, field, before, value)
            elif field.cpp_type == _FD.CPPTYPE_MESSAGE:
                if not self._message(getattr(message, key), before, value):
                    message.ClearField(key)
            else:
                scalar = _scalar(field, value)
                if scalar is _UNFIT:
                    message.ClearField(key)
                else:
                    setattr(message, key, scalar)

    def _map(self, container: Any, field: descriptor.FieldDescriptor, old: Any, new: Any) -> None:
        entry = wkt.message_type_of(field)
        key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
        for key, value in new.items():
            before = old.get(key, _MISSING)
            if value == before:
                continue
            if before is _MISSING:
                raise ValueError(f"masking added {key!r}")
            map_key = _map_key(key_field, key)
            if value_field.cpp_type == _FD.CPPTYPE_MESSAGE:
                if not self._message(container[map_key], before, value):
                    del container[map_key]
            else:
                scalar = _scalar(value_field, value)
                if scalar is _UNFIT:
                    del container[map_key]
                else:
                    container[map_key] = scalar

    def _list(self, message: Any, field: descriptor.FieldDescriptor, old: Any, new: Any) -> None:
        container = getattr(message, field.name)
        if not isinstance(new, list) or len(new) != len(container):
            message.ClearField(field.name)  # masked whole (nested too deep)
            return
        for index, (before, value) in enumerate(zip(old, new, strict=True)):
            if value == before:
                continue
            if field.cpp_type == _FD.CPPTYPE_MESSAGE:
                if not self._message(container[index], before, value):
                    raise ValueError(f"an item of {field.full_name} was masked whole")
            else:
                scalar = _scalar(field, value)
                container[index] = field.default_value if scalar is _UNFIT else scalar

    def _message(self, message: Any, old: Any, new: Any) -> bool:
        """Write `new` into a submessage; False when it cannot hold it and must be cleared."""
        message_type = message.DESCRIPTOR
        if message_type.full_name == "google.protobuf.Any":
            if not isinstance(new, dict) or not isinstance(old, dict):
                return False
            cls = self._message_class(message.type_url)
            if cls is None:
                return False
            payload = cls.FromString(message.value)
            self.payload(payload, old, new)
            message.value = payload.SerializeToString()
            return True
        if todict.Converter.is_special(message_type):
            return self._special(message, old, new)
        if not isinstance(new, dict) or not isinstance(old, dict):
            return False
        self.fields(message, old, new)
        return True

    def _special(self, message: Any, old: Any, new: Any) -> bool:
        """A well-known type whose JSON is not an object of its fields; False when it must be cleared."""
        name = message.DESCRIPTOR.full_name
        if name in _DYNAMIC:
            message.Clear()
            json_format.ParseDict(new, message)
            return True
        if name not in _TEXT_WRAPPERS:
            return False  # a number, Duration, Timestamp or FieldMask cannot hold a marker
        value = _scalar(message.DESCRIPTOR.fields_by_name["value"], new)
        if value is _UNFIT:
            return False
        message.value = value
        return True


def _scalar(field: descriptor.FieldDescriptor, value: Any) -> Any:
    """A masked JSON value as the field's Python value, or _UNFIT when the field cannot hold it."""
    if not isinstance(value, str) or field.cpp_type != _FD.CPPTYPE_STRING:
        return _UNFIT  # only strings are masked; numbers, booleans and enums cannot hold a marker
    if field.type != _FD.TYPE_BYTES:
        return value
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return value.encode("utf-8")  # a marker put where base64 was: keep it readable as text


def _map_key(field: descriptor.FieldDescriptor, key: str) -> Any:
    if field.cpp_type == _FD.CPPTYPE_STRING:
        return key if field.type == _FD.TYPE_STRING else key.encode("utf-8")
    if field.cpp_type == _FD.CPPTYPE_BOOL:
        return key == "true"
    return int(key)
