"""Resource decoding: every Istio fixture resource typed or clearly schema-less, round trips, bad input."""

from __future__ import annotations

import collections
import json

import pytest
from envoy.api.v2 import cluster_pb2 as v2_cluster_pb2
from envoy.api.v2.core import address_pb2 as v2_address_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import json_format
from google.protobuf import struct_pb2
from udpa.type.v1 import typed_struct_pb2
from xds.type.v3 import typed_struct_pb2 as xds_typed_struct_pb2

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import resources
from xdsspy.decode import schemas
from xdsspy.testing import xds

from . import istio_fixtures

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def test_every_fixture_resource_decodes_typed_or_clearly_schemaless(
    istio_pushes: list[istio_fixtures.FixturePush],
) -> None:
    statuses: collections.Counter[str] = collections.Counter()
    notes: collections.Counter[tuple[str, str]] = collections.Counter()
    decoded_count = dynamic = 0
    for push in istio_pushes:
        env = discovery.decode(ADS, model.Direction.RESPONSE, push.response)
        assert env.problem == "" and len(env.resources) == len(push.resources)
        for entry, fixture, decoded in zip(
            env.resources, push.resources, resources.decode_entries(env.resources), strict=True
        ):
            decoded_count += 1
            dynamic += fixture.dynamic
            assert decoded.status in (resources.Status.TYPED, resources.Status.V2_AS_V3), fixture.file
            assert decoded.body["@type"] == entry.type_url
            # Schema-less parts are exactly Istio's own types, and are marked in the body.
            schemaless = {n.type_url for n in decoded.notes if n.kind == resources.NoteKind.SCHEMALESS}
            assert schemaless == set(fixture.synthetic_types), fixture.file
            for note in decoded.notes:
                notes[(note.kind, note.type_url.split("/")[-1])] += 1
                assert note.path != "?"
                if note.kind == resources.NoteKind.SCHEMALESS:
                    node = _at(decoded.body, note.path)
                    assert node["@schemaless"].startswith("no schema for") and "@fields" in node
            kind = "fully typed" if decoded.fully_typed else "typed, with schema-less parts"
            statuses[f"{decoded.status} ({kind})"] += 1
    print(
        f"\n{decoded_count} fixture resources ({dynamic} dynamic) in {len(istio_pushes)} pushes, 0 failures"
    )
    for status, count in sorted(statuses.items()):
        print(f"  {count:5d}  {status}")
    print("  notes (kind, type):")
    for (kind, type_name), count in sorted(notes.items()):
        print(f"  {count:5d}  {kind:26s} {type_name}")
    assert decoded_count >= 770 and dynamic >= 700
    assert statuses["typed (fully typed)"] >= 75 and statuses["v2_as_v3 (fully typed)"] >= 550
    assert sum(c for (k, _), c in notes.items() if k == resources.NoteKind.SCHEMALESS) >= 230
    assert notes[(resources.NoteKind.TYPED_STRUCT_UNKNOWN, "io.istio.http.peer_metadata.Config")] >= 1
    assert notes[(resources.NoteKind.UNKNOWN_FIELDS, "envoy.api.v2.Cluster")] >= 100


def _at(body: dict[str, object], path: str) -> dict[str, object]:
    node: object = body
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]  # type: ignore[index]
    assert isinstance(node, dict)
    return node


def test_typed_bodies_match_message_to_dict(istio_resources: list[istio_fixtures.FixtureResource]) -> None:
    compared = 0
    for resource in istio_resources:
        if resource.synthetic_types or "v2" in resource.type_url or resource.lossy:
            continue
        decoded = resources.decode(resource.type_url, resource.value)
        packed = any_pb2.Any(type_url=resource.type_url, value=resource.value)
        assert decoded.body == json_format.MessageToDict(packed, preserving_proto_field_name=True)
        compared += 1
    assert compared >= 75


def test_round_trip_gives_the_same_bytes(istio_resources: list[istio_fixtures.FixtureResource]) -> None:
    """decode -> typed message -> encode reproduces the pushed bytes, with two explained exceptions.

    * Map entries: upb writes them in hash order unless asked for deterministic
      output; the fixtures were encoded deterministically, so that is compared
      (Go's encoder does not sort map keys either: a control plane's own bytes
      may differ there, never in content).
    * v2 resources decode with v3 classes; fields v3 dropped survive as unknown
      fields but are written after the known ones, so the bytes reorder. Parsing
      both with the v2 schema gives equal messages: nothing is lost.
    """
    exact = reordered = 0
    for resource in istio_resources:
        message = resources.parse(resource.type_url, resource.value)
        assert message is not None, resource.type_url
        again = message.SerializeToString(deterministic=True)
        if again == resource.value:
            exact += 1
            continue
        v2_class = schemas.default().message_class(resource.type_url.split("/")[-1])
        assert v2_class is not None and ".v2." in resource.type_url, resource.file
        assert v2_class.FromString(again) == v2_class.FromString(resource.value), resource.file
        reordered += 1
    print(f"\nround trip: {exact} byte-identical, {reordered} v2 resources equal after reordering")
    assert exact >= 600


