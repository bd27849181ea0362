"""Protocol verdicts on hand-made edge cases; real Envoy traffic is covered in test_timeline.py."""

from __future__ import annotations

from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import duration_pb2

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.state import protocol

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
V = protocol.VerdictKind


class Conversation:
    """Feeds messages through one StreamProtocol with increasing seq and time."""

    def __init__(self, method: str = ADS) -> None:
        self.method = method
        self.stream = protocol.StreamProtocol()
        self.seq = 0

    def send(self, message: Any, direction: model.Direction) -> protocol.Verdict:
        self.seq += 1
        decoded = discovery.decode(self.method, direction, message.SerializeToString())
        return self.stream.observe(self.seq, self.seq * 1_000_000, decoded)

    def request(self, **fields: Any) -> protocol.Verdict:
        cls = discovery_pb2.DiscoveryRequest if self.method == ADS else discovery_pb2.DeltaDiscoveryRequest
        error = fields.pop("error", None)
        message = cls(**fields)
        if error:
            message.error_detail.code = 13
            message.error_detail.message = error
        return self.send(message, model.Direction.REQUEST)

    def response(self, **fields: Any) -> protocol.Verdict:
        cls = discovery_pb2.DiscoveryResponse if self.method == ADS else discovery_pb2.DeltaDiscoveryResponse
        return self.send(cls(**fields), model.Direction.RESPONSE)


def clusters(*names: str, timeout: int = 1) -> list[any_pb2.Any]:
    out = []
    for name in names:
        packed = any_pb2.Any()
        packed.Pack(cluster_pb2.Cluster(name=name, connect_timeout=duration_pb2.Duration(seconds=timeout)))
        out.append(packed)
    return out


def test_initial_ack_and_legacy_wildcard() -> None:
    c = Conversation()
    first = c.request(type_url=CDS)
    assert first.kind == V.INITIAL and first.wildcard == "legacy"
    push = c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a", "b"))
    assert push.kind == V.PUSH and push.added == ("a", "b")
    ack = c.request(type_url=CDS, version_info="1", response_nonce="n1")
    assert ack.kind == V.ACK and ack.answers_seq == 2 and ack.latency_ms == 1.0


def test_nack_by_error_detail_names_the_resource_the_error_mentions() -> None:
    c = Conversation()
    c.request(type_url=CDS)
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a"))
    c.request(type_url=CDS, version_info="1", response_nonce="n1")
    c.response(type_url=CDS, version_info="2", nonce="n2", resources=clusters("a", "bad"))
    nack = c.request(
        type_url=CDS, version_info="1", response_nonce="n2", error="cluster bad: Invalid duration"
    )
    assert nack.kind == V.NACK and nack.rule == "error_detail present"
    assert nack.nacked_names == ("bad",) and nack.rejected_names == ("a", "bad")
    assert nack.answers_seq == 4


def test_a_rejected_push_served_again_is_the_same_change_to_what_envoy_holds() -> None:
    """After a NACK Envoy keeps what it had, so the control plane sending the rejected set again
    (Istio's next full push, say) still adds the culprit: not "+0 ~0 -0"."""
    c = Conversation()
    c.request(type_url=CDS)
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a"))
    c.request(type_url=CDS, version_info="1", response_nonce="n1")
    first = c.response(type_url=CDS, version_info="2", nonce="n2", resources=clusters("a", "bad"))
    c.request(type_url=CDS, version_info="1", response_nonce="n2", error="cluster bad: Invalid duration")
    again = c.response(type_url=CDS, version_info="2", nonce="n3", resources=clusters("a", "bad"))
    assert first.added == again.added == ("bad",)
    assert (again.updated, again.removed, again.unchanged) == ((), (), 1)
    c.request(type_url=CDS, version_info="2", response_nonce="n3")  # accepted this time
    same = c.response(type_url=CDS, version_info="2", nonce="n4", resources=clusters("a", "bad"))
    assert (same.added, same.unchanged) == ((), 2)


def test_a_rejected_delta_update_served_again_is_still_an_update() -> None:
    c = Conversation(DELTA)
    c.request(type_url=CDS)
    ok = discovery_pb2.Resource(name="a", version="v1", resource=clusters("a")[0])
    bad = discovery_pb2.Resource(name="bad", version="v1", resource=clusters("bad", timeout=-1)[0])
    c.response(type_url=CDS, nonce="d1", resources=[ok])
    c.request(type_url=CDS, response_nonce="d1")
    c.response(type_url=CDS, nonce="d2", resources=[bad])
    c.request(type_url=CDS, response_nonce="d2", error="cluster bad: Invalid duration")
    again = c.response(type_url=CDS, nonce="d3", resources=[bad])
    assert again.added == ("bad",)


def test_a_nack_of_an_older_response_does_not_undo_a_newer_one() -> None:
    c = Conversation()
    c.request(type_url=CDS)
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a"))
    c.response(type_url=CDS, version_info="2", nonce="n2", resources=clusters("a", "b"))
    late = c.request(type_url=CDS, version_info="", response_nonce="n1", error="cluster a: bad")
    assert late.kind == V.NACK and "not the newest" in late.rule
    third = c.response(type_url=CDS, version_info="3", nonce="n3", resources=clusters("a", "b", "c"))
    assert third.added == ("c",) and third.unchanged == 2


