"""Raw gRPC message bytes -> `envelope.Envelope`, for every discovery method, v2 and v3 transport.

v2 transport messages (`envoy.api.v2.DiscoveryRequest`...) have the same field
numbers as v3 and are parsed with the v3 classes. Resource payloads are never
parsed here: each becomes a `ResourceEntry` with its bytes and, for the common
resource types, its name read straight from the wire. Bytes that do not parse
give an envelope whose `problem` says why, holding every complete field that
could be salvaged; nothing raises.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import message as pb_message

from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.decode import methods
from xdsspy.decode import schemas
from xdsspy.decode import todict
from xdsspy.decode import unknown
from xdsspy.decode import wire

RESOURCE_WRAPPER = "envoy.service.discovery.v3.Resource"

NAME_FIELDS: dict[str, int] = {
    # v3
    "envoy.config.cluster.v3.Cluster": 1,
    "envoy.config.listener.v3.Listener": 1,
    "envoy.config.route.v3.RouteConfiguration": 1,
    "envoy.config.route.v3.ScopedRouteConfiguration": 1,
    "envoy.config.route.v3.VirtualHost": 1,
    "envoy.config.endpoint.v3.ClusterLoadAssignment": 1,  # cluster_name
    "envoy.extensions.transport_sockets.tls.v3.Secret": 1,
    "envoy.service.runtime.v3.Runtime": 1,
    "envoy.config.core.v3.TypedExtensionConfig": 1,
    # v2 (Istio <= 1.7)
    "envoy.api.v2.Cluster": 1,
    "envoy.api.v2.Listener": 1,
    "envoy.api.v2.RouteConfiguration": 1,
    "envoy.api.v2.ScopedRouteConfiguration": 1,
    "envoy.api.v2.route.VirtualHost": 1,
    "envoy.api.v2.ClusterLoadAssignment": 1,
    "envoy.api.v2.auth.Secret": 1,
    "envoy.service.discovery.v2.Runtime": 1,
}
"""Resource type -> number of the string field holding its name (checked against the API by the tests)."""

_KINDS = {
    (methods.Family.SOTW, model.Direction.REQUEST): envelope.Kind.SOTW_REQUEST,
    (methods.Family.SOTW, model.Direction.RESPONSE): envelope.Kind.SOTW_RESPONSE,
    (methods.Family.DELTA, model.Direction.REQUEST): envelope.Kind.DELTA_REQUEST,
    (methods.Family.DELTA, model.Direction.RESPONSE): envelope.Kind.DELTA_RESPONSE,
}
_CLASSES: dict[envelope.Kind, type[pb_message.Message]] = {
    envelope.Kind.SOTW_REQUEST: discovery_pb2.DiscoveryRequest,
    envelope.Kind.SOTW_RESPONSE: discovery_pb2.DiscoveryResponse,
    envelope.Kind.DELTA_REQUEST: discovery_pb2.DeltaDiscoveryRequest,
    envelope.Kind.DELTA_RESPONSE: discovery_pb2.DeltaDiscoveryResponse,
}
_converter = todict.Converter()


def kind_of(info: methods.MethodInfo, direction: model.Direction) -> envelope.Kind:
    """The message kind a method carries in a direction."""
    kind = _KINDS.get((info.family, direction))
    if kind is not None:
        return kind
    return envelope.Kind.OTHER if info.family == methods.Family.OTHER else envelope.Kind.UNKNOWN


def decode(
    method: str | methods.MethodInfo,
    direction: model.Direction,
    raw: bytes,
    *,
    registry: schemas.Registry | None = None,
) -> envelope.Envelope:
    """The envelope of one message; never raises on bad bytes (see `Envelope.problem`).

    A REST path as `method` means `raw` is a JSON body (`rest.decode_json`).
    """
    info = methods.classify(method) if isinstance(method, str) else method
    if info.rest:
        from xdsspy.decode import rest  # rest builds on this module

        return rest.decode_json(info, direction, raw, registry=registry)
    kind = kind_of(info, direction)
    cls = _CLASSES.get(kind)
    if cls is None:
        return _non_discovery(info, kind, direction, raw, registry or schemas.default())
    message, problem = parse(cls, raw)
    return from_message(info, kind, direction, message, len(raw), problem)


def parse(cls: type[pb_message.Message], raw: bytes) -> tuple[Any, str]:
    """Parse `raw`; on failure keep every complete top-level field that parses, and say what was lost."""
    try:
        message = cls.FromString(raw)
    except pb_message.DecodeError as exc:
        return _salvage(cls, raw, str(exc))
    stray = unknown.fields_of(message)
    if stray:
        numbers = sorted({field.field_number for field in stray})
        return message, (
            f"{len(stray)} field(s) not in {cls.DESCRIPTOR.full_name} (numbers {numbers[:10]}): "
            "wrong message type or corrupted bytes?"
        )
    return message, ""


def _salvage(cls: type[pb_message.Message], raw: bytes, reason: str) -> tuple[Any, str]:
    message = cls()
    kept = 0
    rejected: list[int] = []
    stopped = ""
    try:
        for field in wire.scan(raw):
            try:
                message.MergeFromString(raw[field.start : field.end])
                kept += 1
            except pb_message.DecodeError:
                rejected.append(field.start)
    except wire.WireError as exc:
        stopped = f"; unreadable from byte {exc.offset} of {len(raw)} (truncated or not protobuf)"
    problem = (
        f"{cls.DESCRIPTOR.full_name} did not parse ({reason or 'invalid'}){stopped}; "
        f"{kept} complete field(s) kept"
    )
    if rejected:
        problem += f", {len(rejected)} rejected (at bytes {rejected[:10]})"
    return message, problem


def from_message(
    info: methods.MethodInfo,
    kind: envelope.Kind,
    direction: model.Direction,
    message: Any,
    size: int,
    problem: str = "",
    extra_resources: tuple[envelope.ResourceEntry, ...] = (),
) -> envelope.Envelope:
    """Build the envelope from an already parsed discovery message (also used for REST bodies)."""
    fields, resources = _fields(kind, direction, message, extra_resources)
    if resources or kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
        fields["resources"] = resources
    return _envelope(info, kind, direction, message, size, problem, fields)


def decode_apart(
    method: str | methods.MethodInfo,
    direction: model.Direction,
    raw: bytes,
    *,
    stream_node: envelope.Node | None = None,
) -> tuple[envelope.Envelope, tuple[envelope.ResourceEntry, ...]]:
    """The envelope without its resources, and the resources apart, in one construction.

    What a timeline needs from every message of a long recording: it keeps the
    envelope and folds the resources (whose bytes it must not pin). When the
    message carries no node, `stream_node` (the one its stream sent first, see
    nodes.NodeMemory) is filled in with `node_from_stream` set.
    """
    info = methods.classify(method) if isinstance(method, str) else method
    kind = kind_of(info, direction)
    cls = _CLASSES.get(kind)
    if info.rest or cls is None:
        decoded = decode(info, direction, raw)
        changes: dict[str, Any] = {"resources": ()} if decoded.resources else {}
        if decoded.node is None and stream_node is not None:
            changes.update(node=stream_node, node_from_stream=True)
        return (dataclasses.replace(decoded, **changes) if changes else decoded), decoded.resources
    message, problem = parse(cls, raw)
    fields, resources = _fields(kind, direction, message, ())
    if "node" not in fields and stream_node is not None:
        fields["node"] = stream_node
        fields["node_from_stream"] = True
    return _envelope(info, kind, direction, message, len(raw), problem, fields), resources


Carried = tuple[tuple[str, ...], dict[str, str], tuple[str, ...], dict[str, str]]
"""What a response's resources are, without them: names in order, digest by name of each body, names of
TTL heartbeats, versions by name where a resource has its own."""


def decode_carried(
    method: str | methods.MethodInfo,
    direction: model.Direction,
    raw: bytes,
    *,
    stream_node: envelope.Node | None = None,
) -> tuple[envelope.Envelope, tuple[envelope.ResourceEntry, ...], Carried | None]:
    """decode_apart for a reader that keeps no resource bytes: a plain SotW response's resources come as
    `Carried` (names and digests), read without building an entry per resource; other messages come as
    decode_apart gives them, with Carried None.

    A push of 10,000 clusters resent with one changed is 10,000 lookups, not 10,000 objects.
    """
    info = methods.classify(method) if isinstance(method, str) else method
    kind = kind_of(info, direction)
    if kind != envelope.Kind.SOTW_RESPONSE or info.rest:
        decoded, resources = decode_apart(info, direction, raw, stream_node=stream_node)
        return decoded, resources, None
    message, problem = parse(discovery_pb2.DiscoveryResponse, raw)
    carried = _sotw_carried(message.resources)
    if carried is None:  # Resource wrappers (TTLs, per-resource versions): the full way
        fields, resources = _fields(kind, direction, message, ())
    else:
        fields, resources = _response_fields(message), ()
        fields.update(version_info=message.version_info, nonce=message.nonce, canary=message.canary)
    if stream_node is not None:
        fields["node"] = stream_node
        fields["node_from_stream"] = True
    return _envelope(info, kind, direction, message, len(raw), problem, fields), resources, carried


def _sotw_carried(anys: Any) -> Carried | None:
    """Names and digests of a SotW response's plain resources; None at the first Resource wrapper."""
    names: list[str] = []
    digests: dict[str, str] = {}
    seen = _seen.entries
    for packed in anys:
        raw = packed.value
        type_url = packed.type_url
        known = seen.get(raw)
        if known is None or known[0] != type_url:
            type_name = type_url[type_url.rfind("/") + 1 :]
            if type_name == RESOURCE_WRAPPER:
                return None
            number = NAME_FIELDS.get(type_name)
            name = (wire.first_string(raw, number) or "") if number is not None else ""
            digest = envelope.digest_of(raw)
            _seen.add(raw, type_url, name, digest)
        else:
            name, digest = known[1], known[2]
        names.append(name)
        digests[name] = digest
    return tuple(names), digests, (), {}


