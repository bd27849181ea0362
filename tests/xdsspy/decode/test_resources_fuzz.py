"""Hostile resources for the resource decoder: any type URL with any bytes, mutated real resources, deep Anys.

Whatever the bytes, `decode` and `decode_entry` return a DecodedResource whose body is JSON-ready and
whose notes find their paths: never an exception, never recursion to Python's limit through nested
Anys, never memory that grows with the number of distinct payloads or type URLs (issue 14, point 5).
"""

from __future__ import annotations

import gc
import json
import os
import tracemalloc

from google.protobuf import any_pb2
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from udpa.type.v1 import typed_struct_pb2

from xdsspy import varint
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.decode import todict
from xdsspy.testing import xds

PREFIX = "type.googleapis.com/"
CLUSTER = xds.tcluster(3).SerializeToString()
TYPE_URLS = [
    PREFIX + name
    for name in (
        "envoy.config.cluster.v3.Cluster",
        "envoy.api.v2.Cluster",  # v2, decoded as v3
        "envoy.config.listener.v3.Listener",
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "google.protobuf.Any",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.Duration",
        "google.protobuf.Timestamp",
        "google.protobuf.FieldMask",
        "udpa.type.v1.TypedStruct",
        "xds.type.v3.TypedStruct",
        "xds.type.matcher.v3.Matcher",
        "istio.unknown.v1.Config",  # no schema
        "",
    )
] + ["", "no-slash", "a/b/c/", "type.googleapis.com/\x00\udcff", "/" * 40]
SETTABLE_TYPE_URLS = [url for url in TYPE_URLS if "\udcff" not in url]  # what protobuf lets a test build


def _check(result: resources.DecodedResource) -> None:
    assert isinstance(result.status, resources.Status)
    json.dumps(result.body)
    for note in result.notes:
        assert isinstance(note.path, str) and note.detail
    for path, field in result.unknown_fields:
        assert isinstance(path, str)
        json.dumps(field.value)
    assert result.fully_typed in (True, False)


def _decode_every_way(type_url: str, raw: bytes) -> None:
    _check(resources.decode(type_url, raw))
    _check(resources.decode(type_url, raw, options=todict.PROTO3_JSON))
    entry = envelope.ResourceEntry(0, type_url, "", raw, encoding=envelope.Encoding.JSON)
    _check(resources.decode_entry(entry))


@settings(max_examples=300, deadline=None)
@given(type_url=st.one_of(st.sampled_from(TYPE_URLS), st.text(max_size=40)), raw=st.binary(max_size=200))
def test_any_type_url_with_any_bytes(type_url: str, raw: bytes) -> None:
    _decode_every_way(type_url, raw)


@settings(max_examples=200, deadline=None)
@given(
    type_url=st.sampled_from(TYPE_URLS),
    flips=st.lists(st.tuples(st.integers(0, len(CLUSTER) - 1), st.integers(1, 255)), max_size=6),
    insert=st.binary(max_size=16),
    at=st.integers(0, len(CLUSTER)),
    cut=st.integers(0, len(CLUSTER) + 16),
)
def test_flipped_spliced_and_cut_real_resources(
    type_url: str, flips: list[tuple[int, int]], insert: bytes, at: int, cut: int
) -> None:
    data = bytearray(CLUSTER)
    for position, mask in flips:
        data[position] ^= mask
    _decode_every_way(type_url, bytes(data[:at] + insert + data[at:])[:cut])


@settings(max_examples=200, deadline=None)
@given(
    inner_url=st.sampled_from(SETTABLE_TYPE_URLS),
    inner=st.one_of(st.binary(max_size=64), st.just(CLUSTER)),
    typed_struct_value=st.recursive(
        st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=8)),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=12,
    ),
)
def test_anys_and_typed_structs_holding_garbage_inside_a_real_cluster(
    inner_url: str, inner: bytes, typed_struct_value: object
) -> None:
    cluster = xds.tcluster(5)
    cluster.filters.add(name="garbage", typed_config=any_pb2.Any(type_url=inner_url, value=inner))
    typed_struct = typed_struct_pb2.TypedStruct(type_url=inner_url)
    typed_struct.value.update({"v": typed_struct_value})
    packed = any_pb2.Any()
    packed.Pack(typed_struct)
    cluster.filters.add(name="typed-struct", typed_config=packed)
    _decode_every_way(xds.CLUSTER_TYPE_URL, cluster.SerializeToString())


