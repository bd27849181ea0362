"""The dict converter equals json_format.MessageToDict, on every fixture resource and on edge cases."""

from __future__ import annotations

import math
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import descriptor_pb2
from google.protobuf import duration_pb2
from google.protobuf import field_mask_pb2
from google.protobuf import json_format
from google.protobuf import struct_pb2
from google.protobuf import timestamp_pb2
from google.protobuf import wrappers_pb2

from xdsspy.decode import schemas
from xdsspy.decode import todict
from xdsspy.testing import xds

from . import istio_fixtures

OPTION_SETS = [
    todict.CONFIG_DUMP,
    todict.PROTO3_JSON,
    todict.Options(always_print_fields_with_no_presence=True),
    todict.Options(preserving_proto_field_name=False, use_integers_for_enums=True),
]


def reference(message: Any, options: todict.Options, pool: Any = None) -> Any:
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=options.preserving_proto_field_name,
        use_integers_for_enums=options.use_integers_for_enums,
        always_print_fields_with_no_presence=options.always_print_fields_with_no_presence,
        descriptor_pool=pool,
    )


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: repr(o)[8:60])
@pytest.mark.parametrize("memo", [False, True], ids=["plain", "memo"])
def test_equals_message_to_dict_on_every_fixture_resource(
    istio_resources: list[istio_fixtures.FixtureResource], options: todict.Options, memo: bool
) -> None:
    converter = todict.Converter(options, memo=memo)
    compared = 0
    for resource in istio_resources:
        if resource.synthetic_types:
            continue  # MessageToDict cannot print Istio's types; see the next test
        packed = any_pb2.Any(type_url=resource.type_url, value=resource.value)
        assert converter.to_dict(packed) == reference(packed, options), resource.file
        compared += 1
    assert compared >= 600


