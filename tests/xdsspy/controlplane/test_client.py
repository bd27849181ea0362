"""The plain ADS client: responses in order, and a clear error when the stream ends instead."""

from __future__ import annotations

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import client
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server


def test_receive_then_end(cp: server.ControlPlane) -> None:
    cp.set_resources(res.LISTENER, [])
    with client.AdsClient(cp.address) as stream:
        stream.send(discovery_pb2.DiscoveryRequest(type_url=res.LISTENER))
        assert stream.receive().version_info == "1"
        stream.done_writing()
        assert stream.wait_end() is None
        with pytest.raises(client.StreamEnded, match="ended instead of responding: status OK"):
            stream.receive()


def test_receive_times_out_clearly(cp: server.ControlPlane) -> None:
    with client.AdsClient(cp.address) as stream:
        stream.send(discovery_pb2.DiscoveryRequest(type_url=res.LISTENER))  # not set: no answer
        with pytest.raises(TimeoutError, match=r"no response on .*StreamAggregatedResources within 0\.1 s"):
            stream.receive(timeout=0.1)
