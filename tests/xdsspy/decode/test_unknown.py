"""Unknown fields: found at every depth (not inside Anys), named and decoded with the v2 type."""

from __future__ import annotations

from envoy.api.v2 import listener_pb2 as v2_listener_pb2
from envoy.config.listener.v3 import listener_pb2
from google.protobuf import struct_pb2

from xdsspy.decode import resources
from xdsspy.decode import unknown
from xdsspy.decode import wire


def test_v2_config_struct_deep_in_a_listener() -> None:
    v2 = v2_listener_pb2.Listener(name="l")
    config = struct_pb2.Struct()
    config.update({"stat_prefix": "s"})
    v2.filter_chains.add().filters.add(name="envoy.tcp_proxy", config=config)
    v3 = listener_pb2.Listener.FromString(v2.SerializeToString())
    decoder = resources.decoder_for()
    (field,) = decoder.unknown.find(v3)
    assert (field.path, field.number, field.wire_type, field.v2_name) == (
        "filter_chains[0].filters[0]",
        2,
        "len",
        "config",
    )
    assert field.value == {"stat_prefix": "s"}


def test_without_a_v2_predecessor_values_are_raw() -> None:
    message = struct_pb2.Value.FromString(
        b"\x08\x00" + b"\xa0\x06\x07" + b"\xaa\x06\x02hi"
    )  # fields 100, 101
    assert [(f.field_number, f.wire_type) for f in unknown.fields_of(message)] == [(100, 0), (101, 2)]
    found = resources.decoder_for().unknown.find(message)
    assert [(f.number, f.v2_name, f.value) for f in found] == [(100, "", 7), (101, "", "hi")]


def test_render_raw() -> None:
    assert unknown.render_raw(wire.FIXED64, 1) == "0x0000000000000001"
    assert unknown.render_raw(wire.FIXED32, 2) == "0x00000002"
    assert unknown.render_raw(wire.START_GROUP, b"\x10\x01") == {"2": 1}
    assert unknown.render_raw(wire.START_GROUP, b"\xff") == {"@bytes": "/w=="}
