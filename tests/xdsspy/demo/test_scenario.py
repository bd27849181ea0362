"""The demo's configuration: Istio's shapes, one change a step, a rejected push early and once a minute."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import json_format

from xdsspy.controlplane import resources as res
from xdsspy.demo import scenario


def _names(step: int, type_url: str, *, rest: bool = False) -> list[str]:
    return sorted(res.name_of(m) for m in scenario.state(step, rest=rest)[type_url])


def test_the_first_state_is_a_sidecars_whole_configuration() -> None:
    first = scenario.state(0)
    assert set(first) == set(scenario.TYPES)
    assert "outbound|9080|v2|reviews.default.svc.cluster.local" in _names(0, res.CLUSTER)
    assert {"BlackHoleCluster", "PassthroughCluster", "inbound|9080||"} <= set(_names(0, res.CLUSTER))
    assert _names(0, res.LISTENER) == ["0.0.0.0_9080", "virtualInbound"]
    assert _names(0, scenario.SECRET) == ["ROOTCA", "default"]
    reviews = next(c for c in first[res.CLUSTER] if c.name == scenario.cluster_name("reviews", "v1"))
    tls = json_format.MessageToDict(reviews, preserving_proto_field_name=True)["transport_socket_matches"][0]
    assert tls["name"] == "tlsMode-istio" and "tlsCertificateSdsSecretConfigs" in json_format.MessageToJson(
        reviews
    )


def test_every_step_changes_something_and_rejected_pushes_come_early_and_once_a_minute() -> None:
    previous = scenario.state(0)
    for step in range(1, 45):
        now = scenario.state(step)
        assert now != previous, step
        previous = now
    bad = [s for s in range(60) if scenario.is_bad(s)]
    assert bad == [4, 24, 44] and scenario.FIRST_BAD_STEP * 3 < 20  # seen within a 20 s run at 3 s a step
    broken = next(c for c in scenario.state(4)[res.CLUSTER] if c.name == scenario.BAD_CLUSTER)
    assert broken.connect_timeout.seconds == -1
    fixed = next(c for c in scenario.state(5)[res.CLUSTER] if c.name == scenario.BAD_CLUSTER)
    assert fixed.connect_timeout.seconds == 10
    assert "reject" in scenario.what_changes(4) and "fixed" in scenario.what_changes(5)


def test_the_rest_mesh_has_only_what_a_rest_envoy_polls() -> None:
    rest = scenario.state(0, rest=True)
    assert set(rest) == set(scenario.REST_TYPES)
    assert all(c.type != cluster_pb2.Cluster.EDS for c in rest[res.CLUSTER])
    assert "route_config" in json_format.MessageToJson(
        rest[res.LISTENER][0], preserving_proto_field_name=True
    )


def test_the_committed_demo_samples_each_hold_a_rejected_push() -> None:
    """recordings/demo-*.xdsspy come from this scenario (python -m xdsspy.testing.sample_recordings)."""
    import pathlib

    from xdsspy.record import reader
    from xdsspy.state import tracker

    samples = sorted((pathlib.Path(__file__).resolve().parents[3] / "recordings").glob("demo-*.xdsspy"))
    assert [p.name for p in samples] == ["demo-delta.xdsspy", "demo-rest.xdsspy", "demo-sotw.xdsspy"]
    for path in samples:
        track = tracker.Tracker(keep_bodies=False, fold=False)
        nacks = 0
        for event in reader.iter_events(path):
            step, _ = track.apply(event)
            nacks += bool(step.verdict is not None and step.verdict.is_nack)
        assert nacks >= 1, path.name
