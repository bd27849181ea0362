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
    entry: envelope.ResourceEntry | None = None  # decode on demand with decode.resources; None when lean
    error: str = ""
    index: int = 0  # its position in that response: (seq, index) finds its bytes in the recording


class Table(enum.StrEnum):
    """Which of a node's resource tables a change is about."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class EventKind(enum.StrEnum):
    """What a step was recorded as (`model.Event` classes, one word each)."""

    OPEN = "open"
    MESSAGE = "message"
    HEADERS = "headers"
    CLOSE = "close"
    GAP = "gap"
    NOTE = "note"
    CAPTURE_START = "capture_start"
    CAPTURE_STOP = "capture_stop"


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One state transition: (node, type_url, name) in `accepted` or `rejected` becomes value (None: gone)."""

    table: Table
    node: str
    type_url: str
    name: str
    value: ResourceState | None


@dataclasses.dataclass(slots=True)
class Step:
    """One recorded event as the timeline shows it: no resource bodies, just what it meant.

    Treat it as immutable; not frozen for the reason `envelope.Envelope` gives (one per message).
    """

    seq: int
    wall_ns: int
    monotonic_ns: int
    connection: int
    stream: int
    event: EventKind
    method: str = ""
    direction: str = ""
    node: str = ""  # the node id, or for a message of a stream whose node is unknown, unknown_node()
    envelope: envelope.Envelope | None = None
    verdict: protocol.Verdict | None = None
    text: str = ""  # for non-message events: a one-line description
    size: int = 0
    node_known: bool = True  # False: `node` only names the connection (no request has said who it is)
    names: tuple[str, ...] = ()  # a response: the names of the resources it carries


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
        resources: tuple[envelope.ResourceEntry, ...],
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
            entries=tuple([e for e in resources if not e.heartbeat]),
            removed=verdict.removed,
            replace_all=sotw and verdict.type_url in protocol.FULL_STATE_TYPES,
            kept=frozenset(verdict.heartbeats),
        )


_EVENT_KINDS = {
    model.StreamOpened: EventKind.OPEN,
    model.MessageSeen: EventKind.MESSAGE,
    model.ResponseHeadersSeen: EventKind.HEADERS,
    model.StreamClosed: EventKind.CLOSE,
    model.Gap: EventKind.GAP,
    model.Note: EventKind.NOTE,
    model.CaptureStarted: EventKind.CAPTURE_START,
    model.CaptureStopped: EventKind.CAPTURE_STOP,
}

State = dict[str, dict[str, dict[str, ResourceState]]]
"""node -> type_url -> name -> state."""


def unknown_node(connection: int) -> str:
    return f"(node unknown, connection {connection})"


