"""JSON forms of scalar values and well-known types, exactly as `json_format.MessageToDict` prints them.

Kept apart from the converter so each rule (int64 as string, bytes as base64,
NaN/Infinity as strings, float32 shortest form, Duration "1.500s", NullValue as
null, unknown enum numbers as numbers) sits in one small function, checked
against MessageToDict by tests/xdsspy/decode/test_todict.py.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor
from google.protobuf.internal import type_checkers

ValueFn = Callable[[Any], Any]

_FD = descriptor.FieldDescriptor
INT64 = frozenset((_FD.CPPTYPE_INT64, _FD.CPPTYPE_UINT64))
WRAPPERS_FILE = "google/protobuf/wrappers.proto"
MAX_DURATION_SECONDS = 315_576_000_000


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def double(value: float) -> Any:
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return value


@functools.lru_cache(maxsize=4096)
def float32(value: float) -> Any:
    if math.isinf(value) or math.isnan(value):
        return double(value)
    return type_checkers.ToShortestFloat(value)


def scalar_fn(field: descriptor.FieldDescriptor, use_integers_for_enums: bool) -> ValueFn | None:
    """The converter for one non-message value of `field`, or None when the value prints as itself."""
    cpp_type = field.cpp_type
    if cpp_type in INT64:
        return str
    if cpp_type == _FD.CPPTYPE_STRING:
        return b64 if field.type == _FD.TYPE_BYTES else None
    if cpp_type == _FD.CPPTYPE_DOUBLE:
        return double
    if cpp_type == _FD.CPPTYPE_FLOAT:
        return float32
    if cpp_type == _FD.CPPTYPE_ENUM:
        if use_integers_for_enums:
            return None
        enum_type = enum_type_of(field)
        if enum_type.full_name == "google.protobuf.NullValue":
            return null
        # Unknown numbers print as numbers (open enums); MessageToDict raises for closed ones.
        return EnumNames((value.number, value.name) for value in enum_type.values).__getitem__
    return None  # int32, uint32, bool: JSON numbers and booleans as they are


class EnumNames(dict[int, Any]):
    """Number -> name; a number without a name stands for itself (a C-level lookup, no Python frame)."""

    def __missing__(self, number: int) -> int:
        return number


def message_type_of(field: descriptor.FieldDescriptor) -> descriptor.Descriptor:
    """`field.message_type`, which the stubs allow to be None, for a field known to be a message."""
    message_type = field.message_type
    if message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return message_type


def enum_type_of(field: descriptor.FieldDescriptor) -> descriptor.EnumDescriptor:
    """`field.enum_type` for a field known to be an enum."""
    enum_type = field.enum_type
    if enum_type is None:
        raise TypeError(f"{field.full_name} is not an enum field")
    return enum_type


def null(_: object) -> None:
    return None


def duration(message: Any) -> Any:
    seconds: int = message.seconds
    nanos: int = message.nanos
    if (
        not -MAX_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS
        or not -999_999_999 <= nanos <= 999_999_999
        or (nanos < 0 < seconds)
        or (seconds < 0 < nanos)
    ):
        return invalid_wkt(message)
    sign = ""
    if seconds < 0 or nanos < 0:
        sign, seconds, nanos = "-", -seconds, -nanos
    if nanos == 0:
        return f"{sign}{seconds}s"
    if nanos % 1_000_000 == 0:
        return f"{sign}{seconds}.{nanos // 1_000_000:03d}s"
    if nanos % 1_000 == 0:
        return f"{sign}{seconds}.{nanos // 1_000:06d}s"
    return f"{sign}{seconds}.{nanos:09d}s"


def to_json_string(message: Any) -> Any:
    """Timestamp and FieldMask: rare enough in xDS to use protobuf's own formatting."""
    try:
        return message.ToJsonString()
    except ValueError:
        return invalid_wkt(message)


def invalid_wkt(message: Any) -> dict[str, Any]:
    """An out-of-range Duration/Timestamp: MessageToDict raises; show the raw fields instead."""
    out: dict[str, Any] = {"@invalid": f"not a valid {message.DESCRIPTOR.full_name}"}
    for field, value in message.ListFields():
        out[field.name] = str(value) if field.cpp_type in INT64 else value
    return out


def has_subtrees(message_descriptor: descriptor.Descriptor) -> bool:
    """Whether a type has message fields other than scalar-like WKTs: only those are worth memoizing."""
    for field in message_descriptor.fields:
        if field.cpp_type == _FD.CPPTYPE_MESSAGE:
            sub = message_type_of(field)
            if sub.file.name != WRAPPERS_FILE and sub.full_name not in SCALAR_LIKE:
                return True
    return False


SCALAR_LIKE = frozenset(
    ("google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask")
)


def identity(value: Any) -> Any:
    return value


def wrapper_identity(message: Any) -> Any:
    return message.value


def bool_key(key: Any) -> str:
    return "true" if key else "false"


def is_map(field: descriptor.FieldDescriptor) -> bool:
    message_type = field.message_type
    return (
        field.cpp_type == _FD.CPPTYPE_MESSAGE
        and message_type is not None
        and message_type.has_options
        and message_type.GetOptions().map_entry
    )


SPECIAL_NAMES = frozenset(
    (
        "google.protobuf.Any",
        "google.protobuf.Duration",
        "google.protobuf.Timestamp",
        "google.protobuf.FieldMask",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
    )
)
