"""What makes two resource bodies the same configuration: protobuf's canonical JSON, and Envoy's defaults.

Sources print one message in different JSON: Envoy's admin uses proto field
names, istiod's debug dump and REST control planes jsonpb's camelCase, with
durations and enums as each printer likes. `canonical` parses a body as its
message type and prints it the way xdsspy prints decoded resources, so the
comparison sees fields, not spellings (a body whose type is unknown stays as
it is). `endpoint_defaults` fills in what Envoy fills in when it rebuilds
its endpoint dump from its host set: `health_status` HEALTHY (UNKNOWN is the
same to the load balancer), `load_balancing_weight` 1, an empty
`health_check_config` and `locality`, a locality's `load_balancing_weight` 0
(unset), `policy.overprovisioning_factor` 140, and drops `priority` 0, so
that a recorded ClusterLoadAssignment that left them out compares equal to
Envoy's dump.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2
from google.protobuf import json_format

from xdsspy.decode import schemas
from xdsspy.snapshot import model

DEFAULT_OVERPROVISIONING = 140
_IDLE_HEALTH = ("HEALTHY", "UNKNOWN", 0, 1)


def canonical(body: Any) -> Any:
    """The body parsed as its own message type (v2 stays v2) and printed again by protobuf's JSON printer
    with proto field names; unchanged when it does not parse.

    A nested Any of a type xdsspy has no schema for (an Istio filter's config) would stop the parse: it is
    set aside under a placeholder and put back as it was, so the rest of the body is still canonical.
    """
    if not isinstance(body, dict) or not isinstance(body.get("@type"), str):
        return body
    registry = schemas.default()
    schemas.load_envoy_api()
    aside: list[Any] = []
    try:
        prepared = _set_aside(body, registry, aside, 0)
        packed = any_pb2.Any()
        json_format.ParseDict(prepared, packed, descriptor_pool=registry.pool)
        printed = json_format.MessageToDict(
            packed, preserving_proto_field_name=True, descriptor_pool=registry.pool
        )
    except (json_format.ParseError, json_format.SerializeToJsonError, TypeError, KeyError, ValueError):
        return body
    except (RecursionError, _TooDeep):
        return body
    return _put_back(printed, aside, 0) if aside else printed


_STRUCT = "type.googleapis.com/google.protobuf.Struct"
_MARK = "__xdsspy_set_aside__"
MAX_DEPTH = 100


class _TooDeep(Exception):
    pass


def _known(type_url: str, registry: schemas.Registry) -> bool:
    try:
        registry.pool.FindMessageTypeByName(type_url.rpartition("/")[2])
    except KeyError:
        return False
    return True


def _set_aside(value: Any, registry: schemas.Registry, aside: list[Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, dict):
        kind = value.get("@type")
        if depth and isinstance(kind, str) and not _known(kind, registry):
            aside.append(value)
            return {"@type": _STRUCT, "value": {_MARK: len(aside) - 1}}
        return {k: _set_aside(v, registry, aside, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_set_aside(v, registry, aside, depth + 1) for v in value]
    return value


def _put_back(value: Any, aside: list[Any], depth: int) -> Any:
    if isinstance(value, dict):
        inner = value.get("value")
        if value.get("@type") == _STRUCT and isinstance(inner, dict) and set(inner) == {_MARK}:
            return aside[int(inner[_MARK])]
        return {k: _put_back(v, aside, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_put_back(v, aside, depth + 1) for v in value]
    return value


def endpoint_defaults(body: Any) -> Any:
    """A ClusterLoadAssignment with the defaults Envoy's endpoint dump shows filled in (a copy).

    Filled in rather than removed, so that a weight changed from the default reads `1 → 5`.
    """
    if not isinstance(body, dict):
        return body
    out = dict(body)
    localities = out.get("endpoints")
    if isinstance(localities, list):
        out["endpoints"] = [_locality(loc) for loc in localities]
    policy = out.get("policy")
    policy = dict(policy) if isinstance(policy, dict) else {}
    policy.setdefault("overprovisioning_factor", DEFAULT_OVERPROVISIONING)
    out["policy"] = policy
    return out


def _locality(locality: Any) -> Any:
    if not isinstance(locality, dict):
        return locality
    out = dict(locality)
    out.setdefault("locality", {})
    out.setdefault("load_balancing_weight", 0)  # no locality weight: Envoy prints 0
    if out.get("priority") == 0:
        del out["priority"]
    lb_endpoints = out.get("lb_endpoints")
    if isinstance(lb_endpoints, list):
        out["lb_endpoints"] = [_lb_endpoint(e) for e in lb_endpoints]
    return out


def _lb_endpoint(lb: Any) -> Any:
    if not isinstance(lb, dict):
        return lb
    out = dict(lb)
    if out.get("health_status", "HEALTHY") in _IDLE_HEALTH:
        out["health_status"] = "HEALTHY"
    out.setdefault("load_balancing_weight", 1)
    endpoint = out.get("endpoint")
    if isinstance(endpoint, dict) and "health_check_config" not in endpoint:
        out["endpoint"] = {**endpoint, "health_check_config": {}}
    return out


def comparable(item: model.Item) -> Any:
    """The body `xdsspy diff` compares first: for endpoints with Envoy's defaults, others as they are."""
    return endpoint_defaults(item.body) if item.type_url == model.ENDPOINT else item.body


def looks_jsonpb(body: Any) -> bool:
    """Whether a body is printed with jsonpb's camelCase names (istiod's debug dump, REST bodies)."""
    return isinstance(body, dict) and any(k[:1].islower() and not k.islower() for k in body if k != "@type")
