"""Envelope decoding from gRPC bytes: every kind, v2 transport, wrappers, and bad input."""

from __future__ import annotations

from envoy.api.v2 import discovery_pb2 as v2_discovery_pb2
from envoy.api.v2.core import base_pb2 as v2_base_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.load_stats.v3 import lrs_pb2
from google.protobuf import any_pb2

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.testing import xds

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
ADS_V2 = "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources"
REQ, RESP = model.Direction.REQUEST, model.Direction.RESPONSE
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def test_sotw_request_with_node_and_nack() -> None:
    request = discovery_pb2.DiscoveryRequest(
        version_info="v1", resource_names=["a", "b"], type_url=CLUSTER, response_nonce="n1"
    )
    request.node.id = "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local"
    request.node.cluster = "productpage.default"
    request.node.user_agent_name = "envoy"
    request.node.user_agent_build_version.version.major_number = 1
    request.node.user_agent_build_version.version.minor_number = 28
    request.node.metadata.update({"ISTIO_VERSION": "1.20.0", "LABELS": {"app": "x"}})
    request.node.locality.zone = "z1"
    request.node.client_features.append("envoy.lb.does_not_support_overprovisioning")
    request.error_detail.code = 3
    request.error_detail.message = "Proto constraint validation failed"
    request.error_detail.details.add().Pack(cluster_pb2.Cluster(name="bad"))
    env = discovery.decode(ADS, REQ, request.SerializeToString())
    assert env.kind == envelope.Kind.SOTW_REQUEST and env.problem == ""
    assert (env.version_info, env.response_nonce, env.resource_names) == ("v1", "n1", ("a", "b"))
    assert env.node is not None and env.node.user_agent_version == "1.28.0"
    assert env.node.metadata == {"ISTIO_VERSION": "1.20.0", "LABELS": {"app": "x"}}
    assert env.node.locality == {"zone": "z1"} and env.node.client_features
    assert env.error_detail == envelope.ErrorDetail(3, "Proto constraint validation failed", (CLUSTER,))
    assert env.error_detail.code_name == "INVALID_ARGUMENT"
    assert env.message_type == "envoy.service.discovery.v3.DiscoveryRequest"


def test_sotw_response_resources_are_named_and_unparsed() -> None:
    response = xds.tcds_response(3)
    response.canary = True
    response.resource_errors.add(resource_name={"name": "c9"}, error_detail={"code": 5, "message": "nope"})
    env = discovery.decode(ADS, RESP, response.SerializeToString())
    assert env.kind == envelope.Kind.SOTW_RESPONSE
    assert env.nonce == response.nonce and env.version == response.version_info and env.canary
    assert env.control_plane.startswith('{"Component":"istiod"')
    assert [e.name for e in env.resources] == [r.name for r in map(xds.tcluster, range(3))]
    assert env.resources[1].raw == response.resources[1].value and env.resources[1].index == 1
    assert env.resource_errors == (envelope.ResourceError("c9", envelope.ErrorDetail(5, "nope")),)


def test_sotw_resource_wrappers_ttl_and_heartbeats() -> None:
    response = discovery_pb2.DiscoveryResponse(type_url=CLUSTER, version_info="1")
    wrapper = discovery_pb2.Resource(name="c1", version="7")
    wrapper.resource.Pack(cluster_pb2.Cluster(name="c1"))
    wrapper.ttl.seconds = 30
    response.resources.add().Pack(wrapper)
    heartbeat = discovery_pb2.Resource(name="c2", version="7")
    heartbeat.ttl.FromMilliseconds(1500)
    response.resources.add().Pack(heartbeat)
    response.resources.add(type_url=wrapper_url(), value=b"\x0a\xff")  # a broken wrapper
    env = discovery.decode(ADS, RESP, response.SerializeToString())
    first, second, broken = env.resources
    assert (first.name, first.version, first.ttl_seconds, first.wrapped, first.heartbeat) == (
        "c1",
        "7",
        30.0,
        True,
        False,
    )
    assert first.type_url == CLUSTER and cluster_pb2.Cluster.FromString(first.raw).name == "c1"
    assert (second.name, second.heartbeat, second.ttl_seconds, second.raw) == ("c2", True, 1.5, b"")
    assert resources.decode_entry(second).status == resources.Status.HEARTBEAT
    assert broken.problem.startswith("Resource wrapper did not parse")


def wrapper_url() -> str:
    return "type.googleapis.com/envoy.service.discovery.v3.Resource"


def test_delta_request_and_response() -> None:
    request = discovery_pb2.DeltaDiscoveryRequest(
        type_url=CLUSTER,
        resource_names_subscribe=["a"],
        resource_names_unsubscribe=["b"],
        initial_resource_versions={"c": "3"},
        response_nonce="n",
    )
    env = discovery.decode(DELTA, REQ, request.SerializeToString())
    assert env.kind == envelope.Kind.DELTA_REQUEST
    assert (env.subscribe, env.unsubscribe, dict(env.initial_resource_versions)) == (
        ("a",),
        ("b",),
        {"c": "3"},
    )
    response = discovery_pb2.DeltaDiscoveryResponse(
        system_version_info="sv", type_url=CLUSTER, nonce="n2", removed_resources=["old"]
    )
    response.removed_resource_names.add(name="older")
    added = response.resources.add(version="v9", aliases=["alias"])  # name comes from the payload
    added.resource.Pack(cluster_pb2.Cluster(name="fresh"))
    response.resources.add(name="hb", version="v9", cache_control={"do_not_cache": True})
    env = discovery.decode(DELTA, RESP, response.SerializeToString())
    assert env.kind == envelope.Kind.DELTA_RESPONSE and env.system_version_info == "sv"
    assert env.removed_resources == ("old", "older")
    fresh, heartbeat = env.resources
    assert (fresh.name, fresh.version, fresh.aliases, fresh.wrapped) == ("fresh", "v9", ("alias",), True)
    assert heartbeat.heartbeat and heartbeat.type_url == CLUSTER and heartbeat.do_not_cache


