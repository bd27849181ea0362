"""Coverage-guided fuzzing (atheris, libFuzzer) of the HTTP/2 observer and the schema-less decoder.

The hypothesis tests next to each module run in the default suite; this harness is for longer hunts
and needs `pip install atheris` (not a dependency of xdsspy or of its tests). One command per target:

    python tests/fuzz/atheris_targets.py h2 -max_total_time=300
    python tests/fuzz/atheris_targets.py wire -max_total_time=300

Arguments after the target go to libFuzzer (`-help=1` lists them). Without a corpus directory the
harness uses `.fuzz-corpus/<target>/` in the working directory, seeded on first use with real
conversations and messages. A crash is anything but the typed errors the contract allows (Malformed
from the observer, nothing at all from the decoders); libFuzzer writes the input to `crash-*`, and
`python tests/fuzz/atheris_targets.py h2 crash-...` replays it.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _chunks(data: bytes) -> Iterator[tuple[bool, bytes]]:
    """The input as (from Envoy?, chunk) pairs: each chunk is led by one byte, its low bit the side and
    the rest its length less one, so the fuzzer mutates both the bytes and how the wire cut them."""
    pos = 0
    while pos < len(data):
        lead = data[pos]
        size = (lead >> 1) + 1
        yield not lead & 1, data[pos + 1 : pos + 1 + size]
        pos += 1 + size


def h2(data: bytes) -> None:
    """Both directions of one connection through the observer and the stream publisher."""
    from xdsspy import model
    from xdsspy.capture import h2_observer
    from xdsspy.capture import h2_streams
    from xdsspy.capture import sink as sink_mod
    from xdsspy.record import codec
    from xdsspy.testing.sinks import ListSink

    sink = ListSink()
    context = sink_mod.ConnectionContext(1, "fuzz", sink, sink_mod.Stamper(), sink_mod.Ids(), 1 << 16)
    publisher = h2_streams.StreamPublisher(context)
    observer = h2_observer.ConnectionObserver(publisher)
    observer.feed(h2_observer.Side.DOWNSTREAM, PREFACE + SETTINGS)
    observer.feed(h2_observer.Side.UPSTREAM, SETTINGS)
    try:
        for from_envoy, chunk in _chunks(data):
            side = h2_observer.Side.DOWNSTREAM if from_envoy else h2_observer.Side.UPSTREAM
            observer.feed(side, chunk)
    except h2_observer.Malformed:
        pass
    publisher.connection_ended(model.CloseCause.UPSTREAM, "the fuzzer ended the connection")
    for event in sink.events:
        codec.encode(event)


_TYPE_URLS = (
    "type.googleapis.com/istio.unknown.Config",  # no schema: the wire tree
    "type.googleapis.com/google.protobuf.Any",  # Anys within Anys
    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "type.googleapis.com/udpa.type.v1.TypedStruct",
)


def wire(data: bytes) -> None:
    """The schema-less decoder on its own, and the resource decoder around it (first byte: the type)."""
    from xdsspy.decode import resources
    from xdsspy.decode import wire as wire_mod

    tree = wire_mod.decode_raw(data)
    json.dumps(tree)
    wire_mod.complete_prefix(data)
    wire_mod.first_string(data, 1)
    if data:
        decoded = resources.decode(_TYPE_URLS[data[0] % len(_TYPE_URLS)], data[1:])
        json.dumps(decoded.body)
        assert all(isinstance(note.path, str) for note in decoded.notes)


TARGETS: dict[str, Callable[[bytes], None]] = {"h2": h2, "wire": wire}


def _as_chunks(log: list[tuple[bool, bytes]]) -> bytes:
    out = b""
    for from_envoy, data in log:
        for i in range(0, len(data), 128):
            piece = data[i : i + 128]
            out += bytes([((len(piece) - 1) << 1) | (not from_envoy)]) + piece
    return out


def seeds(target: str) -> list[bytes]:
    """Inputs to start from: a real gRPC exchange for h2, real resources for wire."""
    from xdsspy.testing import xds

    if target == "h2":
        import hpack

        request = hpack.Encoder().encode(
            [
                (b":method", b"POST"),
                (
                    b":path",
                    b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
                ),
                (b"content-type", b"application/grpc"),
                (b"grpc-encoding", b"gzip"),
            ]
        )
        response = hpack.Encoder().encode([(b":status", b"200"), (b"content-type", b"application/grpc")])
        message = xds.tcds_response(1).SerializeToString()[:100]
        grpc = b"\0" + len(message).to_bytes(4, "big") + message

        def frame(kind: int, flags: int, payload: bytes) -> bytes:
            return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + (1).to_bytes(4, "big") + payload

        return [
            _as_chunks(
                [
                    (True, frame(1, 4, request) + frame(0, 0, grpc)),
                    (False, frame(1, 4, response) + frame(0, 0, grpc)),
                    (False, frame(1, 5, hpack.Encoder().encode([(b"grpc-status", b"0")]))),
                ]
            )
        ]
    cluster = xds.tcluster(1).SerializeToString()
    return [bytes([0]) + cluster, bytes([2]) + cluster, bytes([1]) + b"\x0a\x00"]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    import atheris  # only here: importing this module for its targets needs no atheris

    target = argv[1]
    libfuzzer_args = [argv[0], *argv[2:]]
    if not any(not arg.startswith("-") for arg in argv[2:]):
        corpus = pathlib.Path(".fuzz-corpus") / target
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for number, seed in enumerate(seeds(target)):
                (corpus / f"seed-{number}").write_bytes(seed)
        libfuzzer_args.append(str(corpus))
    with atheris.instrument_imports(include=["xdsspy", "hpack"]):
        import xdsspy.capture.h2_streams
        import xdsspy.decode.resources  # noqa: F401
    run: Any = TARGETS[target]
    atheris.Setup(libfuzzer_args, run)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
