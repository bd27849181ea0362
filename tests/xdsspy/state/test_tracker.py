"""The per-node fold: ACK makes state, NACK marks rejects beside it, heartbeats delete nothing."""

from __future__ import annotations

from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import duration_pb2

from xdsspy import model
from xdsspy.state import tracker
from xdsspy.testing import factories as f

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"


class Feed:
    def __init__(self, method: str = f.ADS) -> None:
        self.tracker = tracker.Tracker()
        self.seq = 0
        self.method = method

    def send(self, message: Any, direction: model.Direction) -> tracker.Step:
        self.seq += 1
        event = f.tmessage(message.SerializeToString(), direction=direction, seq=self.seq)
        return self.tracker.apply(model.MessageSeen(**{**_fields(event), "method": self.method}))[0]

    def names(self, table: tracker.State) -> dict[str, str]:
        return {n: s.version for n, s in table.get("envoy-1", {}).get(CDS, {}).items()}


def cluster(name: str, timeout: int = 1) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(cluster_pb2.Cluster(name=name, connect_timeout=duration_pb2.Duration(seconds=timeout)))
    return packed


def heartbeat(name: str) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(discovery_pb2.Resource(name=name, version="1"))
    return packed


def test_ack_applies_nack_rejects_only_what_changed_and_heartbeats_keep() -> None:
    feed = Feed()
    req, resp = model.Direction.REQUEST, model.Direction.RESPONSE
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, node=base_pb2.Node(id="envoy-1")), req)
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="1", nonce="n1", resources=[cluster("a"), cluster("b")]
        ),
        resp,
    )
    assert feed.names(feed.tracker.accepted) == {}, "a response is only a proposal until Envoy ACKs it"
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, version_info="1", response_nonce="n1"), req)
    assert feed.names(feed.tracker.accepted) == {"a": "1", "b": "1"}
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="2", nonce="n2", resources=[heartbeat("a"), cluster("b", 2)]
        ),
        resp,
    )
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, version_info="2", response_nonce="n2"), req)
    assert feed.names(feed.tracker.accepted) == {"a": "1", "b": "2"}
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="3", nonce="n3", resources=[cluster("b", 2), cluster("c", -1)]
        ),
        resp,
    )
    step = feed.send(
        discovery_pb2.DiscoveryRequest(
            type_url=CDS,
            version_info="2",
            response_nonce="n3",
            error_detail={"message": "c: Invalid duration"},
        ),
        req,
    )
    assert step.verdict is not None and step.verdict.is_nack and step.node == "envoy-1"
    assert feed.names(feed.tracker.accepted) == {"a": "1", "b": "2"}
    rejected = feed.tracker.rejected["envoy-1"][CDS]
    assert list(rejected) == ["c"] and rejected["c"].status == tracker.Status.NACKED
    assert "Invalid duration" in rejected["c"].error
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="4", nonce="n4", resources=[cluster("b", 2)]
        ),
        resp,
    )
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, version_info="4", response_nonce="n4"), req)
    assert feed.names(feed.tracker.accepted) == {"b": "2"}, "absent from a full-state push: deleted"
    assert feed.names(feed.tracker.rejected) == {}, "the culprit withdrawn in an accepted set: gone"


def test_close_step_names_the_status() -> None:
    step, changes = tracker.Tracker().apply(f.tclose(code=14, seq=1))
    assert changes == [] and step.text.startswith("UNAVAILABLE 'boom'")


def _fields(event: object) -> dict[str, object]:
    return {k: getattr(event, k) for k in event.__dataclass_fields__}  # type: ignore[attr-defined]


def test_a_rejected_resource_stays_rejected_while_the_control_plane_still_sends_it() -> None:
    feed = Feed()
    req, resp = model.Direction.REQUEST, model.Direction.RESPONSE
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, node=base_pb2.Node(id="envoy-1")), req)
    feed.send(
        discovery_pb2.DiscoveryResponse(type_url=CDS, version_info="1", nonce="n1", resources=[cluster("a")]),
        resp,
    )
    feed.send(discovery_pb2.DiscoveryRequest(type_url=CDS, version_info="1", response_nonce="n1"), req)
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="2", nonce="n2", resources=[cluster("a"), cluster("c", -1)]
        ),
        resp,
    )
    nack = {"message": "c: Invalid duration"}
    feed.send(
        discovery_pb2.DiscoveryRequest(
            type_url=CDS, version_info="1", response_nonce="n2", error_detail=nack
        ),
        req,
    )
    assert feed.names(feed.tracker.rejected) == {"c": "2"}
    feed.send(
        discovery_pb2.DiscoveryResponse(
            type_url=CDS, version_info="3", nonce="n3", resources=[cluster("a", 2), cluster("c", -1)]
        ),
        resp,
    )
    feed.send(
        discovery_pb2.DiscoveryRequest(
            type_url=CDS, version_info="1", response_nonce="n3", error_detail=nack
        ),
        req,
    )
    assert feed.names(feed.tracker.rejected) == {"a": "3", "c": "3"}, "a's update came with it: rejected too"
    assert feed.names(feed.tracker.accepted) == {"a": "1"}


def test_a_delta_removal_of_a_rejected_resource_withdraws_it() -> None:
    feed = Feed(DELTA)
    req, resp = model.Direction.REQUEST, model.Direction.RESPONSE
    feed.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CDS, node=base_pb2.Node(id="envoy-1")), req)
    bad = discovery_pb2.Resource(name="c", version="v1", resource=cluster("c", -1))
    feed.send(discovery_pb2.DeltaDiscoveryResponse(type_url=CDS, nonce="d1", resources=[bad]), resp)
    nack = {"message": "c: Invalid duration"}
    feed.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CDS, response_nonce="d1", error_detail=nack), req)
    assert feed.names(feed.tracker.rejected) == {"c": "v1"}
    ok = discovery_pb2.Resource(name="a", version="v1", resource=cluster("a"))
    feed.send(discovery_pb2.DeltaDiscoveryResponse(type_url=CDS, nonce="d2", resources=[ok]), resp)
    feed.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CDS, response_nonce="d2"), req)
    assert feed.names(feed.tracker.rejected) == {"c": "v1"}, "a delta update leaves the others as they were"
    feed.send(discovery_pb2.DeltaDiscoveryResponse(type_url=CDS, nonce="d3", removed_resources=["c"]), resp)
    feed.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CDS, response_nonce="d3"), req)
    assert feed.names(feed.tracker.rejected) == {} and feed.names(feed.tracker.accepted) == {"a": "v1"}