def _struct_shaped_schemas(type_urls: set[str]) -> descriptor_pb2.FileDescriptorSet:
    """Schemas for Istio's types with the wire shape the fixtures gave them (Struct's map<string, Value>)."""
    file_set = descriptor_pb2.FileDescriptorSet()
    for index, type_url in enumerate(sorted(type_urls)):
        package, _, name = type_url.split("/")[-1].rpartition(".")
        proto = file_set.file.add(name=f"synthetic/istio_{index}.proto", package=package, syntax="proto3")
        proto.dependency.append("google/protobuf/struct.proto")
        message = proto.message_type.add(name=name)
        entry = message.nested_type.add(name="FieldsEntry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=9, label=1)
        entry.field.add(name="value", number=2, type=11, label=1, type_name=".google.protobuf.Value")
        message.field.add(
            name="fields",
            number=1,
            type=11,
            label=3,
            type_name=f".{package}.{name}.FieldsEntry".replace("..", "."),
        )
    return file_set


def test_equals_message_to_dict_with_user_schemas_for_istio_types(
    istio_resources: list[istio_fixtures.FixtureResource],
) -> None:
    synthetic = {t for r in istio_resources for t in r.synthetic_types}
    registry = schemas.Registry.layered_over_default()
    report = registry.add_file_descriptor_set(_struct_shaped_schemas(synthetic))
    assert not report.failed and len(report.added) == len(synthetic)
    converter = todict.Converter(todict.CONFIG_DUMP, pool=registry.pool)
    checked = 0
    for resource in istio_resources:
        if resource.synthetic_types:
            packed = any_pb2.Any(type_url=resource.type_url, value=resource.value)
            assert converter.to_dict(packed) == reference(packed, todict.CONFIG_DUMP, registry.pool)
            checked += 1
    assert checked >= 100


def test_equals_message_to_dict_on_a_realistic_push() -> None:
    response = xds.tcds_response(50)
    converter = todict.Converter(memo=True)
    for _ in range(2):  # the second pass is served from the memo
        assert [converter.to_dict(p) for p in response.resources] == [
            reference(p, todict.CONFIG_DUMP) for p in response.resources
        ]
    assert converter.memo_stats()["hits"] > 0


def _both(message: Any, options: todict.Options = todict.CONFIG_DUMP) -> tuple[Any, Any]:
    return todict.Converter(options).to_dict(message), reference(message, options)


@pytest.mark.parametrize(
    "message",
    [
        duration_pb2.Duration(seconds=-3, nanos=-100_000_000),
        duration_pb2.Duration(seconds=0, nanos=-5),
        duration_pb2.Duration(seconds=1, nanos=10_000),
        duration_pb2.Duration(seconds=315_576_000_000),
        timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=1_000),
        field_mask_pb2.FieldMask(paths=["cluster.name", "eds_cluster_config"]),
        wrappers_pb2.UInt64Value(value=2**63),
        wrappers_pb2.FloatValue(value=0.1),
        wrappers_pb2.DoubleValue(value=math.inf),
        wrappers_pb2.BytesValue(value=b"\x00\xff"),
        wrappers_pb2.BoolValue(),
        struct_pb2.Value(null_value=struct_pb2.NULL_VALUE),
        struct_pb2.Value(),
        struct_pb2.ListValue(values=[struct_pb2.Value(number_value=1.5), struct_pb2.Value(bool_value=True)]),
        any_pb2.Any(),
        base_pb2.RuntimeDouble(default_value=-math.inf, runtime_key="k"),
        base_pb2.HeaderValue(key="k", raw_value=b"\x01\x02"),
        cluster_pb2.Cluster(
            name="c",
            type=7,  # a number no enum value has: printed as the number
            per_connection_buffer_limit_bytes={"value": 1},
            dns_refresh_rate={"seconds": 5},
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_well_known_types_and_edge_values(message: Any) -> None:
    mine, theirs = _both(message)
    assert mine == theirs


def test_maps_with_non_string_keys_and_nested_anys() -> None:
    request = discovery_pb2.DeltaDiscoveryRequest(initial_resource_versions={"a": "1", "b": "2"})
    assert _both(request)[0] == _both(request)[1]
    inner = any_pb2.Any()
    inner.Pack(wrappers_pb2.StringValue(value="x"))
    outer = any_pb2.Any()
    outer.Pack(inner)  # an Any inside an Any prints as {"@type", "value": {...}}
    mine, theirs = _both(outer)
    assert (
        mine
        == theirs
        == {
            "@type": "type.googleapis.com/google.protobuf.Any",
            "value": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "x"},
        }
    )
    proto_map = descriptor_pb2.FileDescriptorProto()  # int and bool keys come from user schemas
    assert proto_map is not None


def test_invalid_duration_does_not_raise() -> None:
    bad = duration_pb2.Duration(seconds=1, nanos=-1)
    with pytest.raises(ValueError):
        reference(bad, todict.CONFIG_DUMP)
    assert todict.Converter().to_dict(bad)["@invalid"] == "not a valid google.protobuf.Duration"


def test_strict_any_raises_like_message_to_dict_for_unknown_types() -> None:
    packed = any_pb2.Any(type_url="type.googleapis.com/istio.Nope", value=b"")
    with pytest.raises(TypeError):
        todict.Converter().to_dict(packed)


def test_memo_gives_independent_trees_and_gives_up_on_unique_data() -> None:
    converter = todict.Converter(memo=True)
    clusters = [xds.tcluster(i) for i in range(300)]
    first = [converter.to_dict(c) for c in clusters]
    second = [converter.to_dict(c) for c in clusters]
    assert first == second
    second[0]["eds_cluster_config"]["eds_config"]["ads"]["x"] = 1  # mutating one tree ...
    assert "x" not in second[1]["eds_cluster_config"]["eds_config"]["ads"]  # ... leaves the others alone
    stats = converter.memo_stats()
    assert stats["hits"] > 1000 and stats["disabled"] >= 1  # names/metadata never repeat
    converter.set_memo(False)
    assert [converter.to_dict(c) for c in clusters[:5]] == first[:5]
