"""Hand-made xDS conversations written as recordings, for tests: one ADS stream, pushes and their answers.

`ads_recording` writes what a view-model test needs and no more: node "n1"
opens one SotW ADS stream, and each push (type URL, resources, NACK error or
"") gets version "v1", "v2"... and Envoy's answer, an ACK or a NACK with
that error. `indexed` reads a recording the way the UI does, and `final` is
one Envoy's state after its last message.
"""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import Sequence

from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import message as pb_message

from xdsspy import model
from xdsspy.controlplane import resources as cp
from xdsspy.record import writer
from xdsspy.testing import factories as f
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index

Push = tuple[str, Sequence[any_pb2.Any], str]
"""(type URL, the resources it carries, the error Envoy NACKs it with, or "" for an ACK)."""


def packed(message: pb_message.Message, type_url: str = "") -> any_pb2.Any:
    """A resource as a push carries it; `type_url` overrides the message's own (a v2 URL, say)."""
    return any_pb2.Any(type_url=type_url or cp.type_url_of(message), value=message.SerializeToString())


def ads_recording(path: pathlib.Path, pushes: Sequence[Push]) -> None:
    """One SotW ADS stream of node "n1": each push (one at least) as version "vN", then its answer."""
    seq = itertools.count(1)
    w = writer.RecordingWriter(path)
    w.publish(f.topen(seq=next(seq)))

    def send(direction: model.Direction, message: pb_message.Message) -> None:
        w.publish(f.tmessage(message.SerializeToString(), direction, seq=next(seq)))

    hello = discovery_pb2.DiscoveryRequest(type_url=pushes[0][0])
    hello.node.id = "n1"
    send(model.Direction.REQUEST, hello)
    for number, (type_url, anys, nack) in enumerate(pushes, 1):
        response = discovery_pb2.DiscoveryResponse(
            type_url=type_url, version_info=f"v{number}", nonce=f"n{number}", resources=list(anys)
        )
        send(model.Direction.RESPONSE, response)
        answer = discovery_pb2.DiscoveryRequest(
            type_url=type_url, response_nonce=f"n{number}", version_info="" if nack else f"v{number}"
        )
        if nack:
            answer.error_detail.code, answer.error_detail.message = 3, nack
        send(model.Direction.REQUEST, answer)
    w.close()


def indexed(path: pathlib.Path) -> index.RecordingIndex:
    """The recording indexed to its end, as the UI's background worker does; fails if it could not be."""
    ix = index.RecordingIndex(path)
    ix.run()
    assert ix.error == "", ix.error
    return ix


def final(ix: index.RecordingIndex, node: str) -> envoy_config.EnvoyConfig:
    """What `node` held after the recording's last message."""
    return envoy_config.at(ix, node, len(ix.timeline.steps) - 1)
