"""The seam between the forwarding path and whoever consumes its events."""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Protocol

from xdsspy import model
from xdsspy.grpc_status import Code


class Sink(Protocol):
    """Receives every captured event. publish() must return at once and never raise."""

    def publish(self, event: model.Event) -> None: ...


class NullSink:
    """Used when recording is off: forwarding still works, nothing is kept."""

    def publish(self, event: model.Event) -> None:
        return None


class FanOut:
    """Publishes to several sinks; one failing sink does not stop the others or the data path."""

    def __init__(self, *sinks: Sink) -> None:
        self._sinks = sinks

    def publish(self, event: model.Event) -> None:
        for sink in self._sinks:
            try:
                sink.publish(event)
            except Exception:
                pass


class Ids:
    """Connection and stream ids for every proxy of one capture process.

    The gRPC and REST proxies of one capture write into one recording, where a
    (connection, stream) pair must name one thing only; so they draw from the
    same counters instead of each keeping its own.
    """

    def __init__(self) -> None:
        self._connections = itertools.count(1)
        self._streams = itertools.count(1)

    def new_connection(self) -> int:
        return next(self._connections)

    def new_stream(self) -> int:
        return next(self._streams)


class Stamper:
    """Hands out sequence numbers and timestamps in forwarding order (one event loop, no lock)."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)

    def stamp(self) -> model.Stamp:
        return {"seq": next(self._seq), "wall_ns": time.time_ns(), "monotonic_ns": time.monotonic_ns()}


@dataclasses.dataclass(slots=True)
class ConnectionContext:
    """One relayed connection as the parts reading it share it: its id and peer, where its events go,
    the size limit, and, once set, why xdsspy answers for its control plane."""

    connection: int
    peer: str
    sink: Sink
    stamper: Stamper
    ids: Ids
    max_message_bytes: int
    unreachable: str = ""  # set when xdsspy answers for a control plane it could not reach

    def publish(self, event: model.Event) -> None:
        self.sink.publish(event)

    def stamp(self) -> model.Stamp:
        return self.stamper.stamp()

    def stream_ids(self, stream: int) -> model.StreamIds:
        return {"connection": self.connection, "stream": stream}

    def new_stream(self) -> model.StreamIds:
        """Ids for a stream about to be recorded (ids are shared by every proxy of the capture)."""
        return self.stream_ids(self.ids.new_stream())

    def note(self, level: model.NoteLevel, text: str, stream: int = 0) -> None:
        self.publish(model.Note(**self.stamp(), **self.stream_ids(stream), level=level, text=text))

    def ending(self, cause: model.CloseCause, details: str) -> tuple[int, model.CloseCause, str]:
        """How a stream still open ends when its connection does: its code, cause and details."""
        if self.unreachable:
            return Code.UNAVAILABLE, model.CloseCause.UPSTREAM_UNAVAILABLE, self.unreachable
        return (Code.UNAVAILABLE if cause is model.CloseCause.UPSTREAM else Code.CANCELLED), cause, details
