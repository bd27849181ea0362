"""The decoded envelope of one xDS message: who, which type, which version and nonce, which resources.

Everything here is cheap to produce from the raw bytes (no resource is parsed),
so state tracking and timelines can run on every message of a long recording.
Resources stay as `ResourceEntry`s holding their raw bytes; their digest lets
consumers skip unchanged resources and `resources.decode_entry` turns one into
JSON only when someone looks at it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping
from typing import Any

from xdsspy import grpc_status
from xdsspy import model
from xdsspy.decode import methods


class Kind(enum.StrEnum):
    """What a message is, from its method and direction."""

    SOTW_REQUEST = "sotw_request"
    SOTW_RESPONSE = "sotw_response"
    DELTA_REQUEST = "delta_request"
    DELTA_RESPONSE = "delta_response"
    OTHER = "other"  # not a discovery message: LRS, CSDS, HDS, or any other known service
    UNKNOWN = "unknown"  # a method xdsspy cannot classify


class Encoding(enum.StrEnum):
    """How a resource's `raw` bytes are encoded."""

    PROTO = "proto"  # protobuf wire format (gRPC, or a REST body whose type is known)
    JSON = "json"  # the resource's JSON as found in a REST body, when its type is unknown


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorDetail:
    """`google.rpc.Status` from a NACK or a per-resource error."""

    code: int
    message: str
    details: tuple[str, ...] = ()  # type URLs of the attached detail messages

    @property
    def code_name(self) -> str:
        return grpc_status.name(self.code)


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceError:
    """A control plane's report that one resource could not be produced (`resource_errors`)."""

    name: str
    error: ErrorDetail


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """The identity Envoy sends in its first request of a stream (later ones may omit it).

    `user_agent_version` is `user_agent_version` or the formatted
    `user_agent_build_version`; `build_version` is the v2-only field 5 that
    Envoy <= 1.16 still sent. `metadata` and `locality` are JSON-ready dicts.
    """

    id: str
    cluster: str = ""
    user_agent_name: str = ""
    user_agent_version: str = ""
    build_version: str = ""
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    locality: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    client_features: tuple[str, ...] = ()
    raw: bytes = b""


@dataclasses.dataclass(slots=True)
class ResourceEntry:
    """One resource of a response, undecoded. Treat it as immutable.

    Not a frozen dataclass on purpose: a push can hold 10k+ entries and a
    frozen init costs 5x more (16 ms of the 50 ms envelope budget).

    `type_url` is the payload's own type (inside a `Resource` wrapper, the
    wrapped Any's). `name` is found without parsing the payload where the type
    is known to keep its name in a leading string field, and is "" otherwise.
    `heartbeat` marks a `Resource` wrapper without a payload (a TTL refresh).
    """

    index: int
    type_url: str
    name: str
    raw: bytes
    version: str = ""
    aliases: tuple[str, ...] = ()
    ttl_seconds: float | None = None
    heartbeat: bool = False
    wrapped: bool = False  # carried in envoy.service.discovery.v3.Resource (always so in delta)
    do_not_cache: bool = False
    encoding: Encoding = Encoding.PROTO
    problem: str = ""  # why the wrapper could not be read, if it could not
    _digest: str | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @property
    def digest(self) -> str:
        """blake2b-128 of `raw` (hex), computed on first use: equal digests mean byte-identical payloads."""
        digest = self._digest
        if digest is None:
            digest = self._digest = digest_of(self.raw)
        return digest


def digest_of(raw: bytes) -> str:
    """The digest of a resource's bytes (ResourceEntry.digest): blake2b-128, hex."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


@dataclasses.dataclass(slots=True)
class Envelope:
    """A discovery message minus the resource bodies; fields not carried by `kind` stay empty.

    Treat it as immutable. Not frozen on purpose, like `ResourceEntry`: a timeline builds one per
    message, and a frozen init of these 25 fields costs 2.5x more (docs/performance.md, indexing).

    `version_info` is set on SotW requests and responses, `system_version_info`
    on delta responses; `nonce` on responses, `response_nonce` on requests.
    `problem` is "" when the bytes parsed cleanly; otherwise it says what went
    wrong and how much was salvaged (the raw bytes stay with the event).
    """

    kind: Kind
    method: methods.MethodInfo
    direction: model.Direction
    size: int
    message_type: str = ""
    type_url: str = ""
    version_info: str = ""
    system_version_info: str = ""
    nonce: str = ""
    response_nonce: str = ""
    node: Node | None = None
    node_from_stream: bool = False  # `node` was remembered from an earlier request (nodes.NodeMemory)
    resource_names: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    initial_resource_versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    removed_resources: tuple[str, ...] = ()
    error_detail: ErrorDetail | None = None
    resource_errors: tuple[ResourceError, ...] = ()
    control_plane: str = ""
    canary: bool = False
    resources: tuple[ResourceEntry, ...] = ()
    problem: str = ""

    @property
    def is_request(self) -> bool:
        return self.direction == model.Direction.REQUEST

    @property
    def version(self) -> str:
        """The version this message carries, whichever field holds it."""
        return self.version_info or self.system_version_info

    @property
    def is_discovery(self) -> bool:
        return self.kind not in (Kind.OTHER, Kind.UNKNOWN)

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields for export and logs (no resource bodies; resources as name, version, digest)."""
        out: dict[str, Any] = {"kind": str(self.kind), "size": self.size}
        for key in (
            "type_url",
            "version_info",
            "system_version_info",
            "nonce",
            "response_nonce",
            "control_plane",
        ):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.node is not None:
            out["node"] = {
                "id": self.node.id,
                "cluster": self.node.cluster,
                "from_stream": self.node_from_stream,
            }
        for key in ("resource_names", "subscribe", "unsubscribe", "removed_resources"):
            value = getattr(self, key)
            if value:
                out[key] = list(value)
        if self.initial_resource_versions:
            out["initial_resource_versions"] = dict(self.initial_resource_versions)
        if self.error_detail is not None:
            out["error_detail"] = _error_json(self.error_detail)
        if self.resource_errors:
            out["resource_errors"] = [{"name": e.name, **_error_json(e.error)} for e in self.resource_errors]
        if self.canary:
            out["canary"] = True
        if self.resources or self.kind in (Kind.SOTW_RESPONSE, Kind.DELTA_RESPONSE):
            out["resources"] = [_entry_json(entry) for entry in self.resources]
        if self.problem:
            out["problem"] = self.problem
        return out


def _error_json(error: ErrorDetail) -> dict[str, Any]:
    out: dict[str, Any] = {"code": error.code, "code_name": error.code_name, "message": error.message}
    if error.details:
        out["details"] = list(error.details)
    return out


def _entry_json(entry: ResourceEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"type_url": entry.type_url, "name": entry.name, "size": len(entry.raw)}
    if entry.version:
        out["version"] = entry.version
    if not entry.heartbeat:
        out["digest"] = entry.digest
    else:
        out["heartbeat"] = True
    if entry.ttl_seconds is not None:
        out["ttl_seconds"] = entry.ttl_seconds
    if entry.aliases:
        out["aliases"] = list(entry.aliases)
    if entry.encoding != Encoding.PROTO:
        out["encoding"] = str(entry.encoding)
    if entry.problem:
        out["problem"] = entry.problem
    return out
