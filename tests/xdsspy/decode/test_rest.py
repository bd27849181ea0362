"""REST-JSON bodies decode into the same envelopes as gRPC; unknown resource types stay as JSON."""

from __future__ import annotations

import json

from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import json_format

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.decode import rest
from xdsspy.testing import xds

CDS = "/v3/discovery:clusters"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def test_request_body() -> None:
    body = json.dumps(
        {
            "versionInfo": "v1",
            "node": {"id": "n1", "cluster": "c", "metadata": {"A": "b"}},
            "resourceNames": ["x"],
            "typeUrl": CLUSTER,
            "responseNonce": "nonce",
            "errorDetail": {"code": 13, "message": "boom"},
        }
    )
    env = rest.decode_json(CDS, model.Direction.REQUEST, body.encode())
    assert env.kind == envelope.Kind.SOTW_REQUEST and env.problem == ""
    assert env.node is not None and env.node.metadata == {"A": "b"}
    assert (env.version_info, env.resource_names, env.response_nonce) == ("v1", ("x",), "nonce")
    assert env.error_detail == envelope.ErrorDetail(13, "boom")
    assert env.method.rest


def test_response_body_resources_match_the_grpc_encoding() -> None:
    response = xds.tcds_response(2)
    body = json_format.MessageToJson(response)
    env = discovery.decode(CDS, model.Direction.RESPONSE, body.encode())  # a REST path dispatches to rest
    grpc_env = discovery.decode(
        "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters",
        model.Direction.RESPONSE,
        response.SerializeToString(),
    )
    assert env.nonce == grpc_env.nonce and env.control_plane == grpc_env.control_plane
    assert [(e.name, e.type_url) for e in env.resources] == [(e.name, e.type_url) for e in grpc_env.resources]
    assert [resources.decode_entry(e).body for e in env.resources] == [
        resources.decode_entry(e).body for e in grpc_env.resources
    ]


def test_unknown_resource_types_are_kept_as_json() -> None:
    body = {
        "versionInfo": "1",
        "typeUrl": "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig",
        "resources": [
            {"@type": "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig", "name": "p", "concurrency": 2},
            json_format.MessageToDict(_packed_cluster()),
            "not an object",
        ],
    }
    env = rest.decode_json(CDS, model.Direction.RESPONSE, json.dumps(body))
    unknown, known, odd = env.resources
    assert unknown.encoding == envelope.Encoding.JSON and unknown.name == "p" and unknown.problem
    decoded = resources.decode_entry(unknown)
    assert decoded.status == resources.Status.JSON and decoded.body["concurrency"] == 2
    assert decoded.notes[0].kind == resources.NoteKind.JSON_PAYLOAD
    assert known.encoding == envelope.Encoding.PROTO and known.name == "c"
    assert odd.encoding == envelope.Encoding.JSON and "JSON str" in odd.problem


def _packed_cluster() -> object:
    from google.protobuf import any_pb2

    packed = any_pb2.Any()
    packed.Pack(cluster_pb2.Cluster(name="c"))
    return packed


def test_bad_bodies_are_reported() -> None:
    assert "304" in rest.decode_json(CDS, model.Direction.RESPONSE, b"").problem
    assert rest.decode_json(CDS, model.Direction.REQUEST, b"  ").problem == "empty body"
    assert rest.decode_json(CDS, model.Direction.RESPONSE, b"{nope").problem.startswith("not JSON")
    assert "not a JSON object" in rest.decode_json(CDS, model.Direction.RESPONSE, b"[1]").problem
    env = rest.decode_json(CDS, model.Direction.RESPONSE, json.dumps({"versionInfo": "1", "bogus": 1}))
    assert env.version_info == "1" and "unknown ones ignored" in env.problem
    env = rest.decode_json(CDS, model.Direction.RESPONSE, json.dumps({"resources": 5}))
    assert "'resources' is not a list" in env.problem


def test_csds_rest_body_gives_its_node() -> None:
    body = json.dumps({"node": {"id": "n7"}})
    env = rest.decode_json("/v3/discovery:client_status", model.Direction.REQUEST, body)
    assert env.kind == envelope.Kind.OTHER and env.node is not None and env.node.id == "n7"
    assert env.message_type == "envoy.service.status.v3.ClientStatusRequest"