def test_nack_without_error_detail_falls_back_to_the_version_rule() -> None:
    c = Conversation()
    c.request(type_url=CDS)
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a"))
    c.request(type_url=CDS, version_info="1", response_nonce="n1")
    c.response(type_url=CDS, version_info="2", nonce="n2", resources=clusters("a", "b"))
    nack = c.request(type_url=CDS, version_info="1", response_nonce="n2")  # gRPC-Go before #3969
    assert nack.kind == V.NACK and "fallback" in nack.rule


def test_stale_nonce() -> None:
    c = Conversation()
    c.request(type_url=EDS, resource_names=["a"])
    c.response(type_url=EDS, version_info="1", nonce="n1")
    c.response(type_url=EDS, version_info="2", nonce="n2")
    stale = c.request(type_url=EDS, version_info="1", resource_names=["a"], response_nonce="n1")
    assert stale.kind == V.STALE and "servers ignore it" in stale.rule
    assert c.request(type_url=EDS, version_info="2", resource_names=["a"], response_nonce="n2").kind == V.ACK


def test_unknown_nonce_when_the_recording_starts_mid_stream() -> None:
    c = Conversation()
    assert c.request(type_url=CDS, version_info="7", response_nonce="before-us").kind == V.UNKNOWN_NONCE


def test_subscription_change_and_wildcard_switch() -> None:
    c = Conversation()
    assert c.request(type_url=CDS).wildcard == "legacy"
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a"))
    c.request(type_url=CDS, version_info="1", response_nonce="n1")
    change = c.request(type_url=CDS, version_info="1", resource_names=["a"], response_nonce="n1")
    assert change.kind == V.SUBSCRIPTION and change.subscribed == ("a",)
    explicit = c.request(type_url=CDS, version_info="1", resource_names=["*", "a"], response_nonce="n1")
    assert explicit.wildcard == "explicit" and explicit.subscribed == ("*",)
    empty = c.request(type_url=CDS, version_info="1", response_nonce="n1")
    assert empty.wildcard == "" and set(empty.unsubscribed) == {"*", "a"}  # no longer legacy: unsubscribe all


def test_sotw_full_state_absence_is_deletion_but_not_for_eds() -> None:
    c = Conversation()
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a", "b"))
    push = c.response(type_url=CDS, version_info="2", nonce="n2", resources=clusters("b"))
    assert push.removed == ("a",) and push.unchanged == 1
    empty = c.response(type_url=CDS, version_info="3", nonce="n3")
    assert empty.removed == ("b",)
    eds = c.response(type_url=EDS, version_info="1", nonce="e1")
    assert eds.removed == () and "not full-state" in eds.rule


def test_delta_unsubscribe_removal_and_reconnect() -> None:
    c = Conversation(DELTA)
    initial = c.request(type_url=CDS)
    assert initial.kind == V.INITIAL and initial.wildcard == "legacy"
    resource = discovery_pb2.Resource(name="a", version="v1", resource=clusters("a")[0])
    c.response(type_url=CDS, nonce="d1", resources=[resource])
    assert c.request(type_url=CDS, response_nonce="d1").kind == V.ACK
    assert c.request(type_url=EDS, resource_names_subscribe=["x"]).kind == V.INITIAL
    unsub = c.request(type_url=EDS, resource_names_unsubscribe=["x"])
    assert unsub.kind == V.SUBSCRIPTION and unsub.unsubscribed == ("x",)
    removal = c.response(type_url=CDS, nonce="d2", removed_resources=["a"])
    assert removal.removed == ("a",)
    again = Conversation(DELTA).request(type_url=CDS, initial_resource_versions={"a": "v1"})
    assert again.kind == V.RECONNECT


def test_ttl_heartbeat_is_not_a_change() -> None:
    c = Conversation(DELTA)
    c.request(type_url=CDS)
    c.response(
        type_url=CDS,
        nonce="d1",
        resources=[discovery_pb2.Resource(name="a", version="v1", resource=clusters("a")[0])],
    )
    beat = c.response(type_url=CDS, nonce="d2", resources=[discovery_pb2.Resource(name="a", version="v1")])
    assert beat.kind == V.HEARTBEAT and beat.heartbeats == ("a",)


def test_non_xds_methods_are_labelled_other() -> None:
    c = Conversation("/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats")
    decoded = discovery.decode(c.method, model.Direction.REQUEST, b"")
    assert c.stream.observe(1, 1, decoded).kind == V.OTHER


def test_sotw_heartbeat_in_a_full_state_type_keeps_the_resource() -> None:
    c = Conversation()
    c.request(type_url=CDS)
    c.response(type_url=CDS, version_info="1", nonce="n1", resources=clusters("a", "b"))
    beat = any_pb2.Any()
    beat.Pack(discovery_pb2.Resource(name="a", version="1"))
    mixed = c.response(type_url=CDS, version_info="1", nonce="n2", resources=[beat, clusters("b")[0]])
    assert mixed.removed == () and mixed.heartbeats == ("a",)
    beat_b = any_pb2.Any()
    beat_b.Pack(discovery_pb2.Resource(name="b", version="1"))
    only = c.response(type_url=CDS, version_info="1", nonce="n3", resources=[beat, beat_b])
    assert only.kind == V.HEARTBEAT
    later = c.response(type_url=CDS, version_info="2", nonce="n4", resources=clusters("b"))
    assert later.removed == ("a",)
