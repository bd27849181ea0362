"""Reads a recording's events in order: each becomes a `Step` with its verdict, and each answer a `Fold`.

For every message: the envelope decoded (resources apart), its stream's node
remembered, the verdict of the stream's protocol (state.protocol, state.rest
for REST polls), and, for an ACK or NACK of a known push, the `Fold` that
changes what its Envoy holds (state.holdings). By default the fold is applied
at once and `apply` returns the changes; with `fold=False` it is handed out as
`deferred`, for a timeline that folds state only when someone asks for it
(verdicts and counts need no state).

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
from xdsspy.state import holdings as holdings_mod
from xdsspy.state import protocol
from xdsspy.state import rest

# The state types are the holdings' own; they are named here too because every reader of steps uses them.
Status = holdings_mod.Status
Table = holdings_mod.Table
ResourceState = holdings_mod.ResourceState
Change = holdings_mod.Change
State = holdings_mod.State


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


_RESPONSES = (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE)


def unknown_node(connection: int) -> str:
    return f"(node unknown, connection {connection})"


class Tracker:
    """Folds events into per-node state; see the module docstring."""

    def __init__(self, *, keep_bodies: bool = True, fold: bool = True) -> None:
        """keep_bodies=False: resource states carry no bytes (`entry` None), only where to find them.
        fold=False: an answer's fold is left in `deferred` (for the caller to apply), not applied."""
        self.keep_bodies = keep_bodies
        self.fold = fold
        self.holdings = holdings_mod.Holdings()
        self.deferred: holdings_mod.Fold | None = None  # fold=False: the fold of the last event, if any
        self._nodes = nodes.NodeMemory()
        self._streams: dict[tuple[int, int], protocol.StreamProtocol] = {}
        self._pending: dict[tuple[int, int, str], holdings_mod.Pending] = {}
        self._rest = rest.RestProtocol()
        self._rest_pending: dict[rest.PollKey, holdings_mod.Pending] = {}
        self._rest_polls: dict[tuple[int, int], tuple[str, ...]] = {}  # stream -> names it polled for
        self._http_status: dict[tuple[int, int], int] = {}

    @property
    def accepted(self) -> State:
        return self.holdings.accepted

    @property
    def rejected(self) -> State:
        return self.holdings.rejected

    def snapshot(self) -> tuple[State, State]:
        """A view of the current state that later changes will not alter."""
        return self.holdings.snapshot()

    def _answer(self, pending: holdings_mod.Pending, *, accept: bool, error: str = "") -> list[Change]:
        fold = holdings_mod.Fold(pending, accept, error)
        if not self.fold:
            self.deferred = fold
            return []
        return self.holdings.apply(fold)

    # -- folding ----------------------------------------------------------------------------------

    def apply(self, event: model.Event) -> tuple[Step, list[Change]]:
        self.deferred = None
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
        carried = None
        if self.keep_bodies:
            decoded, resources = discovery.decode_apart(
                event.method, event.direction, bytes(event.raw), stream_node=remembered
            )
        else:
            decoded, resources, carried = discovery.decode_carried(
                event.method, event.direction, bytes(event.raw), stream_node=remembered
            )
        if decoded.node is not None and not decoded.node_from_stream:
            self._nodes.remember(key, decoded.node)
        node = decoded.node.id if decoded.node else unknown_node(event.connection)
        if carried is not None:
            offer = protocol.Offer(*carried)
        elif decoded.kind in _RESPONSES:
            offer = protocol.Offer.of(resources)
        else:
            offer = protocol.NOTHING_OFFERED
        if decoded.method.rest:
            verdict, changes = self._rest_poll(event, decoded, resources, offer, node)
        else:
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = protocol.StreamProtocol()
            verdict = stream.observe(event.seq, event.monotonic_ns, decoded, offer)
            changes = self._fold(event, decoded, resources, offer, verdict, node)
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
            offer.names,
        )
        return step, changes

    def _fold(
        self,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        resources: tuple[envelope.ResourceEntry, ...],
        offer: protocol.Offer,
        verdict: protocol.Verdict,
        node: str,
    ) -> list[Change]:
        key = (event.connection, event.stream)
        kind = verdict.kind
        if decoded.kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
            if kind == protocol.VerdictKind.HEARTBEAT:
                return []
            self._pending[(*key, decoded.nonce)] = holdings_mod.Pending.of(
                event,
                decoded,
                resources,
                offer,
                verdict,
                node,
                sotw=decoded.kind == envelope.Kind.SOTW_RESPONSE,
                keep_bodies=self.keep_bodies,
            )
            return []
        if kind not in (protocol.VerdictKind.ACK, protocol.VerdictKind.STALE, protocol.VerdictKind.NACK):
            return []
        pending = self._pending.pop((*key, decoded.response_nonce), None)
        if pending is None:
            return []
        if kind == protocol.VerdictKind.NACK:
            return self._answer(pending, accept=False, error=verdict.error)
        return self._answer(pending, accept=True)

    def _rest_poll(
        self,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        resources: tuple[envelope.ResourceEntry, ...],
        offer: protocol.Offer,
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
                error = "REST: the next poll kept the old version_info"
                return verdict, self._answer(pending, accept=False, error=error)
            return verdict, self._answer(pending, accept=True)
        series = self._rest.key(node, decoded, self._rest_polls.get(key, ()))
        status = self._http_status.get(key, 200)
        verdict = self._rest.response(series, event.seq, event.monotonic_ns, decoded, offer, status)
        if verdict.kind == protocol.VerdictKind.PUSH:
            self._rest_pending[series] = holdings_mod.Pending.of(
                event, decoded, resources, offer, verdict, node, sotw=True, keep_bodies=self.keep_bodies
            )
        return verdict, []
