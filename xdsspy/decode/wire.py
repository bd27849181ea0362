"""Protobuf wire format without a schema: a field scanner and a `protoc --decode_raw`-style tree.

Used where no descriptor exists (Istio's own filter configs, anything new), to
pull a resource's name out of its bytes without parsing the whole message, and
to salvage the complete fields of a truncated message. Nothing here raises on
bad input except `scan`, whose `WireError` names the offset.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from xdsspy import varint

VARINT = 0
FIXED64 = 1
LEN = 2
START_GROUP = 3
END_GROUP = 4
FIXED32 = 5

WIRE_TYPE_NAMES = {
    VARINT: "varint",
    FIXED64: "fixed64",
    LEN: "len",
    START_GROUP: "group",
    END_GROUP: "end_group",
    FIXED32: "fixed32",
}

MAX_DEPTH = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class WireError(ValueError):
    """The bytes are not protobuf wire format; `offset` is where reading failed."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset


@dataclasses.dataclass(frozen=True, slots=True)
class WireField:
    """One top-level field as found on the wire; `start`/`end` delimit its bytes including the tag."""

    number: int
    wire_type: int
    value: int | bytes  # int for varint/fixed, the payload for len and groups
    start: int
    end: int


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the offset after it."""
    try:
        return varint.decode(data, pos)
    except ValueError as e:
        raise WireError(str(e), pos) from None


def _skip_group(data: bytes, pos: int, number: int, depth: int) -> int:
    """Offset just after the END_GROUP matching `number`, for a group starting at `pos`."""
    if depth > MAX_DEPTH:
        raise WireError("groups nested too deeply", pos)
    while True:
        tag_at = pos
        tag, pos = read_varint(data, pos)
        wire_type = tag & 7
        if wire_type == END_GROUP:
            if tag >> 3 != number:
                raise WireError("mismatched end of group", tag_at)
            return pos
        pos = _skip_value(data, pos, tag >> 3, wire_type, depth + 1, tag_at)


def _skip_value(data: bytes, pos: int, number: int, wire_type: int, depth: int, tag_at: int) -> int:
    if number == 0:
        raise WireError("field number 0", tag_at)
    if wire_type == VARINT:
        return read_varint(data, pos)[1]
    if wire_type == FIXED64:
        pos += 8
    elif wire_type == FIXED32:
        pos += 4
    elif wire_type == LEN:
        length, pos = read_varint(data, pos)
        pos += length
    elif wire_type == START_GROUP:
        return _skip_group(data, pos, number, depth)
    else:
        raise WireError(f"invalid wire type {wire_type}", tag_at)
    if pos > len(data):
        raise WireError("truncated field", tag_at)
    return pos


def scan(data: bytes) -> Iterator[WireField]:
    """The top-level fields of `data` in order; raises WireError where the bytes stop making sense."""
    pos = 0
    end = len(data)
    while pos < end:
        start = pos
        tag, pos = read_varint(data, pos)
        number = tag >> 3
        wire_type = tag & 7
        if number == 0:
            raise WireError("field number 0", start)
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield WireField(number, wire_type, value, start, pos)
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise WireError("truncated length-delimited field", start)
            yield WireField(number, wire_type, data[pos : pos + length], start, pos + length)
            pos += length
        elif wire_type == FIXED64 or wire_type == FIXED32:
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > end:
                raise WireError("truncated fixed-width field", start)
            value = int.from_bytes(data[pos : pos + size], "little")
            yield WireField(number, wire_type, value, start, pos + size)
            pos += size
        elif wire_type == START_GROUP:
            body_start = pos
            after = _skip_group(data, pos, number, 1)
            # The payload excludes the END_GROUP tag; recompute its length from the tag size.
            end_tag_len = len(varint.encode((number << 3) | END_GROUP))
            yield WireField(number, wire_type, data[body_start : after - end_tag_len], start, after)
            pos = after
        else:
            raise WireError(f"invalid wire type {wire_type}", start)


def complete_prefix(data: bytes) -> tuple[bytes, int]:
    """The longest run of whole top-level fields at the start of `data`, and where reading stopped.

    A truncated or corrupted message usually still holds many complete fields
    before the damage; parsing just those keeps them instead of losing all.
    """
    good_end = 0
    try:
        for field in scan(data):
            good_end = field.end
    except WireError as exc:
        return data[:good_end], exc.offset
    return data, len(data)


def first_string(data: bytes, number: int) -> str | None:
    """The first top-level string field `number`, cheaply: usually the leading field of a resource."""
    tag = (number << 3) | LEN
    if tag < 0x80 and data[:1] == bytes((tag,)):
        # Fast path: the field comes first and its tag is one byte.
        try:
            length, pos = read_varint(data, 1)
        except WireError:
            return None
        if pos + length <= len(data):
            try:
                return data[pos : pos + length].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None
    try:
        for field in scan(data):
            if field.number == number and field.wire_type == LEN:
                assert isinstance(field.value, bytes)
                return field.value.decode("utf-8")
    except (WireError, UnicodeDecodeError):
        return None
    return None


def _as_text(payload: bytes) -> str | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


def render_len(payload: bytes, depth: int = 0) -> Any:
    """A length-delimited value the decode_raw way: text, else nested message, else {"@bytes": base64}."""
    if not payload:
        return ""
    text = _as_text(payload)
    if text is not None:
        return text
    if depth < MAX_DEPTH:
        nested = decode_raw(payload, depth + 1)
        if nested is not None:
            return nested
    return {"@bytes": base64.b64encode(payload).decode("ascii")}


def _int(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "little")


def decode_raw(data: bytes, depth: int = 0) -> dict[str, Any] | None:
    """A JSON-ready tree of `data` keyed by field number, or None when it is not wire format.

    Like `protoc --decode_raw` the reading is a guess: a length-delimited field
    is shown as text when it is printable UTF-8, else as a nested message when
    it parses as one, else as {"@bytes": base64}. Varints are ints, fixed-width
    values hex strings ("0x..."), groups nested dicts; a repeated number gives a list.
    """
    out: dict[str, Any] = {}
    try:
        fields = list(scan(data))
    except WireError:
        return None
    for field in fields:
        value: Any
        if field.wire_type == VARINT:
            value = field.value
        elif field.wire_type == FIXED64:
            value = f"0x{_int(field.value):016x}"
        elif field.wire_type == FIXED32:
            value = f"0x{_int(field.value):08x}"
        else:
            assert isinstance(field.value, bytes)
            if field.wire_type == LEN:
                value = render_len(field.value, depth)
            else:
                value = decode_raw(field.value, depth + 1) if depth < MAX_DEPTH else None
                if value is None:
                    value = {"@bytes": base64.b64encode(field.value).decode("ascii")}
        key = str(field.number)
        previous = out.get(key)
        if previous is None:
            out[key] = value
        elif isinstance(previous, list):  # values are never lists, so a list means "repeated"
            previous.append(value)
        else:
            out[key] = [previous, value]
    return out
