"""The scalar and well-known-type rules, one by one (equality with MessageToDict is in test_todict)."""

from __future__ import annotations

import math

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import duration_pb2
from google.protobuf import wrappers_pb2

from xdsspy.decode import wkt


@pytest.mark.parametrize(
    ("seconds", "nanos", "text"),
    [
        (1, 0, "1s"),
        (1, 500_000_000, "1.500s"),
        (0, 1_000, "0.000001s"),
        (-1, -1, "-1.000000001s"),
        (0, 0, "0s"),
    ],
)
def test_duration(seconds: int, nanos: int, text: str) -> None:
    assert wkt.duration(duration_pb2.Duration(seconds=seconds, nanos=nanos)) == text
    assert duration_pb2.Duration(seconds=seconds, nanos=nanos).ToJsonString() == text


def test_out_of_range_duration_shows_its_fields() -> None:
    shown = wkt.duration(duration_pb2.Duration(seconds=-1, nanos=5))
    assert shown == {"@invalid": "not a valid google.protobuf.Duration", "seconds": "-1", "nanos": 5}


def test_numbers() -> None:
    assert wkt.double(math.nan) == "NaN" and wkt.double(-math.inf) == "-Infinity" and wkt.double(1.5) == 1.5
    assert wkt.float32(wrappers_pb2.FloatValue(value=0.1).value) == 0.1
    assert wkt.b64(b"\xff") == "/w=="


def test_enum_names_fall_back_to_numbers() -> None:
    field = cluster_pb2.Cluster.DESCRIPTOR.fields_by_name["type"]
    names = wkt.scalar_fn(field, use_integers_for_enums=False)
    assert names is not None and names(cluster_pb2.Cluster.EDS) == "EDS" and names(99) == 99
    assert wkt.scalar_fn(field, use_integers_for_enums=True) is None


def test_field_shape_helpers() -> None:
    request = discovery_pb2.DeltaDiscoveryRequest.DESCRIPTOR
    assert wkt.is_map(request.fields_by_name["initial_resource_versions"])
    assert not wkt.is_map(request.fields_by_name["node"])
    assert wkt.has_subtrees(cluster_pb2.Cluster.DESCRIPTOR)
    assert not wkt.has_subtrees(wrappers_pb2.UInt32Value.DESCRIPTOR)
    assert not wkt.has_subtrees(cluster_pb2.Cluster.RefreshRate.DESCRIPTOR)  # Durations and wrappers only
    with pytest.raises(TypeError):
        wkt.message_type_of(request.fields_by_name["type_url"])
    with pytest.raises(TypeError):
        wkt.enum_type_of(request.fields_by_name["type_url"])
