"""REST-JSON xDS bodies (`POST /v3/discovery:clusters`) -> the same `envelope.Envelope` as gRPC.

A REST body is a DiscoveryRequest/DiscoveryResponse in proto3 JSON. Resources
whose type the registry knows are re-encoded to protobuf so that they decode,
hash and compare exactly like gRPC ones; a resource of unknown type cannot be
encoded without its schema, so it is kept as its JSON text (`Encoding.JSON`).
"""

from __future__ import annotations

import json
from typing import Any

from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import json_format

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import methods
from xdsspy.decode import schemas

_NAME_KEYS = ("name", "cluster_name", "clusterName")
PARSE_ERRORS = (json_format.ParseError, TypeError, KeyError, AttributeError, ValueError)
"""What json_format.ParseDict raises on JSON that does not fit: mostly ParseError, but an "@type" that
is not a string (null, a number) gives AttributeError, and some shapes TypeError or KeyError."""


def decode_json(
    method: str | methods.MethodInfo,
    direction: model.Direction,
    body: bytes | str,
    *,
    registry: schemas.Registry | None = None,
) -> envelope.Envelope:
    """The envelope of one REST body; never raises on bad input (see `Envelope.problem`)."""
    info = methods.classify(method) if isinstance(method, str) else method
    try:
        return _decode_json(info, direction, body, registry or schemas.default())
    except RecursionError:  # from json or json_format, on arrays and objects nested thousands deep
        return _failed(info, direction, len(body), _TOO_DEEP)


_TOO_DEEP = "not JSON xdsspy can read: arrays or objects nested deeper than Python's recursion limit"


def _failed(
    info: methods.MethodInfo, direction: model.Direction, size: int, problem: str
) -> envelope.Envelope:
    message_type = info.request_type if direction == model.Direction.REQUEST else info.response_type
    kind = discovery.kind_of(info, direction)
    return envelope.Envelope(kind, info, direction, size, message_type=message_type, problem=problem)


def _decode_json(
    info: methods.MethodInfo, direction: model.Direction, body: bytes | str, registry: schemas.Registry
) -> envelope.Envelope:
    kind = discovery.kind_of(info, direction)
    size = len(body)
    message_type = info.request_type if direction == model.Direction.REQUEST else info.response_type

    def failed(problem: str) -> envelope.Envelope:
        return _failed(info, direction, size, problem)

    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text.strip():
        if direction == model.Direction.RESPONSE:
            return failed("empty body (an HTTP 304 Not Modified has none: the version is unchanged)")
        return failed("empty body")
    try:
        document = json.loads(text)
    except ValueError as exc:
        return failed(f"not JSON: {exc}")
    if not isinstance(document, dict):
        return failed(f"not a JSON object but {type(document).__name__}")
    if kind in (envelope.Kind.OTHER, envelope.Kind.UNKNOWN):
        return _other(info, kind, direction, size, message_type, document, registry)
    if kind not in (envelope.Kind.SOTW_REQUEST, envelope.Kind.SOTW_RESPONSE):
        return failed("delta xDS has no REST form")

    resources = document.pop("resources", [])
    problems: list[str] = []
    if not isinstance(resources, list):
        problems.append("'resources' is not a list")
        resources = []
    cls = (
        discovery_pb2.DiscoveryRequest
        if kind == envelope.Kind.SOTW_REQUEST
        else discovery_pb2.DiscoveryResponse
    )
    message = cls()
    try:
        json_format.ParseDict(document, message, descriptor_pool=registry.pool)
    except PARSE_ERRORS as exc:
        message = cls()
        problems.append(f"envelope fields not all understood ({exc}); unknown ones ignored")
        try:
            json_format.ParseDict(
                document, message, ignore_unknown_fields=True, descriptor_pool=registry.pool
            )
        except PARSE_ERRORS as second:
            problems.append(f"envelope unreadable: {second}")
    if resources:
        schemas.load_envoy_api()  # json_format resolves Any types in the pool: they must be imported
    entries = tuple(_entry(index, item, message.type_url, registry) for index, item in enumerate(resources))
    return discovery.from_message(
        info, kind, direction, message, size, "; ".join(problems), extra_resources=entries
    )


def _entry(index: int, item: Any, type_url: str, registry: schemas.Registry) -> envelope.ResourceEntry:
    if isinstance(item, dict):
        packed = any_pb2.Any()
        try:
            json_format.ParseDict(item, packed, descriptor_pool=registry.pool)
        except PARSE_ERRORS as exc:
            problem = str(exc)
        else:
            return discovery.sotw_entry(index, packed.type_url, packed.value)
        item_type = item.get("@type")
        name = next((item[key] for key in _NAME_KEYS if isinstance(item.get(key), str)), "")
    else:
        item_type, name, problem = None, "", f"a resource that is a JSON {type(item).__name__}"
    raw = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return envelope.ResourceEntry(
        index,
        item_type if isinstance(item_type, str) else type_url,
        name,
        raw,
        encoding=envelope.Encoding.JSON,
        problem=f"kept as JSON: {problem}",
    )


def _other(
    info: methods.MethodInfo,
    kind: envelope.Kind,
    direction: model.Direction,
    size: int,
    message_type: str,
    document: dict[str, Any],
    registry: schemas.Registry,
) -> envelope.Envelope:
    node = None
    problem = ""
    cls = registry.message_class(message_type) if message_type else None
    if cls is not None and "node" in cls.DESCRIPTOR.fields_by_name:
        message: Any = cls()
        try:
            json_format.ParseDict(
                document, message, ignore_unknown_fields=True, descriptor_pool=registry.pool
            )
        except PARSE_ERRORS as exc:
            problem = f"{message_type} did not parse: {exc}"
        else:
            if message.HasField("node"):
                node = discovery.node_of(message.node)
    return envelope.Envelope(
        kind, info, direction, size, message_type=message_type, node=node, problem=problem
    )