def test_v2_transport_decodes_with_v3_classes_and_keeps_the_v2_build_version() -> None:
    request = v2_discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.api.v2.Cluster")
    request.node.CopyFrom(v2_base_pb2.Node(id="sidecar~1", build_version="abc/1.13.1/Clean/RELEASE"))
    env = discovery.decode(ADS_V2, REQ, request.SerializeToString())
    assert env.method.api_version == "v2" and env.message_type == "envoy.api.v2.DiscoveryRequest"
    assert env.node is not None and env.node.build_version == "abc/1.13.1/Clean/RELEASE"
    response = v2_discovery_pb2.DiscoveryResponse(type_url="type.googleapis.com/envoy.api.v2.Cluster")
    response.resources.add(type_url="type.googleapis.com/envoy.api.v2.Cluster", value=b"\x0a\x02c1")
    env = discovery.decode(ADS_V2, RESP, response.SerializeToString())
    assert env.resources[0].name == "c1" and env.problem == ""


def test_other_services_name_their_message_and_node() -> None:
    request = lrs_pb2.LoadStatsRequest()
    request.node.id = "n1"
    env = discovery.decode(
        "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats", REQ, request.SerializeToString()
    )
    assert env.kind == envelope.Kind.OTHER and env.node is not None and env.node.id == "n1"
    assert env.message_type == "envoy.service.load_stats.v3.LoadStatsRequest"
    decoded = resources.decode_message(env.message_type, request.SerializeToString())
    assert decoded.body["node"] == {"id": "n1"}


def test_unknown_methods_use_the_service_definition_when_there_is_one() -> None:
    env = discovery.decode("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", REQ, b"\x0a\x01d")
    assert (
        env.kind == envelope.Kind.UNKNOWN
        and env.message_type == "envoy.service.ratelimit.v3.RateLimitRequest"
    )
    env = discovery.decode("/no.Such/Method", RESP, b"\x00garbage")
    assert env.kind == envelope.Kind.UNKNOWN and env.message_type == "" and env.size == 8


def test_truncated_push_keeps_every_complete_resource() -> None:
    raw = xds.tcds_response(20).SerializeToString()
    cut = raw[: len(raw) * 3 // 4]
    env = discovery.decode(ADS, RESP, cut)
    assert "did not parse" in env.problem and "unreadable from byte" in env.problem
    assert 10 <= len(env.resources) < 20
    assert all(e.name.startswith("outbound|") for e in env.resources)
    assert env.version_info == "2024-01-01T00:00:00Z/1"  # field 1 comes before the resources


def test_garbage_and_wrong_message_types_are_reported_not_raised() -> None:
    env = discovery.decode(ADS, RESP, b"\xff\xff\xff\xff")
    assert env.problem and env.resources == ()
    listener_bytes = cluster_pb2.Cluster(
        name="x", type=cluster_pb2.Cluster.EDS, lb_policy=1
    ).SerializeToString()
    env = discovery.decode(
        ADS, REQ, listener_bytes + b"\x50\x01"
    )  # numbers 2, 10 are not DiscoveryRequest fields
    assert "not in envoy.service.discovery.v3.DiscoveryRequest" in env.problem
    env = discovery.decode(ADS, RESP, b"")
    assert env.problem == "" and env.resources == ()


def test_rejected_fields_are_counted_and_the_rest_kept() -> None:
    good = discovery_pb2.DiscoveryResponse(version_info="v", nonce="n").SerializeToString()
    bad_string = b"\x22\x02\xff\xfe"  # type_url (4) that is not UTF-8
    env = discovery.decode(ADS, RESP, good + bad_string)
    assert env.version_info == "v" and env.nonce == "n"
    assert "1 rejected" in env.problem


def test_a_100_mb_push_decodes_completely() -> None:
    one = any_pb2.Any()
    one.Pack(xds.tcluster(1))
    response = discovery_pb2.DiscoveryResponse(type_url=CLUSTER, version_info="big", nonce="n")
    count = 100_000_000 // len(one.SerializeToString()) + 1
    response.resources.extend([one] * count)
    raw = response.SerializeToString()
    assert len(raw) > 100_000_000
    del response
    env = discovery.decode(ADS, RESP, raw)
    assert env.problem == "" and len(env.resources) == count and env.size == len(raw)
    assert {e.name for e in env.resources} == {xds.tcluster(1).name}
    sample = resources.decode_entries(env.resources[:3] + env.resources[-3:])
    assert all(d.status == resources.Status.TYPED for d in sample)
