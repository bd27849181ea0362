"""NodeMemory: the node sent once per stream is attributed to every later message of that stream."""

from __future__ import annotations

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import nodes

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"


def _request(node_id: str = "") -> bytes:
    request = discovery_pb2.DiscoveryRequest(type_url="t")
    if node_id:
        request.node.id = node_id
    return request.SerializeToString()


def test_later_messages_get_the_first_node_and_say_so() -> None:
    memory = nodes.NodeMemory()
    first = memory.observe((1, 1), discovery.decode(ADS, model.Direction.REQUEST, _request("sidecar~1")))
    assert first.node is not None and not first.node_from_stream
    later = memory.observe((1, 1), discovery.decode(ADS, model.Direction.REQUEST, _request()))
    assert later.node == first.node and later.node_from_stream
    response = discovery.decode(
        ADS, model.Direction.RESPONSE, discovery_pb2.DiscoveryResponse().SerializeToString()
    )
    assert memory.observe((1, 1), response).node == first.node
    other_stream = memory.observe((1, 2), discovery.decode(ADS, model.Direction.REQUEST, _request()))
    assert other_stream.node is None
    assert memory.get((1, 1)) == first.node and len(memory) == 1
    memory.forget((1, 1))
    assert memory.get((1, 1)) is None and len(memory) == 0
