"""Writing masked JSON back: only what differs changes, and what a field cannot hold is cleared."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.core.v3 import grpc_service_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import any_pb2
from google.protobuf import json_format
from google.protobuf import message as pb_message

from xdsspy import redact_writeback
from xdsspy.decode import schemas

MARKER = "[redacted:0badc0de]"


def message_class(type_url: str) -> type[pb_message.Message] | None:
    return schemas.default().message_class(type_url.rpartition("/")[2])


def as_json(message: pb_message.Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def written(message: pb_message.Message, change: Any) -> pb_message.Message:
    """`message` after writing back its JSON as `change` edits it."""
    old = as_json(message)
    new = copy.deepcopy(old)
    change(new)
    out = type(message)()
    out.CopyFrom(message)
    redact_writeback.WriteBack(message_class).fields(out, old, new)
    return out


def test_strings_bytes_and_values_a_field_cannot_hold() -> None:
    service = grpc_service_pb2.GrpcService()
    jwt = service.google_grpc.call_credentials.add().service_account_jwt_access
    jwt.json_key, jwt.token_lifetime_seconds = "key material", 3600
    service.google_grpc.target_uri = "oauth.example:443"
    service.initial_metadata.add(key="x-token", raw_value=b"raw secret")

    def change(new: dict[str, Any]) -> None:
        access = new["google_grpc"]["call_credentials"][0]["service_account_jwt_access"]
        access["json_key"], access["token_lifetime_seconds"] = MARKER, MARKER
        new["initial_metadata"][0]["raw_value"] = "W3JlZGFjdGVkXQ=="  # base64 of "[redacted]"

    out = written(service, change)
    assert isinstance(out, grpc_service_pb2.GrpcService)
    access = out.google_grpc.call_credentials[0].service_account_jwt_access
    assert access.json_key == MARKER and access.token_lifetime_seconds == 0  # a uint64 cannot hold it
    assert out.initial_metadata[0].raw_value == b"[redacted]" and out.initial_metadata[0].key == "x-token"
    assert out.google_grpc.target_uri == "oauth.example:443"


def test_maps_structs_and_nested_anys() -> None:
    context = tls_pb2.UpstreamTlsContext(sni="backend")
    context.common_tls_context.tls_certificates.add().private_key.inline_string = "secret"
    cluster = cluster_pb2.Cluster(name="c")
    cluster.transport_socket.typed_config.Pack(context)
    cluster.metadata.filter_metadata["auth"].update({"token": "t0k", "zone": "a"})
    other = any_pb2.Any()
    other.Pack(base_pb2.RuntimeDouble(default_value=1.5, runtime_key="k"))
    cluster.typed_extension_protocol_options["x"].CopyFrom(other)

    def change(new: dict[str, Any]) -> None:
        new["transport_socket"]["typed_config"]["common_tls_context"]["tls_certificates"][0][
            "private_key"
        ] = {"inline_string": MARKER}
        new["metadata"]["filter_metadata"]["auth"]["token"] = MARKER

    out = written(cluster, change)
    assert isinstance(out, cluster_pb2.Cluster)
    inner = tls_pb2.UpstreamTlsContext.FromString(out.transport_socket.typed_config.value)
    assert inner.common_tls_context.tls_certificates[0].private_key.inline_string == MARKER
    assert inner.sni == "backend"
    assert dict(out.metadata.filter_metadata["auth"]) == {"token": MARKER, "zone": "a"}
    assert out.typed_extension_protocol_options["x"].value == other.value, "unchanged: the same bytes"


def test_a_list_masked_whole_is_cleared_and_json_that_does_not_fit_raises() -> None:
    cluster = cluster_pb2.Cluster(name="c")
    cluster.transport_socket_matches.add(name="m")
    out = written(cluster, lambda new: new.update(transport_socket_matches="[redacted:nested too deep]"))
    assert isinstance(out, cluster_pb2.Cluster) and len(out.transport_socket_matches) == 0 and out.name == "c"
    with pytest.raises(redact_writeback.UNMAPPABLE):
        written(cluster, lambda new: new.update(name="x", added="y"))
    with pytest.raises(redact_writeback.UNMAPPABLE):
        written(cluster, lambda new: new["transport_socket_matches"].__setitem__(0, MARKER))
