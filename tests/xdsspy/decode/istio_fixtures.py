"""Istio config dumps (../shared/fixtures/istio) as the DiscoveryResponses a control plane would push.

Each `dynamic_*`/`static_*` resource of each dump (plus the golden bootstraps
and RBAC filters) becomes an Any in a response grouped by type. Types nobody
has a schema for (Istio's own filters) cannot be re-encoded from JSON, so
their JSON body is encoded as a `google.protobuf.Struct` under the original
type URL: valid protobuf of a schema the decoder does not have, which is what
such a payload is on the wire.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib
from typing import Any

import yaml
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import json_format
from google.protobuf import struct_pb2

from xdsspy.decode import schemas
from xdsspy.testing import istio_files

ROOT = istio_files.ROOT
STRUCT_URL = "type.googleapis.com/google.protobuf.Struct"
_MARK = "__xdsspy_fixture_type__"

# Where each kind of resource sits in a config dump, and its type when the dump has no "@type" (Envoy 1.12).
_SECTIONS = {
    "static_clusters": ("cluster", "envoy.api.v2.Cluster"),
    "dynamic_active_clusters": ("cluster", "envoy.api.v2.Cluster"),
    "dynamic_warming_clusters": ("cluster", "envoy.api.v2.Cluster"),
    "static_listeners": ("listener", "envoy.api.v2.Listener"),
    "dynamic_active_listeners": ("listener", "envoy.api.v2.Listener"),
    "dynamic_listeners": ("listener", "envoy.api.v2.Listener"),
    "static_route_configs": ("route_config", "envoy.api.v2.RouteConfiguration"),
    "dynamic_route_configs": ("route_config", "envoy.api.v2.RouteConfiguration"),
    "static_endpoint_configs": ("endpoint_config", "envoy.api.v2.ClusterLoadAssignment"),
    "dynamic_endpoint_configs": ("endpoint_config", "envoy.api.v2.ClusterLoadAssignment"),
    "dynamic_active_secrets": ("secret", "envoy.api.v2.auth.Secret"),
    "dynamic_warming_secrets": ("secret", "envoy.api.v2.auth.Secret"),
    "static_secrets": ("secret", "envoy.api.v2.auth.Secret"),
    "ecds_filters": ("ecds_filter", "envoy.config.core.v3.TypedExtensionConfig"),
    "dynamic_scoped_route_configs": ("scoped_route_configs", "envoy.api.v2.ScopedRouteConfiguration"),
}
_LISTENER_STATES = ("active_state", "warming_state", "draining_state")


@dataclasses.dataclass
class FixtureResource:
    file: str
    section: str
    dynamic: bool
    type_url: str
    value: bytes
    json: dict[str, Any]  # the resource as the dump shows it
    synthetic_types: frozenset[str]  # type URLs whose payload was encoded as a Struct here
    lossy: bool  # the dump had fields no schema defines any more; they are not in `value`


@dataclasses.dataclass
class FixturePush:
    file: str
    type_url: str
    response: bytes
    resources: list[FixtureResource]


def _camel_to_snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def load(path: pathlib.Path) -> Any:
    text = path.read_text()
    if path.suffix == ".yaml":
        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)  # the 1.6 golden bootstrap is YAML-flavoured JSON


def _raw_resources(path: pathlib.Path, document: Any) -> list[tuple[str, bool, dict[str, Any]]]:
    """(section, dynamic, Any-shaped JSON) for every resource in one fixture file."""
    out: list[tuple[str, bool, dict[str, Any]]] = []
    if isinstance(document, list):  # golden RBAC: a list of http filters -> ECDS TypedExtensionConfigs
        for item in document:
            config = {"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", **item}
            out.append(("golden_http_filters", True, config))
        return out
    if isinstance(document, dict) and "typedConfig" in document:
        config = {"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", **document}
        return [("golden_http_filter", True, config)]
    if (
        isinstance(document, dict) and "configs" not in document
    ):  # a bootstrap: serve it as Istio's bootstrap type
        v2 = "1.6" in path.name
        type_name = "envoy.config.bootstrap.v2.Bootstrap" if v2 else "envoy.config.bootstrap.v3.Bootstrap"
        return [("bootstrap", False, {"@type": "type.googleapis.com/" + type_name, **document})]
    configs = document.get("configs", [])
    if isinstance(configs, dict):
        configs = list(configs.values())
    for config in configs:
        for key, items in config.items():
            section = _camel_to_snake(key)
            if section not in _SECTIONS or not isinstance(items, list):
                continue
            field, default_type = _SECTIONS[section]
            dynamic = section.startswith("dynamic") or section == "ecds_filters"
            for item in items:
                candidates = []
                if section == "dynamic_listeners":
                    for state in _LISTENER_STATES:
                        state_obj = item.get(state) or item.get(_snake_to_camel(state))
                        if isinstance(state_obj, dict) and "listener" in state_obj:
                            candidates.append(state_obj["listener"])
                else:
                    value = item.get(field) or item.get(_snake_to_camel(field))
                    if value is not None:
                        candidates.extend(value if isinstance(value, list) else [value])
                for resource in candidates:
                    if "@type" not in resource:
                        resource = {"@type": "type.googleapis.com/" + default_type, **resource}
                    out.append((section, dynamic, resource))
    return out


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _known(registry: schemas.Registry, type_url: str) -> bool:
    return registry.find(type_url.split("/")[-1]) is not None


def _mark_unknown(node: Any, registry: schemas.Registry, synthetic: set[str]) -> Any:
    if isinstance(node, list):
        return [_mark_unknown(item, registry, synthetic) for item in node]
    if not isinstance(node, dict):
        return node
    type_url = node.get("@type")
    if isinstance(type_url, str) and not _known(registry, type_url):
        synthetic.add(type_url)
        body = {key: value for key, value in node.items() if key != "@type"}
        return {"@type": STRUCT_URL, "value": {_MARK: type_url, **body}}
    return {key: _mark_unknown(value, registry, synthetic) for key, value in node.items()}


def _restore(message: Any, registry: schemas.Registry) -> None:
    """Give Struct-encoded Anys their original type URL back, depth first."""
    for field, value in message.ListFields():
        if field.cpp_type != field.CPPTYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].cpp_type == field.CPPTYPE_MESSAGE:
                for key in value:
                    _restore_one(value[key], registry)
        elif field.is_repeated:
            for item in value:
                _restore_one(item, registry)
        else:
            _restore_one(value, registry)


def _restore_one(message: Any, registry: schemas.Registry) -> None:
    if message.DESCRIPTOR.full_name == "google.protobuf.Any":
        _restore_any(message, registry)
    else:
        _restore(message, registry)


def _restore_any(packed: Any, registry: schemas.Registry) -> None:
    if packed.type_url == STRUCT_URL:
        struct = struct_pb2.Struct.FromString(packed.value)
        if _MARK in struct.fields:
            original = struct.fields[_MARK].string_value
            del struct.fields[_MARK]
            packed.type_url = original
            packed.value = struct.SerializeToString(deterministic=True)
            return
    cls = registry.message_class(packed.type_url.split("/")[-1])
    if cls is None:
        return
    inner = cls.FromString(packed.value)
    _restore(inner, registry)
    packed.value = inner.SerializeToString(deterministic=True)


def encode(resource: dict[str, Any], registry: schemas.Registry) -> tuple[any_pb2.Any, frozenset[str], bool]:
    """The Any a control plane would send for this config-dump JSON."""
    synthetic: set[str] = set()
    marked = _mark_unknown(copy.deepcopy(resource), registry, synthetic)
    packed = any_pb2.Any()
    lossy = False
    try:
        json_format.ParseDict(marked, packed, descriptor_pool=registry.pool)
    except json_format.ParseError:
        # Istio <= 1.3 dumps hold fields that even the last v2 API had dropped (use_websocket...):
        # no schema can encode them, so they are left out of the pushed bytes.
        packed = any_pb2.Any()
        json_format.ParseDict(marked, packed, ignore_unknown_fields=True, descriptor_pool=registry.pool)
        lossy = True
    _restore_any(packed, registry)
    return packed, frozenset(synthetic), lossy


def pushes(registry: schemas.Registry | None = None) -> list[FixturePush]:
    """One DiscoveryResponse per (fixture file, resource type)."""
    registry = registry or schemas.default()
    schemas.load_envoy_api()
    out: list[FixturePush] = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".json", ".yaml") or not path.is_file():
            continue
        relative = str(path.relative_to(ROOT))
        by_type: dict[str, list[FixtureResource]] = {}
        for section, dynamic, resource in _raw_resources(path, load(path)):
            packed, synthetic, lossy = encode(resource, registry)
            by_type.setdefault(packed.type_url, []).append(
                FixtureResource(
                    relative, section, dynamic, packed.type_url, packed.value, resource, synthetic, lossy
                )
            )
        for type_url, resources in by_type.items():
            response = discovery_pb2.DiscoveryResponse(
                version_info=f"fixture/{relative}", type_url=type_url, nonce=f"nonce-{len(out)}"
            )
            for item in resources:
                response.resources.add(type_url=item.type_url, value=item.value)
            out.append(FixturePush(relative, type_url, response.SerializeToString(), resources))
    return out
