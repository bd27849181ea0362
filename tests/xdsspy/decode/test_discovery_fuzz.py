"""Hostile discovery messages for the envelope decoder: garbage and mutated real SotW, Delta and other bytes.

Whatever the method and the bytes, `decode`, `decode_apart` and `decode_carried` give an Envelope
(its `problem` saying what was wrong) whose summary is JSON-ready and whose resources decode: never an
exception (issue 14, point 5).
"""

from __future__ import annotations

import json

from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.load_stats.v3 import lrs_pb2
from google.protobuf import any_pb2
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.testing import xds

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/"
METHODS = [
    ADS + "StreamAggregatedResources",
    ADS + "DeltaAggregatedResources",
    "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters",
    "/envoy.api.v2.ClusterDiscoveryService/StreamClusters",
    "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources",
    "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats",
    "/envoy.service.status.v3.ClientStatusDiscoveryService/StreamClientStatus",
    "/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/Nope",  # a service it knows, a method it does not
    "/com.example.Unknown/Method",
    "/v3/discovery:clusters",  # REST: the bytes are read as JSON
    "",
    "no-slashes",
    "//",
]


def _messages() -> list[bytes]:
    request = discovery_pb2.DiscoveryRequest(
        version_info="1", type_url=xds.CLUSTER_TYPE_URL, response_nonce="n1", resource_names=["a", "b"]
    )
    node = request.node
    node.id, node.cluster, node.user_agent_name = (
        "sidecar~10.0.0.1~a.ns~ns.svc.cluster.local",
        "a.ns",
        "envoy",
    )
    node.user_agent_build_version.version.major_number = 1
    node.metadata.update({"ISTIO_VERSION": "1.2x", "LABELS": {"app": "a"}, "N": [1, 2.5, None, True]})
    node.locality.region, node.client_features[:] = "eu", ["envoy.lb.does_not_support_overprovisioning"]
    request.error_detail.code, request.error_detail.message = 3, "rejected"
    request.error_detail.details.add(type_url="type.googleapis.com/google.rpc.BadRequest", value=b"\x0a\x00")
    response = xds.tcds_response(2)
    wrapper = discovery_pb2.Resource(name="wrapped", version="7", aliases=["x"])
    wrapper.resource.Pack(xds.tcluster(9))
    wrapper.ttl.seconds = 30
    wrapper.cache_control.do_not_cache = True
    response.resources.append(
        any_pb2.Any(
            type_url="type.googleapis.com/" + discovery.RESOURCE_WRAPPER, value=wrapper.SerializeToString()
        )
    )
    error = response.resource_errors.add()
    error.resource_name.name, error.error_detail.code = "c", 5
    delta_request = discovery_pb2.DeltaDiscoveryRequest(
        type_url=xds.CLUSTER_TYPE_URL,
        resource_names_subscribe=["a"],
        resource_names_unsubscribe=["b"],
        initial_resource_versions={"a": "1"},
        response_nonce="n",
    )
    delta_request.node.CopyFrom(node)
    delta_response = discovery_pb2.DeltaDiscoveryResponse(
        system_version_info="2", type_url=xds.CLUSTER_TYPE_URL, nonce="n", removed_resources=["gone"]
    )
    delta_response.resources.append(wrapper)
    delta_response.resources.add(name="heartbeat", version="1")
    delta_response.removed_resource_names.add(name="gone too")
    lrs = lrs_pb2.LoadStatsRequest()
    lrs.node.CopyFrom(node)
    lrs.cluster_stats.add(cluster_name="c", total_dropped_requests=3)
    return [m.SerializeToString() for m in (request, response, delta_request, delta_response, lrs)] + [
        b'{"version_info":"1","resources":[{"@type":"x"}],"type_url":"t"}'
    ]


MESSAGES = _messages()


def _check(method: str, direction: model.Direction, raw: bytes) -> None:
    decoded = discovery.decode(method, direction, raw)
    assert isinstance(decoded, envelope.Envelope) and decoded.size == len(raw)
    json.dumps(decoded.summary())
    assert decoded.version == (decoded.version_info or decoded.system_version_info)
    for decoded_resource in resources.decode_entries(decoded.resources):
        json.dumps(decoded_resource.body)
    apart, entries = discovery.decode_apart(method, direction, raw, stream_node=envelope.Node(id="n"))
    json.dumps(apart.summary())
    assert len(entries) == len(decoded.resources)
    carried_envelope, _, carried = discovery.decode_carried(method, direction, raw)
    json.dumps(carried_envelope.summary())
    if carried is not None:
        names, digests, _, _ = carried
        assert set(digests) <= set(names)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(METHODS), direction=st.sampled_from(model.Direction), raw=st.binary(max_size=200)
)
def test_arbitrary_bytes_on_any_method(method: str, direction: model.Direction, raw: bytes) -> None:
    _check(method, direction, raw)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    direction=st.sampled_from(model.Direction),
    which=st.integers(0, len(MESSAGES) - 1),
    flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), max_size=6),
    insert=st.binary(max_size=16),
    at=st.integers(0, 1 << 16),
    cut=st.integers(0, 1 << 16),
)
def test_flipped_spliced_and_cut_real_messages_on_any_method(
    method: str,
    direction: model.Direction,
    which: int,
    flips: list[tuple[int, int]],
    insert: bytes,
    at: int,
    cut: int,
) -> None:
    data = bytearray(MESSAGES[which])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    at %= len(data) + 1
    data[at:at] = insert
    _check(method, direction, bytes(data[: cut % (len(data) + 1)]))


def test_the_unmutated_messages_decode_cleanly() -> None:
    kinds = [
        discovery.decode(method, direction, raw)
        for method, direction, raw in zip(
            [METHODS[0], METHODS[0], METHODS[1], METHODS[1], METHODS[5]],
            [model.Direction.REQUEST, model.Direction.RESPONSE] * 2 + [model.Direction.REQUEST],
            MESSAGES,
            strict=False,
        )
    ]
    assert [k.problem for k in kinds] == [""] * 5
    assert kinds[4].node is not None and kinds[4].node.id.startswith("sidecar~")