def test_v2_fields_that_v3_dropped_are_named_and_decoded() -> None:
    v2 = v2_cluster_pb2.Cluster(name="legacy")
    v2.hosts.append(v2_address_pb2.Address(socket_address={"address": "10.0.0.1", "port_value": 80}))
    decoded = resources.decode("type.googleapis.com/envoy.api.v2.Cluster", v2.SerializeToString())
    assert (
        decoded.status == resources.Status.V2_AS_V3
        and decoded.message_type == "envoy.config.cluster.v3.Cluster"
    )
    assert decoded.body == {"@type": "type.googleapis.com/envoy.api.v2.Cluster", "name": "legacy"}
    ((path, field),) = decoded.unknown_fields
    assert (path, field.path, field.number, field.v2_name) == ("", "", 7, "hosts")
    assert field.value == {"socket_address": {"address": "10.0.0.1", "port_value": 80}}
    assert {n.kind for n in decoded.notes} == {resources.NoteKind.V2_AS_V3, resources.NoteKind.UNKNOWN_FIELDS}


def test_fields_newer_than_the_schema_are_reported() -> None:
    raw = cluster_pb2.Cluster(name="c").SerializeToString() + b"\xf8\x3f\x01"  # field 1023, varint
    decoded = resources.decode(CLUSTER, raw)
    assert decoded.status == resources.Status.TYPED and decoded.fully_typed
    ((_, field),) = decoded.unknown_fields
    assert (field.number, field.wire_type, field.value, field.v2_name) == (1023, "varint", 1, "")


def _listener_with(typed_config: any_pb2.Any) -> bytes:
    listener = listener_pb2.Listener(name="l")
    chain = listener.filter_chains.add()
    chain.filters.add(name="f", typed_config=typed_config)
    return listener.SerializeToString()


def test_nested_unknown_type_is_schemaless_with_its_path() -> None:
    unknown = any_pb2.Any(type_url="type.googleapis.com/stats.PluginConfig", value=b"\x0a\x05hello\x10\x02")
    decoded = resources.decode(
        "type.googleapis.com/envoy.config.listener.v3.Listener", _listener_with(unknown)
    )
    assert decoded.status == resources.Status.TYPED and not decoded.fully_typed
    (note,) = decoded.notes
    assert note.path == "filter_chains[0].filters[0].typed_config"
    assert decoded.body["filter_chains"][0]["filters"][0]["typed_config"] == {
        "@type": "type.googleapis.com/stats.PluginConfig",
        "@schemaless": "no schema for 'stats.PluginConfig'",
        "@fields": {"1": "hello", "2": 2},
    }


def test_bytes_that_do_not_match_their_type_url() -> None:
    invalid = any_pb2.Any(type_url=CLUSTER, value=b"\x0a\x02\xff\xfe")  # name is not UTF-8
    decoded = resources.decode(invalid.type_url, invalid.value)
    assert decoded.status == resources.Status.INVALID and decoded.message_type == ""
    assert decoded.body["@invalid"].startswith("bytes do not parse as envoy.config.cluster.v3.Cluster")
    listener = listener_pb2.Listener(name="l", address={"pipe": {"path": "/x"}}).SerializeToString()
    misfiled = resources.decode(CLUSTER, listener)  # field 2 is a message here, an enum in Cluster
    assert resources.NoteKind.UNKNOWN_FIELDS in misfiled.note_kinds


def test_garbage_truncated_and_unknown_never_raise() -> None:
    raw = xds.tcluster(1).SerializeToString()
    truncated = resources.decode(CLUSTER, raw[:-7])
    assert truncated.status == resources.Status.INVALID and "@fields" not in truncated.body
    assert truncated.body["@bytes"]
    garbage = resources.decode("type.googleapis.com/nobody.Knows", b"\xff\x00\xff")
    assert garbage.status == resources.Status.SCHEMALESS and "@bytes" in garbage.body
    empty = resources.decode("", b"")
    assert empty.status == resources.Status.SCHEMALESS


def test_istio_debug_payloads_are_json() -> None:
    payload = json.dumps([{"proxy": "a", "cluster_sent": "n1"}]).encode()
    decoded = resources.decode("istio.io/debug/syncz", payload)
    assert decoded.status == resources.Status.JSON
    assert decoded.body == {"@type": "istio.io/debug/syncz", "@json": [{"proxy": "a", "cluster_sent": "n1"}]}


