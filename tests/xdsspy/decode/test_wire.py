"""Schema-less wire reading: scanning, decode_raw trees, cheap names, salvage of truncated bytes."""

from __future__ import annotations

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import struct_pb2

from xdsspy.decode import wire


def test_scan_yields_every_top_level_field_with_offsets() -> None:
    raw = cluster_pb2.Cluster(name="a", type=cluster_pb2.Cluster.EDS).SerializeToString()
    fields = list(wire.scan(raw))
    assert [(f.number, f.wire_type) for f in fields] == [(1, wire.LEN), (2, wire.VARINT)]
    assert fields[0].value == b"a" and fields[1].value == cluster_pb2.Cluster.EDS
    assert fields[-1].end == len(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x0a\x05ab", "truncated length-delimited"),
        (b"\x08", "truncated varint"),
        (b"\x00\x01", "field number 0"),
        (b"\x0f", "invalid wire type"),
        (b"\x09\x01\x02", "truncated fixed-width"),
        (b"\x0b\x10\x01", "truncated varint"),  # a group that never ends
    ],
)
def test_scan_reports_where_bytes_stop_making_sense(raw: bytes, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        list(wire.scan(raw))


def test_groups_are_read_as_nested_trees() -> None:
    raw = b"\x0b\x10\x01\x0c\x18\x02"  # group 1 { 2: 1 } then 3: 2
    assert wire.decode_raw(raw) == {"1": {"2": 1}, "3": 2}


def test_decode_raw_guesses_like_protoc() -> None:
    struct = struct_pb2.Struct()
    struct.update({"protocol": "istio-peer-exchange", "n": 3})
    tree = wire.decode_raw(struct.SerializeToString())
    assert tree is not None
    entries = tree["1"]
    assert isinstance(entries, list) and len(entries) == 2
    assert {"1": "protocol", "2": {"3": "istio-peer-exchange"}} in entries
    assert {"1": "n", "2": {"2": "0x4008000000000000"}} in entries  # a double, shown as fixed64 hex


def test_decode_raw_shows_non_text_non_message_bytes_as_base64() -> None:
    assert wire.decode_raw(b"\x0a\x02\xff\xfe") == {"1": {"@bytes": "//4="}}
    assert wire.decode_raw(b"\x0a\x00\x15\x01\x00\x00\x00") == {"1": "", "2": "0x00000001"}


def test_decode_raw_returns_none_for_garbage() -> None:
    assert wire.decode_raw(b"\xff\xff\xff") is None


def test_first_string_fast_and_slow_paths() -> None:
    raw = cluster_pb2.Cluster(name="outbound|80||x", type=cluster_pb2.Cluster.EDS).SerializeToString()
    assert wire.first_string(raw, 1) == "outbound|80||x"
    reordered = b"\x10\x03" + raw  # type first, then name: needs a scan
    assert wire.first_string(reordered, 1) == "outbound|80||x"
    assert wire.first_string(raw, 9) is None
    assert wire.first_string(b"\x0a\x05ab", 1) is None  # truncated
    assert wire.first_string(b"\x0a\x01\xff", 1) is None  # not UTF-8


def test_complete_prefix_keeps_whole_fields_before_the_damage() -> None:
    raw = cluster_pb2.Cluster(name="a", type=cluster_pb2.Cluster.EDS).SerializeToString()
    prefix, stopped = wire.complete_prefix(raw + b"\x0a\x09abc")
    assert prefix == raw and stopped == len(raw)
    assert wire.complete_prefix(raw) == (raw, len(raw))
