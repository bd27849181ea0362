"""A tiny message type no Envoy API defines, as .proto text, as a protoset and inside a recording.

Tests of `--protoset` and `--proto-path` need a type that decodes schema-less
until the user supplies its schema; `xdsspy.test.Widget` is that type.
"""

from __future__ import annotations

import os

from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import descriptor_pb2

from xdsspy import model
from xdsspy.record import writer
from xdsspy.testing import factories as f

WIDGET = "xdsspy.test.Widget"
WIDGET_URL = "type.googleapis.com/" + WIDGET
PROTO_NAME = "xdsspy_test/widget.proto"
PROTO_SOURCE = """syntax = "proto3";
package xdsspy.test;
message Widget {
  string name = 1;
  uint32 replicas = 2;
}
"""
WIDGET_BYTES = b"\x0a\x02w1\x10\x07"  # name: "w1", replicas: 7
WIDGET_JSON = {"@type": WIDGET_URL, "name": "w1", "replicas": 7}


def tprotoset() -> descriptor_pb2.FileDescriptorSet:
    """PROTO_SOURCE as protoc would compile it, built by hand (no grpcio-tools needed)."""
    file = descriptor_pb2.FileDescriptorProto(name=PROTO_NAME, package="xdsspy.test", syntax="proto3")
    message = file.message_type.add(name="Widget")
    field = descriptor_pb2.FieldDescriptorProto
    message.field.add(
        name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL, json_name="name"
    )
    message.field.add(
        name="replicas", number=2, type=field.TYPE_UINT32, label=field.LABEL_OPTIONAL, json_name="replicas"
    )
    return descriptor_pb2.FileDescriptorSet(file=[file])


def write_widget_recording(path: str | os.PathLike[str]) -> None:
    """An ADS stream whose one response carries a Widget resource."""
    response = discovery_pb2.DiscoveryResponse(
        type_url=WIDGET_URL,
        version_info="1",
        nonce="n1",
        resources=[any_pb2.Any(type_url=WIDGET_URL, value=WIDGET_BYTES)],
    )
    request = discovery_pb2.DiscoveryRequest(type_url=WIDGET_URL, node={"id": "widget-node"})
    recording = writer.RecordingWriter(path)
    for event in (
        f.topen(seq=1),
        f.tmessage(request.SerializeToString(), seq=2),
        f.tmessage(response.SerializeToString(), model.Direction.RESPONSE, seq=3),
        f.tclose(seq=4),
        f.tstop(seq=5),
    ):
        recording.publish(event)
    recording.close()