def test_typed_structs_are_checked_against_their_inner_type() -> None:
    good = typed_struct_pb2.TypedStruct(
        type_url="type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
    )
    good.value.update({"suppress_envoy_headers": True})
    bad = xds_typed_struct_pb2.TypedStruct(type_url=good.type_url)
    bad.value.update({"no_such_field": 1})
    unknown = typed_struct_pb2.TypedStruct(type_url="type.googleapis.com/io.istio.http.peer_metadata.Config")
    unknown.value.update({"upstream_discovery": [{"istio_headers": {}}]})
    kinds = []
    for struct in (good, bad, unknown):
        packed = any_pb2.Any()
        packed.Pack(struct)
        decoded = resources.decode(
            "type.googleapis.com/envoy.config.listener.v3.Listener", _listener_with(packed)
        )
        assert decoded.fully_typed
        kinds.append({n.kind for n in decoded.notes})
    assert kinds == [
        set(),
        {resources.NoteKind.TYPED_STRUCT_INVALID},
        {resources.NoteKind.TYPED_STRUCT_UNKNOWN},
    ]


def test_wrapped_sotw_resources_decode_their_payload() -> None:
    response = discovery_pb2.DiscoveryResponse(type_url=CLUSTER)
    wrapper = discovery_pb2.Resource(name="c", version="1")
    wrapper.resource.Pack(cluster_pb2.Cluster(name="c"))
    response.resources.add().Pack(wrapper)
    env = discovery.decode(ADS, model.Direction.RESPONSE, response.SerializeToString())
    decoded = resources.decode_entry(env.resources[0])
    assert decoded.body == {"@type": CLUSTER, "name": "c"}


def test_well_known_payloads_and_camel_case_option() -> None:
    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Value(string_value="outbound|80||x"))
    decoded = resources.decode(packed.type_url, packed.value)
    assert decoded.body == {"@type": "type.googleapis.com/google.protobuf.Value", "value": "outbound|80||x"}
    router = router_pb2.Router(suppress_envoy_headers=True).SerializeToString()
    camel = resources.decode(
        "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        router,
        options=resources.todict.PROTO3_JSON,
    )
    assert camel.body["suppressEnvoyHeaders"] is True


def test_repeats_are_served_from_the_memo_as_independent_copies() -> None:
    decoder = resources.Decoder()
    response = xds.tcds_response(5)
    first = [decoder.decode(CLUSTER, p.value) for p in response.resources]
    second = [decoder.decode(CLUSTER, p.value) for p in response.resources]
    third = [decoder.decode(CLUSTER, p.value) for p in response.resources]
    assert decoder.memo is not None and decoder.memo.hits >= 5
    assert [d.body for d in first] == [d.body for d in third]
    assert [d.notes for d in first] == [d.notes for d in third]  # notes are replayed with their paths
    third[0].body["name"] = "changed"
    assert decoder.decode(CLUSTER, response.resources[0].value).body["name"] != "changed"
    assert second[0].body is not third[0].body


def test_decode_entries_restores_the_gc() -> None:
    import gc

    assert gc.isenabled()
    env = discovery.decode(ADS, model.Direction.RESPONSE, xds.tcds_response(3).SerializeToString())
    assert len(resources.decode_entries(env.resources)) == 3
    assert gc.isenabled()


def test_user_schemas_turn_schemaless_into_typed() -> None:
    registry = schemas.Registry.layered_over_default()
    unknown = any_pb2.Any(type_url="type.googleapis.com/io.istio.Sample", value=b"\x0a\x02hi")
    before = resources.decode(unknown.type_url, unknown.value, registry=registry)
    assert before.status == resources.Status.SCHEMALESS
    from google.protobuf import descriptor_pb2

    file_set = descriptor_pb2.FileDescriptorSet()
    proto = file_set.file.add(name="io/istio/sample.proto", package="io.istio", syntax="proto3")
    proto.message_type.add(name="Sample").field.add(name="greeting", number=1, type=9, label=1)
    registry.add_file_descriptor_set(file_set)
    after = resources.decode(unknown.type_url, unknown.value, registry=registry)
    assert after.status == resources.Status.TYPED and after.body["greeting"] == "hi"
    # The default registry is untouched.
    assert resources.decode(unknown.type_url, unknown.value).status == resources.Status.SCHEMALESS


@pytest.mark.parametrize("count", [1, 3])
def test_decode_message_renders_whole_messages(count: int) -> None:
    response = xds.tcds_response(count)
    decoded = resources.decode_message(
        "envoy.service.discovery.v3.DiscoveryResponse", response.SerializeToString()
    )
    assert decoded.fully_typed and len(decoded.body["resources"]) == count
