"""What a replay sees of the fresh Envoy: did it ask for a type, was a version sent, how did it answer.

Two control planes stand behind a replay: the gRPC one (SotW and Delta ADS,
`controlplane.server`), whose journal says what each stream subscribed to, was
sent and answered; and the REST one, where only polls tell: a version is sent
at the first poll after it is set, ACKed when the next poll carries it, and
NACKed when the next poll still carries the old one (REST has no error_detail).

The fresh Envoy is the first node that connects; any other is served the same
pushes but does not count (`others`).
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar

from xdsspy.replay import plan as plan_mod

if TYPE_CHECKING:
    from xdsspy.controlplane import rest as rest_cp
    from xdsspy.controlplane import server as server_mod

_T = TypeVar("_T")

POLL_INTERVAL_S = 0.02
"""How often the REST observer looks at the polls (REST has no events to wait on)."""


class Kind(enum.StrEnum):
    NOT_ASKED = "not_asked"  # no open stream of the fresh Envoy has asked for the type
    GONE = "gone"  # the fresh Envoy has no open stream (it may come back: a reconnect)
    PENDING = "pending"  # asked, and sent or about to be: the answer is still to come
    NOT_NEEDED = "not_needed"  # the stream took the version in and needed nothing of it (nothing sent)
    ANSWERED = "answered"


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    kind: Kind
    answer: plan_mod.Answer | None = None


class Observer(Protocol):
    def serve(self, type_url: str, entries: Iterable[tuple[str, bytes]], version: str) -> None: ...

    def status(self, type_url: str, version: str) -> Status: ...

    def wait(self, find: Callable[[], _T | None], timeout: float) -> _T | None: ...

    def fresh_node(self) -> str | None: ...

    def others(self) -> list[str]: ...

    def reconnects(self) -> int: ...


class GrpcObserver:
    """The fresh Envoy as the ADS control plane's journal tells it."""

    def __init__(self, control_plane: server_mod.ControlPlane) -> None:
        self.control_plane = control_plane
        self._journal = control_plane.journal

    def serve(self, type_url: str, entries: Iterable[tuple[str, bytes]], version: str) -> None:
        self.control_plane.set_raw(type_url, entries, version=version)

    def fresh_node(self) -> str | None:
        return next((s.node_id for s in self._journal.streams() if s.node_id is not None), None)

    def others(self) -> list[str]:
        nodes: list[str] = []
        for stream in self._journal.streams():
            if stream.node_id is not None and stream.node_id not in nodes:
                nodes.append(stream.node_id)
        return nodes[1:]

    def reconnects(self) -> int:
        node = self.fresh_node()
        return max(0, sum(1 for s in self._journal.streams() if s.node_id == node) - 1)

    def status(self, type_url: str, version: str) -> Status:
        node = self.fresh_node()
        if node is None:
            return Status(Kind.NOT_ASKED)
        journal = self._journal
        for ack in journal.acks():
            if ack.node_id == node and ack.type_url == type_url and ack.version == version:
                return Status(Kind.ANSWERED, plan_mod.Answer("ack"))
        for nack in journal.nacks():
            if nack.node_id == node and nack.type_url == type_url and nack.version == version:
                return Status(Kind.ANSWERED, plan_mod.Answer("nack", nack.error_message))
        open_streams = {s.id for s in journal.streams() if s.node_id == node and s.end is None}
        if not open_streams:
            return Status(Kind.GONE)
        asking: dict[int, int] = {}  # stream -> when it asked for the type
        for subscribed in journal.subscriptions():
            if subscribed.stream in open_streams and subscribed.type_url == type_url:
                asking.setdefault(subscribed.stream, subscribed.seq)
        if not asking:
            return Status(Kind.NOT_ASKED)
        if any(
            s.stream in asking and s.type_url == type_url and s.version == version
            for s in journal.sent_responses()
        ):
            return Status(Kind.PENDING)
        # A stream needed nothing of this version if it took it in *after* asking for the type (before,
        # it was not subscribed, and its first request will be answered with this version).
        unneeded = {
            h.stream
            for h in journal.handled_pushes()
            if h.type_url == type_url
            and h.version == version
            and not h.sent
            and h.seq > asking.get(h.stream, h.seq)
        }
        return Status(Kind.NOT_NEEDED if set(asking) <= unneeded else Kind.PENDING)

    def wait(self, find: Callable[[], _T | None], timeout: float) -> _T | None:
        try:
            return self._journal.wait(find, timeout, "answer")
        except TimeoutError:
            return None


class RestObserver:
    """The fresh Envoy as its polls tell it: one poller, each type at its REST path."""

    def __init__(self, control_plane: rest_cp.RestControlPlane) -> None:
        from xdsspy.controlplane import rest as rest_cp

        self.control_plane = control_plane
        self._paths = {type_url: path for path, type_url in rest_cp.PATH_TYPES.items()}

    def serve(self, type_url: str, entries: Iterable[tuple[str, bytes]], version: str) -> None:
        self.control_plane.set_raw(type_url, entries, version=version)

    def fresh_node(self) -> str | None:
        return "REST poller" if self.control_plane.polls else None

    def others(self) -> list[str]:
        return []

    def reconnects(self) -> int:
        return 0  # polls are connections of their own: nothing to count

    def status(self, type_url: str, version: str) -> Status:
        path = self._paths.get(type_url)
        polls = [p for p in self.control_plane.polls if p.path == path]
        if not polls:
            return Status(Kind.NOT_ASKED)
        served = next(
            (i for i, p in enumerate(polls) if p.status == 200 and p.served_version == version), None
        )
        if served is None or served + 1 >= len(polls):
            return Status(Kind.PENDING)
        following = polls[served + 1]
        if following.version_info == version:
            return Status(Kind.ANSWERED, plan_mod.Answer("ack"))
        return Status(Kind.ANSWERED, plan_mod.Answer("nack", ""))

    def wait(self, find: Callable[[], _T | None], timeout: float) -> _T | None:
        deadline = time.monotonic() + timeout
        while True:
            found = find()
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_INTERVAL_S)
