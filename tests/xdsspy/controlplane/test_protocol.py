"""Nonces, the bounded nonce-to-version memory, and node ids."""

from __future__ import annotations

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import protocol


def test_nonces_are_fresh_and_differ_between_instances() -> None:
    first, second = protocol.Nonces(), protocol.Nonces()
    made = [first() for _ in range(3)]
    assert len(set(made)) == 3
    assert second() != made[0]


def test_sent_versions_forget_the_oldest() -> None:
    sent = protocol.SentVersions(limit=2)
    for n in range(3):
        sent.add(f"n{n}", str(n))
    assert (sent.get("n0"), sent.get("n2")) == (None, "2")
    assert (sent.pop("n1"), sent.get("n1")) == ("1", None)


def test_node_id() -> None:
    assert protocol.node_id(discovery_pb2.DiscoveryRequest(node={"id": "a"})) == "a"
    assert protocol.node_id(discovery_pb2.DeltaDiscoveryRequest()) is None
