"""What a control plane saw and did, in order: streams, exact message bytes, ACKs and NACKs, with waits.

The server's loop appends; tests and front ends read and wait from other
threads. Raw bytes are kept exactly as received and as sent, so a recording
made by xdsspy in between can be compared with them byte for byte.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import hashlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from xdsspy import model

_T = TypeVar("_T")


class StreamEnd(enum.StrEnum):
    CLIENT_DONE = "client_done"  # the client half-closed; the server finished with OK
    CANCELLED = "cancelled"  # the client (or a proxy on its behalf) cancelled or went away
    SERVER_STOPPED = "server_stopped"
    REJECTED = "rejected"  # a request did not parse; the stream was aborted
    ERROR = "error"


@dataclasses.dataclass(frozen=True, slots=True)
class StreamInfo:
    id: int
    method: str
    peer: str
    opened_seq: int  # position in the journal, comparable with mark()
    node_id: str | None = None
    end: StreamEnd | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LoggedMessage:
    seq: int
    stream: int
    method: str
    direction: model.Direction  # REQUEST = client -> control plane
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    stream: int
    node_id: str | None
    type_url: str
    version: str
    nonce: str
    at: float = dataclasses.field(default=0.0, compare=False)  # time.monotonic() when it came


@dataclasses.dataclass(frozen=True, slots=True)
class Subscribed:
    """A first request for a type on a stream: from now on the stream is sent that type's versions."""

    seq: int
    stream: int
    node_id: str | None
    type_url: str


@dataclasses.dataclass(frozen=True, slots=True)
class Sent:
    """A response written to a stream: which version of which type, under which nonce."""

    seq: int
    stream: int
    node_id: str | None
    type_url: str
    version: str
    nonce: str


@dataclasses.dataclass(frozen=True, slots=True)
class Handled:
    """A stream took in a new version of a type (a push); `sent` False: its client needed nothing of it."""

    seq: int
    stream: int
    node_id: str | None
    type_url: str
    version: str
    sent: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Nack:
    seq: int
    stream: int
    node_id: str | None
    type_url: str
    version: str  # the rejected version ("" if the nonce was not one we know)
    nonce: str
    error_code: int
    error_message: str
    last_good_version: str  # SotW version_info of the NACK; "" in Delta