def _response_fields(message: Any) -> dict[str, Any]:
    """The fields every response carries beside its resources (control plane, resource errors)."""
    fields: dict[str, Any] = {}
    if message.HasField("control_plane"):
        fields["control_plane"] = message.control_plane.identifier
    if len(message.resource_errors):
        fields["resource_errors"] = tuple(
            envelope.ResourceError(e.resource_name.name, error_of(e.error_detail))
            for e in message.resource_errors
        )
    return fields


def _fields(
    kind: envelope.Kind,
    direction: model.Direction,
    message: Any,
    extra_resources: tuple[envelope.ResourceEntry, ...],
) -> tuple[dict[str, Any], tuple[envelope.ResourceEntry, ...]]:
    """The envelope fields of a parsed discovery message, and its resources apart."""
    fields: dict[str, Any] = {}
    resources: tuple[envelope.ResourceEntry, ...] = ()
    if kind == envelope.Kind.SOTW_REQUEST:
        fields.update(
            version_info=message.version_info,
            resource_names=tuple(message.resource_names),
            response_nonce=message.response_nonce,
        )
    elif kind == envelope.Kind.SOTW_RESPONSE:
        fields.update(version_info=message.version_info, nonce=message.nonce, canary=message.canary)
        resources = _sotw_resources(message.resources) + extra_resources
    elif kind == envelope.Kind.DELTA_REQUEST:
        fields.update(
            subscribe=tuple(message.resource_names_subscribe),
            unsubscribe=tuple(message.resource_names_unsubscribe),
            initial_resource_versions=dict(message.initial_resource_versions),
            response_nonce=message.response_nonce,
        )
    else:
        removed = list(message.removed_resources)
        removed.extend(r.name for r in message.removed_resource_names if r.name not in removed)
        fields.update(
            system_version_info=message.system_version_info,
            nonce=message.nonce,
            removed_resources=tuple(removed),
        )
        resources = _delta_resources(message.resources, message.type_url) + extra_resources
    if direction == model.Direction.REQUEST:
        if message.HasField("node"):
            fields["node"] = node_of(message.node)
        if message.HasField("error_detail"):
            fields["error_detail"] = error_of(message.error_detail)
    else:
        fields.update(_response_fields(message))
    return fields, resources