class Tracker:
    """Folds events into per-node state; see the module docstring."""

    def __init__(self, *, keep_bodies: bool = True) -> None:
        """keep_bodies=False: resource states carry no bytes (`entry` None), only where to find them."""
        self.keep_bodies = keep_bodies
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
        types = table.get(node)
        if types is None:
            types = table[node] = {}
        current = types.get(type_url)
        if current is None:
            current = types[type_url] = {}
        elif id(current) in self._shared:
            current = types[type_url] = dict(current)
        return current

    # -- folding ----------------------------------------------------------------------------------

    def apply(self, event: model.Event) -> tuple[Step, list[Change]]:
        key = (event.connection, event.stream)
        if isinstance(event, model.MessageSeen):
            return self._message(event, key)
        node_info = self._nodes.get(key)
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
        step = Step(
            event.seq,
            event.wall_ns,
            event.monotonic_ns,
            event.connection,
            event.stream,
            _EVENT_KINDS[type(event)],
            method=method,
            node=node_info.id if node_info else "",
            text=text,
            node_known=node_info is not None,
        )
        return step, []

    def _message(self, event: model.MessageSeen, key: tuple[int, int]) -> tuple[Step, list[Change]]:
        remembered = self._nodes.get(key)
        decoded, resources = discovery.decode_apart(
            event.method, event.direction, bytes(event.raw), stream_node=remembered
        )
        if decoded.node is not None and not decoded.node_from_stream:
            self._nodes.remember(key, decoded.node)
        node = decoded.node.id if decoded.node else unknown_node(event.connection)
        if decoded.method.rest:
            verdict, changes = self._rest_poll(event, decoded, resources, node)
        else:
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = protocol.StreamProtocol()
            verdict = stream.observe(event.seq, event.monotonic_ns, decoded, resources)
            changes = self._fold(event, decoded, resources, verdict, node)
        step = Step(
            event.seq,
            event.wall_ns,
            event.monotonic_ns,
            event.connection,
            event.stream,
            EventKind.MESSAGE,
            event.method,
            event.direction,
            node,
            decoded,
            verdict,
            "",
            len(event.raw),
            decoded.node is not None,
            tuple([e.name for e in resources]) if resources else (),
        )
        return step, changes

    def _fold(
        self,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        resources: tuple[envelope.ResourceEntry, ...],
        verdict: protocol.Verdict,
        node: str,
    ) -> list[Change]:
        key = (event.connection, event.stream)
        kind = verdict.kind
        if decoded.kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
            if kind == protocol.VerdictKind.HEARTBEAT:
                return []
            self._pending[(*key, decoded.nonce)] = _Pending.of(
                event, decoded, resources, verdict, node, sotw=decoded.kind == envelope.Kind.SOTW_RESPONSE
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
        self,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        resources: tuple[envelope.ResourceEntry, ...],
        node: str,
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
        verdict = self._rest.response(series, event.seq, event.monotonic_ns, decoded, resources, status)
        if verdict.kind == protocol.VerdictKind.PUSH:
            self._rest_pending[series] = _Pending.of(event, decoded, resources, verdict, node, sotw=True)
        return verdict, []

    def _accept(self, pending: _Pending) -> list[Change]:
        accepted = self._map(self.accepted, pending.node, pending.type_url)
        held_rejected = self.rejected.get(pending.node, {}).get(pending.type_url, {})
        changes: list[Change] = []
        if pending.replace_all:
            names = {e.name for e in pending.entries}
            gone = [n for n in accepted if n not in names and n not in pending.kept]
            withdrawn = [n for n in held_rejected if n not in names and n not in pending.kept]
        else:
            gone = list(pending.removed)
            withdrawn = [n for n in pending.removed if n in held_rejected]
        for name in gone:
            if accepted.pop(name, None) is not None:
                changes.append(Change(Table.ACCEPTED, pending.node, pending.type_url, name, None))
        # A rejected resource the control plane no longer sends, in a set Envoy accepted, is gone:
        # nobody proposes it any more (the usual fix for a bad push is to drop the culprit).
        for name in withdrawn:
            del self._map(self.rejected, pending.node, pending.type_url)[name]
            changes.append(Change(Table.REJECTED, pending.node, pending.type_url, name, None))
        for entry in pending.entries:
            previous = accepted.get(entry.name)
            # As in Envoy's /config_dump, a resource resent unchanged keeps the version that brought it.
            if previous is None or previous.digest != entry.digest:
                state = _state(pending, entry, Status.ACKED, keep=self.keep_bodies)
                accepted[entry.name] = state
                changes.append(Change(Table.ACCEPTED, pending.node, pending.type_url, entry.name, state))
            if held_rejected and entry.name in held_rejected:
                del self._map(self.rejected, pending.node, pending.type_url)[entry.name]
                changes.append(Change(Table.REJECTED, pending.node, pending.type_url, entry.name, None))
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
            state = _state(pending, entry, Status.NACKED, error, keep=self.keep_bodies)
            rejected[entry.name] = state
            changes.append(Change(Table.REJECTED, pending.node, pending.type_url, entry.name, state))
        return changes


def _state(
    pending: _Pending, entry: envelope.ResourceEntry, status: Status, error: str = "", *, keep: bool
) -> ResourceState:
    """One resource of a pending push, as Envoy now holds (or rejected) it."""
    return ResourceState(
        entry.name,
        pending.type_url,
        entry.version or pending.version,
        entry.digest,
        status,
        pending.seq,
        entry if keep else None,
        error,
        entry.index,
    )