class Journal:
    """Append-only, thread-safe; every read returns a copy, every wait is bounded."""

    def __init__(self, *, keep_messages: bool = True) -> None:
        """keep_messages=False: message bytes are not kept (a replay of 100 pushes of 12 MB would
        hold them all), only the verdicts, subscriptions and responses sent."""
        self._keep_messages = keep_messages
        self._changed = threading.Condition()
        self._seq = 0
        self._next_stream = 0
        self._streams: dict[int, StreamInfo] = {}
        self._messages: list[LoggedMessage] = []
        self._acks: list[Ack] = []
        self._nacks: list[Nack] = []
        self._subscribed: list[Subscribed] = []
        self._sent: list[Sent] = []
        self._handled: list[Handled] = []

    # -- written by the server ------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def open_stream(self, method: str, peer: str) -> int:
        with self._changed:
            self._next_stream += 1
            self._streams[self._next_stream] = StreamInfo(self._next_stream, method, peer, self._next_seq())
            self._changed.notify_all()
            return self._next_stream

    def set_node(self, stream: int, node_id: str) -> None:
        with self._changed:
            self._streams[stream] = dataclasses.replace(self._streams[stream], node_id=node_id)
            self._changed.notify_all()

    def end_stream(self, stream: int, end: StreamEnd) -> None:
        with self._changed:
            self._streams[stream] = dataclasses.replace(self._streams[stream], end=end)
            self._next_seq()
            self._changed.notify_all()

    def message(self, stream: int, direction: model.Direction, raw: bytes) -> None:
        if not self._keep_messages:
            return
        with self._changed:
            method = self._streams[stream].method
            self._messages.append(LoggedMessage(self._next_seq(), stream, method, direction, raw))
            self._changed.notify_all()

    def ack(self, stream: int, type_url: str, version: str, nonce: str) -> None:
        with self._changed:
            node = self._streams[stream].node_id
            self._acks.append(Ack(self._next_seq(), stream, node, type_url, version, nonce, time.monotonic()))
            self._changed.notify_all()

    def subscribed(self, stream: int, type_url: str) -> None:
        with self._changed:
            node = self._streams[stream].node_id
            self._subscribed.append(Subscribed(self._next_seq(), stream, node, type_url))
            self._changed.notify_all()

    def sent(self, stream: int, type_url: str, version: str, nonce: str) -> None:
        with self._changed:
            node = self._streams[stream].node_id
            self._sent.append(Sent(self._next_seq(), stream, node, type_url, version, nonce))
            self._changed.notify_all()

    def handled(self, stream: int, type_url: str, version: str, *, sent: bool) -> None:
        with self._changed:
            node = self._streams[stream].node_id
            self._handled.append(Handled(self._next_seq(), stream, node, type_url, version, sent))
            self._changed.notify_all()

    def nack(
        self,
        stream: int,
        type_url: str,
        version: str,
        nonce: str,
        *,
        error_code: int,
        error_message: str,
        last_good_version: str,
    ) -> None:
        with self._changed:
            node = self._streams[stream].node_id
            self._nacks.append(
                Nack(
                    self._next_seq(),
                    stream,
                    node,
                    type_url,
                    version,
                    nonce,
                    error_code,
                    error_message,
                    last_good_version,
                )
            )
            self._changed.notify_all()

    # -- read from anywhere ---------------------------------------------------------------

    def mark(self) -> int:
        """The sequence number of the latest entry: pass it as `after` to wait only for newer ones."""
        with self._changed:
            return self._seq

    def streams(self) -> list[StreamInfo]:
        with self._changed:
            return list(self._streams.values())

    def stream(self, stream: int) -> StreamInfo:
        with self._changed:
            return self._streams[stream]

    def messages(self, stream: int | None = None) -> list[LoggedMessage]:
        with self._changed:
            return [m for m in self._messages if stream is None or m.stream == stream]

    def acks(self, after: int = 0) -> list[Ack]:
        """Every ACK, or those after mark `after` only (cheap however long the history)."""
        with self._changed:
            return self._acks[bisect.bisect_right(self._acks, after, key=_seq_of) :]

    def nacks(self) -> list[Nack]:
        with self._changed:
            return list(self._nacks)

    def subscriptions(self) -> list[Subscribed]:
        with self._changed:
            return list(self._subscribed)

    def sent_responses(self) -> list[Sent]:
        with self._changed:
            return list(self._sent)

    def handled_pushes(self) -> list[Handled]:
        with self._changed:
            return list(self._handled)

    def wait(self, find: Callable[[], _T | None], timeout: float, waiting_for: str) -> _T:
        """Return find()'s first non-None answer, re-asked after every change; TimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = find()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"control plane: no {waiting_for} within {timeout:g} s; {self._summary()}"
                    )
                self._changed.wait(remaining)

    def _summary(self) -> str:
        acks = ", ".join(f"{_short(a.type_url)} v{a.version} (stream {a.stream})" for a in self._acks[-8:])
        nacks = ", ".join(
            f"{_short(n.type_url)} v{n.version} (stream {n.stream}): {n.error_message}"
            for n in self._nacks[-4:]
        )
        streams = ", ".join(
            f"{s.id} {s.method.rsplit('/', 1)[-1]} node={s.node_id} {s.end or 'open'}"
            for s in list(self._streams.values())[-6:]
        )
        return (
            f"streams: [{streams or 'none'}]; latest ACKs: [{acks or 'none'}]; "
            f"latest NACKs: [{nacks or 'none'}]; {len(self._messages)} messages"
        )


def _seq_of(entry: Ack) -> int:
    return entry.seq


def _short(type_url: str) -> str:
    return type_url.rsplit(".", 1)[-1]