def _envelope(
    info: methods.MethodInfo,
    kind: envelope.Kind,
    direction: model.Direction,
    message: Any,
    size: int,
    problem: str,
    fields: dict[str, Any],
) -> envelope.Envelope:
    message_type = info.request_type if direction == model.Direction.REQUEST else info.response_type
    return envelope.Envelope(
        kind=kind,
        method=info,
        direction=direction,
        size=size,
        message_type=message_type or message.DESCRIPTOR.full_name,
        type_url=message.type_url,
        problem=problem,
        **fields,
    )


def _sotw_resources(anys: Any) -> tuple[envelope.ResourceEntry, ...]:
    out = []
    seen = _seen.entries
    make = envelope.ResourceEntry
    for index, packed in enumerate(anys):
        raw = packed.value
        known = seen.get(raw)
        type_url = packed.type_url
        if known is None or known[0] != type_url:
            out.append(_new_entry(index, type_url, raw))
        else:  # sotw_entry's first case, inline: most resources of most pushes were sent before
            entry = make(index, type_url, known[1], raw)
            entry._digest = known[2]
            out.append(entry)
    return tuple(out)


class _Seen:
    """Type, name and digest of resource payloads seen lately, by their bytes: a push mostly resends what
    the one before held (49 of 50 clusters, 9,999 of 10,000), and a dict lookup is cheaper than reading
    the name and hashing again. Bounded by the bytes it holds; cleared whole when full."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self.entries: dict[bytes, tuple[str, str, str]] = {}

    def add(self, raw: bytes, type_url: str, name: str, digest: str) -> None:
        self.held += len(raw)
        if self.held > self.max_bytes:
            self.entries = {}
            self.held = len(raw)
        self.entries[raw] = (type_url, name, digest)


_seen = _Seen(32 << 20)


def sotw_entry(index: int, type_url: str, raw: bytes) -> envelope.ResourceEntry:
    """The entry for one Any of a SotW response: unwrapped if it is a `Resource`, named if the type allows."""
    known = _seen.entries.get(raw)
    if known is not None and known[0] == type_url:
        entry = envelope.ResourceEntry(index, type_url, known[1], raw)
        entry._digest = known[2]
        return entry
    return _new_entry(index, type_url, raw)


def _new_entry(index: int, type_url: str, raw: bytes) -> envelope.ResourceEntry:
    """sotw_entry for bytes not seen lately: named, hashed, remembered."""
    type_name = type_url[type_url.rfind("/") + 1 :]
    if type_name == RESOURCE_WRAPPER:
        return _wrapped(index, raw, type_url)
    number = NAME_FIELDS.get(type_name)
    name = (wire.first_string(raw, number) or "") if number is not None else ""
    entry = envelope.ResourceEntry(index, type_url, name, raw)
    _seen.add(raw, type_url, name, entry.digest)
    return entry


def _wrapped(index: int, raw: bytes, type_url: str) -> envelope.ResourceEntry:
    try:
        wrapper = discovery_pb2.Resource.FromString(raw)
    except pb_message.DecodeError as exc:
        return envelope.ResourceEntry(
            index, type_url, "", raw, problem=f"Resource wrapper did not parse: {exc}"
        )
    return _entry_from_wrapper(index, wrapper, "")


def _delta_resources(wrappers: Any, type_url: str) -> tuple[envelope.ResourceEntry, ...]:
    return tuple(_entry_from_wrapper(index, wrapper, type_url) for index, wrapper in enumerate(wrappers))


def _entry_from_wrapper(index: int, wrapper: Any, type_url: str) -> envelope.ResourceEntry:
    has_payload = wrapper.HasField("resource")
    payload = wrapper.resource
    name = wrapper.name or (wrapper.resource_name.name if wrapper.HasField("resource_name") else "")
    payload_type = payload.type_url if has_payload else type_url
    raw: bytes = payload.value if has_payload else b""
    if not name and has_payload:
        type_name = payload_type[payload_type.rfind("/") + 1 :]
        number = NAME_FIELDS.get(type_name)
        name = (wire.first_string(raw, number) or "") if number is not None else ""
    ttl = None
    if wrapper.HasField("ttl"):
        ttl = wrapper.ttl.seconds + wrapper.ttl.nanos / 1e9
    return envelope.ResourceEntry(
        index,
        payload_type,
        name,
        raw,
        version=wrapper.version,
        aliases=tuple(wrapper.aliases),
        ttl_seconds=ttl,
        heartbeat=not has_payload,
        wrapped=True,
        do_not_cache=wrapper.cache_control.do_not_cache if wrapper.HasField("cache_control") else False,
    )


def node_of(node: Any) -> envelope.Node:
    """The Node dataclass of a parsed `envoy.config.core.v3.Node` (or wire-compatible v2 Node)."""
    version = node.user_agent_version
    if not version and node.HasField("user_agent_build_version"):
        semantic = node.user_agent_build_version.version
        version = f"{semantic.major_number}.{semantic.minor_number}.{semantic.patch}"
    build_version = ""
    for field in unknown.fields_of(node):
        if field.field_number == 5 and field.wire_type == wire.LEN:  # v2 Node.build_version
            build_version = bytes(field.data).decode("utf-8", "replace")
    return envelope.Node(
        id=node.id,
        cluster=node.cluster,
        user_agent_name=node.user_agent_name,
        user_agent_version=version,
        build_version=build_version,
        metadata=_converter.to_dict(node.metadata) if node.HasField("metadata") else {},
        locality=_converter.to_dict(node.locality) if node.HasField("locality") else {},
        client_features=tuple(node.client_features),
        raw=node.SerializeToString(),
    )


def error_of(status: Any) -> envelope.ErrorDetail:
    """The ErrorDetail of a parsed `google.rpc.Status`."""
    return envelope.ErrorDetail(
        status.code, status.message, tuple(detail.type_url for detail in status.details)
    )


def _non_discovery(
    info: methods.MethodInfo,
    kind: envelope.Kind,
    direction: model.Direction,
    raw: bytes,
    registry: schemas.Registry,
) -> envelope.Envelope:
    """LRS/CSDS/HDS and unknown methods: name the message type and pick up `node` when it has one."""
    message_type = info.request_type if direction == model.Direction.REQUEST else info.response_type
    if not message_type and info.family == methods.Family.UNKNOWN:
        message_type = _type_from_service(info.method, direction, registry)
    node = None
    problem = ""
    cls = registry.message_class(message_type) if message_type else None
    if cls is not None and "node" in cls.DESCRIPTOR.fields_by_name:
        message, problem = parse(cls, raw)
        if message.HasField("node"):
            node = node_of(message.node)
    return envelope.Envelope(
        kind=kind,
        method=info,
        direction=direction,
        size=len(raw),
        message_type=message_type,
        node=node,
        problem=problem,
    )


def _type_from_service(method: str, direction: model.Direction, registry: schemas.Registry) -> str:
    """For a method outside the table, its message type from the service definition, if any file has it."""
    service_name, _, rpc = method.lstrip("/").partition("/")
    if not rpc:
        return ""
    try:
        service = registry.pool.FindServiceByName(service_name)
    except KeyError:
        schemas.load_envoy_api()
        try:
            service = registry.pool.FindServiceByName(service_name)
        except KeyError:
            return ""
    method_descriptor = service.methods_by_name.get(rpc)
    if method_descriptor is None:
        return ""
    message = (
        method_descriptor.input_type
        if direction == model.Direction.REQUEST
        else method_descriptor.output_type
    )
    return str(message.full_name)
