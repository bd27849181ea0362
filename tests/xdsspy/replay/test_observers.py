"""What a replay sees of the fresh Envoy: REST polls read as ACKs and NACKs; a second Envoy told apart."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import client as client_mod
from xdsspy.controlplane import resources as cp
from xdsspy.controlplane import rest as rest_cp
from xdsspy.controlplane import server
from xdsspy.replay import observers

CDS = cp.CLUSTER
CLUSTERS = "/v3/discovery:clusters"


@pytest.fixture
def rest() -> Iterator[rest_cp.RestControlPlane]:
    with rest_cp.RestControlPlane() as started:
        yield started


def poll(control_plane: rest_cp.RestControlPlane, version: str) -> int:
    body = json.dumps({"node": {"id": "poller"}, "version_info": version}).encode()
    request = urllib.request.Request(control_plane.url + CLUSTERS, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def entries(*names: str) -> list[tuple[str, bytes]]:
    return [(n, cp.static_cluster(n, [("127.0.0.1", 1)]).SerializeToString()) for n in names]


def test_rest_polls_say_sent_acked_and_nacked(rest: rest_cp.RestControlPlane) -> None:
    observer = observers.RestObserver(rest)
    assert observer.status(CDS, "1").kind == observers.Kind.NOT_ASKED and observer.fresh_node() is None
    observer.serve(CDS, entries("a"), "1")
    assert poll(rest, "") == 200  # sent
    assert observer.status(CDS, "1").kind == observers.Kind.PENDING  # until the next poll says
    assert poll(rest, "1") == 304
    assert observer.status(CDS, "1") == observers.Status(
        observers.Kind.ANSWERED, observers.plan_mod.Answer("ack")
    )
    observer.serve(CDS, entries("a", "bad"), "2")
    assert poll(rest, "1") == 200
    assert poll(rest, "1") == 200  # still version 1: Envoy rejected 2
    status = observer.status(CDS, "2")
    assert status.kind == observers.Kind.ANSWERED and status.answer is not None and status.answer.is_nack
    assert observer.fresh_node() == "REST poller" and observer.reconnects() == 0


def test_the_first_envoy_is_the_fresh_one_and_others_are_named() -> None:
    with server.ControlPlane("127.0.0.1:0", keep_messages=False) as control_plane:
        observer = observers.GrpcObserver(control_plane)
        with (
            client_mod.AdsClient(control_plane.address) as one,
            client_mod.AdsClient(control_plane.address) as two,
        ):
            for client, node in ((one, "first"), (two, "second")):
                hello = discovery_pb2.DiscoveryRequest(type_url=CDS)
                hello.node.id = node
                client.send(hello)
                control_plane.wait_for_stream(node_id=node)
            assert observer.fresh_node() == "first" and observer.others() == ["second"]
            assert (
                observer.wait(lambda: None, 0.01) is None
            )  # a wait that finds nothing ends, it does not raise
