"""t-prefixed factories for model events, so tests say only what matters to them."""

from __future__ import annotations

import itertools
import time

from xdsspy import model

_seq = itertools.count(1)

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"


def _stamp(seq: int | None) -> model.Stamp:
    return {
        "seq": next(_seq) if seq is None else seq,
        "wall_ns": time.time_ns(),
        "monotonic_ns": time.monotonic_ns(),
    }


def topen(
    stream: int = 1, connection: int = 1, method: str = ADS, seq: int | None = None
) -> model.StreamOpened:
    return model.StreamOpened(
        **_stamp(seq),
        connection=connection,
        stream=stream,
        transport=model.Transport.GRPC,
        method=method,
        peer="ipv4:127.0.0.1:40000",
        metadata=(("authorization", b"Bearer t0ken"), ("x-id-bin", b"\x00\xff")),
        timeout_seconds=0.0,
    )


def tmessage(
    raw: bytes | memoryview = b"\x0a\x03abc",
    direction: model.Direction = model.Direction.REQUEST,
    stream: int = 1,
    connection: int = 1,
    seq: int | None = None,
    method: str = "",
) -> model.MessageSeen:
    """A message; `method` as the reader fills it in from the stream's open event (decoders need it)."""
    return model.MessageSeen(
        **_stamp(seq), connection=connection, stream=stream, direction=direction, raw=raw, method=method
    )


def tclose(stream: int = 1, connection: int = 1, code: int = 0, seq: int | None = None) -> model.StreamClosed:
    return model.StreamClosed(
        **_stamp(seq),
        connection=connection,
        stream=stream,
        code=code,
        details="" if code == 0 else "boom",
        trailers=(("x-trailer", b"t"),),
        cause=model.CloseCause.UPSTREAM,
    )


def tstop(seq: int | None = None) -> model.CaptureStopped:
    return model.CaptureStopped(**_stamp(seq), records_written=0, records_lost=0, reason="test")
