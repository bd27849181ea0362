"""Each Envoy's resources, folded from the conversation: what it accepted, what it rejected, what is pending.

A response is only a proposal; Envoy's ACK makes it state. So a response's
resources wait as pending under their nonce, an ACK applies them (SotW
full-state types replace the whole set, other types and delta update per
resource, delta removals and SotW absences delete), and a NACK marks them
NACKED beside the accepted ones, which stay. A NACKED resource goes when
Envoy accepts it after all, or accepts a set that no longer holds it (a
full-state push without it, or a delta removal). Caveat, as in Envoy itself: a
NACKed CDS or LDS push may still have been applied in part; Envoy's
/config_dump is the judge of that, the recording is the judge of what was said.

Sans-I/O: `Tracker.apply` takes one event and returns a `Step` plus the state
changes it caused, which `timeline.Timeline` stores to seek anywhere.
"""

from __future__ import annotations

import dataclasses
import enum

from xdsspy import grpc_status
from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import nodes
from xdsspy.state import protocol
from xdsspy.state import rest


class Status(enum.StrEnum):
    ACKED = "acked"
    NACKED = "nacked"
    PENDING = "pending"


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceState:
    """One resource as one Envoy holds it (or rejected it)."""

    name: str
    type_url: str
    version: str
    digest: str
    status: Status
    seq: int  # the response that carried this body
    entry: envelope.ResourceEntry | None = None  # decode on demand with decode.resources
    error: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One state transition: (node, type_url, name) in `accepted` or `rejected` becomes value (None: gone)."""

    table: str  # "accepted" or "rejected"
    node: str
    type_url: str
    name: str
    value: ResourceState | None


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One recorded event as the timeline shows it: no resource bodies, just what it meant."""

    seq: int
    wall_ns: int
    monotonic_ns: int
    connection: int
    stream: int
    event: str  # open, message, headers, close, gap, note, capture_start, capture_stop
    method: str = ""
    direction: str = ""
    node: str = ""
    envelope: envelope.Envelope | None = None
    verdict: protocol.Verdict | None = None
    text: str = ""  # for non-message events: a one-line description
    size: int = 0


@dataclasses.dataclass(slots=True)
class _Pending:
    type_url: str
    node: str
    seq: int
    version: str
    entries: tuple[envelope.ResourceEntry, ...]
    removed: tuple[str, ...]
    replace_all: bool
    kept: frozenset[str] = frozenset()  # TTL heartbeats: present, unchanged

    @classmethod
    def of(
        cls,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        verdict: protocol.Verdict,
        node: str,
        *,
        sotw: bool,
    ) -> _Pending:
        """A push waiting for its ACK or NACK. A REST answer is the state of the world, like SotW."""
        return cls(
            type_url=verdict.type_url,
            node=node,
            seq=event.seq,
            version=decoded.version,
            entries=tuple(e for e in decoded.resources if not e.heartbeat),
            removed=verdict.removed,
            replace_all=sotw and verdict.type_url in protocol.FULL_STATE_TYPES,
            kept=frozenset(verdict.heartbeats),
        )


_EVENT_NAMES = {
    model.StreamOpened: "open",
    model.MessageSeen: "message",
    model.ResponseHeadersSeen: "headers",
    model.StreamClosed: "close",
    model.Gap: "gap",
    model.Note: "note",
    model.CaptureStarted: "capture_start",
    model.CaptureStopped: "capture_stop",
}

State = dict[str, dict[str, dict[str, ResourceState]]]
"""node -> type_url -> name -> state."""


def unknown_node(connection: int) -> str:
    return f"(node unknown, connection {connection})"


