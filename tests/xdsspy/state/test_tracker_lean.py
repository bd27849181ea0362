"""A lean tracker (keep_bodies=False, responses read as names and digests) agrees with the full one."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.record import reader
from xdsspy.state import tracker
from xdsspy.testing import factories as f
from xdsspy.testing import xds

RECORDINGS = sorted((pathlib.Path(__file__).parents[3] / "recordings").glob("*.xdsspy"))
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
REQ, RESP = model.Direction.REQUEST, model.Direction.RESPONSE


def _lean(step: tracker.Step) -> tuple[Any, ...]:
    env = step.envelope
    if env is not None:
        env = dataclasses.replace(env, resources=())
    return (dataclasses.replace(step, envelope=env),)


def _change(change: tracker.Change) -> tracker.Change:
    if change.value is None:
        return change
    return dataclasses.replace(change, value=dataclasses.replace(change.value, entry=None))


def _both(events: list[model.Event]) -> set[str]:
    full, lean = tracker.Tracker(), tracker.Tracker(keep_bodies=False)
    rules = set()
    for event in events:
        step, changes = full.apply(event)
        lean_step, lean_changes = lean.apply(event)
        assert _lean(lean_step) == _lean(step), event.seq
        assert lean_changes == [_change(c) for c in changes], event.seq
        rules.add(step.verdict.rule if step.verdict else "")
    return rules


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_the_sample_recordings_fold_the_same_lean(path: pathlib.Path) -> None:
    with reader.RecordingReader(path) as r:
        _both(list(r.events()))


def _conversation(*responses: bytes) -> list[model.Event]:
    request = discovery_pb2.DiscoveryRequest(type_url=CDS)
    request.node.id = "envoy-1"
    events: list[model.Event] = [f.tmessage(request.SerializeToString(), direction=REQ, seq=1, method=f.ADS)]
    for raw in responses:
        events.append(f.tmessage(raw, direction=RESP, seq=len(events) + 1, method=f.ADS))
        ack = discovery_pb2.DiscoveryRequest(type_url=CDS, response_nonce=f"n{len(events)}")
        events.append(f.tmessage(ack.SerializeToString(), direction=REQ, seq=len(events) + 1, method=f.ADS))
    return events


def _response(*clusters: str, nonce: str = "n2") -> discovery_pb2.DiscoveryResponse:
    response = discovery_pb2.DiscoveryResponse(type_url=CDS, version_info="v", nonce=nonce)
    for name in clusters:
        response.resources.add().Pack(cluster_pb2.Cluster(name=name))
    return response


def test_pushes_with_wrappers_errors_repeats_and_a_torn_tail_fold_the_same_lean() -> None:
    plain = _response("a", "b", "a")  # a name twice: the later body wins in both
    plain.control_plane.identifier = "istiod-1"
    plain.resource_errors.add(resource_name={"name": "c"}, error_detail={"code": 3, "message": "no"})
    wrapped = _response("a", nonce="n4")
    wrapper = discovery_pb2.Resource(name="b", version="7")
    wrapper.resource.Pack(cluster_pb2.Cluster(name="b"))
    wrapper.ttl.seconds = 30
    wrapped.resources.add().Pack(wrapper)
    big = xds.tcds_response(20).SerializeToString()
    rules = _both(
        _conversation(plain.SerializeToString(), wrapped.SerializeToString(), big[: len(big) * 3 // 4])
    )
    assert not any("not xDS" in rule for rule in rules), rules  # the pushes were read as xDS


def test_decode_carried_names_and_digests_what_decode_apart_names() -> None:
    raw = xds.tcds_response(5).SerializeToString()
    env, resources, carried = discovery.decode_carried(f.ADS, RESP, raw)
    full, entries = discovery.decode_apart(f.ADS, RESP, raw)
    assert resources == () and carried is not None
    names, digests, heartbeats, versions = carried
    assert names == tuple(e.name for e in entries)
    assert digests == {e.name: e.digest for e in entries}
    assert (heartbeats, versions) == ((), {})
    assert (env.nonce, env.version_info, env.control_plane) == (
        full.nonce,
        full.version_info,
        full.control_plane,
    )


def test_decode_carried_leaves_wrapped_pushes_and_other_messages_to_decode_apart() -> None:
    wrapped = _response("a")
    wrapped.resources.add().Pack(discovery_pb2.Resource(name="b", version="7"))
    _, resources, carried = discovery.decode_carried(f.ADS, RESP, wrapped.SerializeToString())
    assert carried is None and [e.name for e in resources] == ["a", "b"]
    request = discovery_pb2.DiscoveryRequest(type_url=CDS, resource_names=["a"])
    env, resources, carried = discovery.decode_carried(f.ADS, REQ, request.SerializeToString())
    assert carried is None and env.resource_names == ("a",)