def test_a_typed_struct_whose_value_does_not_fit_its_type_is_noted_not_invalid() -> None:
    typed_struct = typed_struct_pb2.TypedStruct(type_url=xds.CLUSTER_TYPE_URL)
    typed_struct.value.update({"typed_extension_protocol_options": {"a": {"@type": None}}})
    packed = any_pb2.Any()
    packed.Pack(typed_struct)
    result = resources.decode(packed.type_url, packed.value)  # json_format raised AttributeError here
    _check(result)
    assert result.status is resources.Status.TYPED
    assert [note.kind for note in result.notes] == [resources.NoteKind.TYPED_STRUCT_INVALID]


def _anys(depth: int, type_url: str = PREFIX + "google.protobuf.Any") -> bytes:
    value = b""
    for _ in range(depth):
        value = any_pb2.Any(type_url=type_url, value=value).SerializeToString()
    return value


def test_anys_nested_thousands_deep_stop_at_max_any_depth() -> None:
    result = resources.decode(PREFIX + "google.protobuf.Any", _anys(5_000))
    _check(result)
    assert result.status is resources.Status.TYPED  # the outer layers keep their schemas
    (note,) = result.notes
    assert note.kind is resources.NoteKind.SCHEMALESS
    assert f"nested more than {resources.MAX_ANY_DEPTH} deep" in note.detail
    assert note.path.count("value") == 1 + resources.MAX_ANY_DEPTH  # the resource, then the Anys in it


def test_anys_nested_up_to_max_any_depth_are_all_typed() -> None:
    result = resources.decode(PREFIX + "google.protobuf.Any", _anys(resources.MAX_ANY_DEPTH))
    assert result.fully_typed


def test_json_nested_past_the_recursion_limit_is_shown_as_bytes_not_raised() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for type_url in (PREFIX + "istio.unknown.v1.Config", xds.CLUSTER_TYPE_URL):
        _check(resources.decode(type_url, deep))  # the "is it JSON text?" guess met a RecursionError
    entry = envelope.ResourceEntry(0, PREFIX + "x.Y", "", deep, encoding=envelope.Encoding.JSON)
    result = resources.decode_entry(entry)
    assert set(result.body) == {"@bytes"}


def test_a_struct_nested_past_protobufs_limit_is_invalid_not_raised() -> None:
    value = struct_pb2.Value(string_value="x").SerializeToString()
    for _ in range(200):  # Value.list_value (6) holding ListValue.values (1): built by hand, protobuf refuses
        values = b"\x0a" + varint.encode(len(value)) + value
        value = b"\x32" + varint.encode(len(values)) + values
    result = resources.decode(PREFIX + "google.protobuf.Value", value)
    _check(result)
    assert result.status is resources.Status.INVALID


def _held_after(decode_many: int, size: int) -> int:
    """Bytes still allocated after one decoder decodes `decode_many` distinct payloads of distinct types."""
    decoder = resources.Decoder()
    decoder.decode(PREFIX + "warm.Up", b"")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(decode_many):
            decoder.decode(f"{PREFIX}garbage.T{i}", os.urandom(8) + bytes(size))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_distinct_payloads_are_not_kept_alive_by_the_memo() -> None:
    assert _held_after(200, 100_000) < 1 << 20  # 20 MB decoded; the memo used to keep each payload


def test_distinct_type_urls_do_not_grow_the_resolution_cache_without_bound() -> None:
    assert _held_after(20_000, 0) < 4 << 20  # about 6 MB of cached resolutions without the bound