class Tracker:
    """Folds events into per-node state; see the module docstring."""

    def __init__(self) -> None:
        self.accepted: State = {}
        self.rejected: State = {}
        self._nodes = nodes.NodeMemory()
        self._streams: dict[tuple[int, int], protocol.StreamProtocol] = {}
        self._pending: dict[tuple[int, int, str], _Pending] = {}
        self._shared: set[int] = set()  # ids of maps a checkpoint holds: copy before changing
        self._rest = rest.RestProtocol()
        self._rest_pending: dict[rest.PollKey, _Pending] = {}
        self._rest_polls: dict[tuple[int, int], tuple[str, ...]] = {}  # stream -> names it polled for
        self._http_status: dict[tuple[int, int], int] = {}

    # -- checkpoints (copy on write) ----------------------------------------------------------

    def snapshot(self) -> tuple[State, State]:
        """A view of the current state that later changes will not alter."""
        views = []
        for table in (self.accepted, self.rejected):
            copy = {node: dict(types) for node, types in table.items()}
            for types in table.values():
                self._shared.update(id(m) for m in types.values())
            views.append(copy)
        return views[0], views[1]

    def _map(self, table: State, node: str, type_url: str) -> dict[str, ResourceState]:
        types = table.setdefault(node, {})
        current = types.get(type_url)
        if current is None:
            current = types[type_url] = {}
        elif id(current) in self._shared:
            current = types[type_url] = dict(current)
        return current

    # -- folding ----------------------------------------------------------------------------------

    def apply(self, event: model.Event) -> tuple[Step, list[Change]]:
        common = {
            "seq": event.seq,
            "wall_ns": event.wall_ns,
            "monotonic_ns": event.monotonic_ns,
            "connection": event.connection,
            "stream": event.stream,
            "event": _EVENT_NAMES[type(event)],
        }
        key = (event.connection, event.stream)
        if isinstance(event, model.MessageSeen):
            decoded = discovery.decode(event.method, event.direction, bytes(event.raw))
            decoded = self._nodes.observe(key, decoded)
            node = decoded.node.id if decoded.node else unknown_node(event.connection)
            if decoded.method.rest:
                verdict, changes = self._rest_poll(event, decoded, node)
            else:
                stream = self._streams.setdefault(key, protocol.StreamProtocol())
                verdict = stream.observe(event.seq, event.monotonic_ns, decoded)
                changes = self._fold(event, decoded, verdict, node)
            step = Step(
                **common,  # type: ignore[arg-type]
                method=event.method,
                direction=str(event.direction),
                node=node,
                envelope=dataclasses.replace(decoded, resources=()) if decoded.resources else decoded,
                verdict=verdict,
                size=len(event.raw),
            )
            return step, changes
        node_info = self._nodes.get(key)
        node = node_info.id if node_info else ""
        text = ""
        method = getattr(event, "method", "")
        if isinstance(event, model.ResponseHeadersSeen) and event.http_status:
            self._http_status[key] = event.http_status
        if isinstance(event, model.StreamClosed):
            self._http_status.pop(key, None)
            self._rest_polls.pop(key, None)
            self._streams.pop(key, None)
            self._nodes.forget(key)
            self._pending = {k: v for k, v in self._pending.items() if k[:2] != key}
            text = f"{grpc_status.name(event.code)} {event.details!r} ({event.cause})"
        elif isinstance(event, model.StreamOpened):
            text = f"from {event.peer}"
        elif isinstance(event, model.Gap):
            text = f"{event.records_lost} records missing: {event.reason}"
        elif isinstance(event, model.Note):
            text = f"{event.level}: {event.text}"
        return Step(**common, method=method, node=node, text=text), []  # type: ignore[arg-type]

    def _fold(
        self, event: model.MessageSeen, decoded: envelope.Envelope, verdict: protocol.Verdict, node: str
    ) -> list[Change]:
        key = (event.connection, event.stream)
        kind = verdict.kind
        if decoded.kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
            if kind == protocol.VerdictKind.HEARTBEAT:
                return []
            self._pending[(*key, decoded.nonce)] = _Pending.of(
                event, decoded, verdict, node, sotw=decoded.kind == envelope.Kind.SOTW_RESPONSE
            )
            return []
        if kind not in (protocol.VerdictKind.ACK, protocol.VerdictKind.STALE, protocol.VerdictKind.NACK):
            return []
        pending = self._pending.pop((*key, decoded.response_nonce), None)
        if pending is None:
            return []
        if kind == protocol.VerdictKind.NACK:
            return self._reject(pending, verdict.error)
        return self._accept(pending)

    def _rest_poll(
        self, event: model.MessageSeen, decoded: envelope.Envelope, node: str
    ) -> tuple[protocol.Verdict, list[Change]]:
        """A REST poll's request or answer: verdicts by version (REST has no nonce), then the fold."""
        key = (event.connection, event.stream)
        if event.direction == model.Direction.REQUEST:
            self._rest_polls[key] = decoded.resource_names
            series = self._rest.key(node, decoded, decoded.resource_names)
            verdict = self._rest.request(series, event.seq, event.monotonic_ns, decoded)
            pending = self._rest_pending.pop(series, None) if verdict.answers_seq is not None else None
            if pending is None:
                return verdict, []
            if verdict.kind == protocol.VerdictKind.NACK:
                return verdict, self._reject(pending, "REST: the next poll kept the old version_info")
            return verdict, self._accept(pending)
        series = self._rest.key(node, decoded, self._rest_polls.get(key, ()))
        status = self._http_status.get(key, 200)
        verdict = self._rest.response(series, event.seq, event.monotonic_ns, decoded, status)
        if verdict.kind == protocol.VerdictKind.PUSH:
            self._rest_pending[series] = _Pending.of(event, decoded, verdict, node, sotw=True)
        return verdict, []

    def _accept(self, pending: _Pending) -> list[Change]:
        accepted = self._map(self.accepted, pending.node, pending.type_url)
        held_rejected = self.rejected.get(pending.node, {}).get(pending.type_url, {})
        changes: list[Change] = []
        names = {e.name for e in pending.entries}
        if pending.replace_all:
            gone = [n for n in accepted if n not in names and n not in pending.kept]
            withdrawn = [n for n in held_rejected if n not in names and n not in pending.kept]
        else:
            gone = list(pending.removed)
            withdrawn = [n for n in pending.removed if n in held_rejected]
        for name in gone:
            if accepted.pop(name, None) is not None:
                changes.append(Change("accepted", pending.node, pending.type_url, name, None))
        # A rejected resource the control plane no longer sends, in a set Envoy accepted, is gone:
        # nobody proposes it any more (the usual fix for a bad push is to drop the culprit).
        for name in withdrawn:
            del self._map(self.rejected, pending.node, pending.type_url)[name]
            changes.append(Change("rejected", pending.node, pending.type_url, name, None))
        for entry in pending.entries:
            state = _state(pending, entry, Status.ACKED)
            previous = accepted.get(entry.name)
            # As in Envoy's /config_dump, a resource resent unchanged keeps the version that brought it.
            if previous is None or previous.digest != state.digest:
                accepted[entry.name] = state
                changes.append(Change("accepted", pending.node, pending.type_url, entry.name, state))
            if entry.name in held_rejected:
                del self._map(self.rejected, pending.node, pending.type_url)[entry.name]
                changes.append(Change("rejected", pending.node, pending.type_url, entry.name, None))
        return changes

    def _reject(self, pending: _Pending, error: str) -> list[Change]:
        """Mark what the push would have changed as NACKED; resources resent unchanged were not rejected."""
        accepted = self.accepted.get(pending.node, {}).get(pending.type_url, {})
        rejected = self._map(self.rejected, pending.node, pending.type_url)
        changes: list[Change] = []
        for entry in pending.entries:
            held = accepted.get(entry.name)
            if held is not None and held.digest == entry.digest:
                continue
            state = _state(pending, entry, Status.NACKED, error)
            rejected[entry.name] = state
            changes.append(Change("rejected", pending.node, pending.type_url, entry.name, state))
        return changes


def _state(
    pending: _Pending, entry: envelope.ResourceEntry, status: Status, error: str = ""
) -> ResourceState:
    """One resource of a pending push, as Envoy now holds (or rejected) it."""
    return ResourceState(
        name=entry.name,
        type_url=pending.type_url,
        version=entry.version or pending.version,
        digest=entry.digest,
        status=status,
        seq=pending.seq,
        entry=entry,
        error=error,
    )
