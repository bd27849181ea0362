"""The ADS service's stream handling: how streams end, bad requests, pushes to every open stream."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import ads
from xdsspy.controlplane import client
from xdsspy.controlplane import journal
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server

Connect = Callable[..., client.AdsClient]


def test_half_close_and_cancel_are_told_apart(cp: server.ControlPlane, connect: Connect) -> None:
    finished = connect(cp.address)
    finished.send(discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER))
    finished.done_writing()
    assert finished.wait_end() is None  # the server answers a half-close with status OK
    first = cp.wait_for_stream()
    cancelled = connect(cp.address, ads.DELTA_METHOD)
    cancelled.send(discovery_pb2.DeltaDiscoveryRequest(type_url=res.CLUSTER))
    second = cp.wait_for_stream(after=first.opened_seq)
    cancelled.cancel()
    assert cp.wait_for_stream_end(first.id).end == journal.StreamEnd.CLIENT_DONE
    assert cp.wait_for_stream_end(second.id) == journal.StreamInfo(
        second.id, ads.DELTA_METHOD, second.peer, second.opened_seq, None, journal.StreamEnd.CANCELLED
    )


def test_unparsable_request_is_rejected(cp: server.ControlPlane, connect: Connect) -> None:
    stream = connect(cp.address)
    stream.send_raw(b"\xff\xff\xff")
    error = stream.wait_end()
    assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert cp.wait_for_stream_end(cp.streams[0].id).end == journal.StreamEnd.REJECTED
    assert cp.messages()[0].raw == b"\xff\xff\xff"  # kept as received all the same


def test_a_push_reaches_every_open_stream(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.LISTENER, [])
    sotw_stream = connect(cp.address)
    delta_stream = connect(cp.address, ads.DELTA_METHOD)
    sotw_stream.send(discovery_pb2.DiscoveryRequest(type_url=res.LISTENER))
    delta_stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=res.LISTENER))
    sotw_stream.receive()
    delta_stream.receive()
    cp.set_resources(res.LISTENER, [res.listener("l", route_config_name="r")])
    assert sotw_stream.receive().version_info == "2"
    assert [r.name for r in delta_stream.receive().resources] == ["l"]


def test_other_methods_are_unimplemented(cp: server.ControlPlane) -> None:
    with grpc.insecure_channel(cp.address) as channel:
        call = channel.unary_unary("/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters")
        try:
            call(b"", timeout=10)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNIMPLEMENTED
        else:
            raise AssertionError("FetchClusters should not be served")
