"""Each Envoy's sync status per resource type, in the words of `istioctl proxy-status`, at any point.

`EnvoyStatus` is fed every step of a recording in order (with the step's
position) and keeps, per Envoy and per type, a log of status changes, so the
table at any earlier position is a bisect away, like the live one. The words
are istioctl's: SYNCED (the last response was ACKed), NOT SENT (asked for,
nothing sent yet on this stream), STALE (sent, not answered yet), STALE (Never
Acknowledged) (sent, and nothing ever ACKed on this stream), and NACKED (the
last response was rejected). REST polls are judged the same way from the
inferred verdicts (state.rest).
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
from collections.abc import Mapping
from typing import NamedTuple

from xdsspy import grpc_status
from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.decode import methods
from xdsspy.state import protocol
from xdsspy.state import tracker

V = protocol.VerdictKind


class SyncStatus(enum.StrEnum):
    SYNCED = "SYNCED"
    NOT_SENT = "NOT SENT"
    STALE = "STALE"
    NEVER_ACKED = "STALE (Never Acknowledged)"
    NACKED = "NACKED"


class StreamKind(enum.StrEnum):
    SOTW = "SotW"
    DELTA = "Delta"
    REST = "REST"
    OTHER = "other"  # LRS, CSDS, HDS, unknown methods


COLUMNS = ("CDS", "LDS", "EDS", "RDS", "SDS", "ECDS")
"""The types every Envoy row shows, in istioctl's order (SDS and ECDS after); others are listed apart."""


class TypeSync(NamedTuple):
    """One type of one Envoy: its status and the versions behind it.

    A NamedTuple, not a frozen dataclass: one is built for every push and every answer while a
    recording is indexed, and a tuple is built 4x faster; it is as immutable.
    """

    type_url: str
    status: SyncStatus
    sent_version: str = ""
    acked_version: str = ""
    sent_seq: int = 0  # the last response of this type
    answer_seq: int = 0  # the last ACK or NACK of it
    error: str = ""  # while NACKED: Envoy's error_detail
    ever_acked: bool = False  # on this stream

    @property
    def service(self) -> str:
        return service_of(self.type_url)


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """How an Envoy is connected: its latest stream."""

    peer: str
    kind: StreamKind
    method: str
    opened_ns: int
    connection: int
    stream: int
    closed_ns: int = 0
    close_status: str = ""  # e.g. "UNAVAILABLE 'upstream reset' (upstream)"

    @property
    def open(self) -> bool:
        return not self.closed_ns


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who an Envoy says it is, from its node (the first request that carried one)."""

    node: str
    cluster: str
    envoy_version: str
    istio_version: str
    first_seq: int


@dataclasses.dataclass(frozen=True, slots=True)
class EnvoyRow:
    """One row of the Envoys pane at one moment."""

    identity: Identity
    link: Link | None
    types: tuple[TypeSync, ...]
    nacks: int  # NACKs so far

    def sync(self, service: str) -> TypeSync | None:
        for sync in self.types:
            if sync.service == service:
                return sync
        return None

    def others(self) -> tuple[TypeSync, ...]:
        return tuple(sync for sync in self.types if sync.service not in COLUMNS)


def service_of(type_url: str) -> str:
    """CDS, EDS, ... for a resource type URL (v2 or v3); the short type name for others."""
    service = _SERVICES.get(type_url)
    if service is None:
        name = type_url[type_url.rfind("/") + 1 :]
        service = name[name.rfind(".") + 1 :]
    return service


def _services() -> dict[str, str]:
    found: dict[str, str] = {}
    for info in methods.known_methods():
        if info.service and info.implied_type_url and not info.rest:
            found.setdefault(info.implied_type_url, info.service.upper())
    return found


_SERVICES = _services()


def envoy_version(node: envelope.Node) -> str:
    """1.40.0 from user_agent_version, or from a v2 build_version ("sha/1.12.0/Clean/RELEASE/...")."""
    if node.user_agent_version:
        return node.user_agent_version
    parts = node.build_version.split("/")
    return parts[1] if len(parts) > 1 else node.build_version


def istio_version(node: envelope.Node) -> str:
    value = node.metadata.get("ISTIO_VERSION", "") if isinstance(node.metadata, Mapping) else ""
    return value if isinstance(value, str) else ""


def _stream_kind(method: str) -> StreamKind:
    info = methods.classify(method) if method else None
    if info is None:
        return StreamKind.OTHER
    if info.rest:
        return StreamKind.REST
    if info.family == methods.Family.DELTA:
        return StreamKind.DELTA
    if info.family == methods.Family.SOTW:
        return StreamKind.SOTW
    return StreamKind.OTHER


class _Log:
    """Values over positions: what held at any position is a bisect away."""

    __slots__ = ("positions", "values")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.values: list[object] = []

    def set(self, position: int, value: object) -> None:
        if self.positions and self.positions[-1] == position:
            self.values[-1] = value
        else:
            self.positions.append(position)
            self.values.append(value)

    def at(self, position: int | None) -> object | None:
        if not self.values:
            return None
        if position is None:
            return self.values[-1]
        i = bisect.bisect_right(self.positions, position) - 1
        return self.values[i] if i >= 0 else None


class EnvoyStatus:
    """Folds steps into every Envoy's status; see the module docstring. Append from one thread only."""

    def __init__(self) -> None:
        self._identities: dict[str, Identity] = {}
        self._order: list[str] = []  # nodes in order of appearance
        self._links: dict[str, _Log] = {}
        self._types: dict[str, dict[str, _Log]] = {}
        self._nack_positions: dict[str, list[int]] = {}
        self._stream_nodes: dict[tuple[int, int], str] = {}
        self._opens: dict[tuple[int, int], Link] = {}  # streams whose node is not known yet

    def add(self, position: int, step: tracker.Step, event: model.Event | None = None) -> None:
        """Fold one step; `event` is needed for stream opens (their peer)."""
        key = (step.connection, step.stream)
        if step.event == tracker.EventKind.OPEN and isinstance(event, model.StreamOpened):
            self._opens[key] = Link(event.peer, _stream_kind(event.method), event.method, event.wall_ns, *key)
            return
        if step.event == tracker.EventKind.CLOSE:
            self._close(position, step, key, event)
            return
        if step.event == tracker.EventKind.MESSAGE:
            self.add_message(position, step)
        elif step.event == tracker.EventKind.CAPTURE_STOP:
            self._all_closed(position, step.wall_ns)

    def _all_closed(self, position: int, wall_ns: int) -> None:
        """The capture ended: no Envoy is connected through it any more (a REST poller included)."""
        for log in self._links.values():
            current = log.at(None)
            if isinstance(current, Link) and current.open:
                log.set(
                    position, dataclasses.replace(current, closed_ns=wall_ns, close_status="capture stopped")
                )
        self._stream_nodes.clear()
        self._opens.clear()

    def add_message(self, position: int, step: tracker.Step) -> None:
        """Fold the step of one message (what `add` does with one)."""
        if not step.node_known:
            return
        key = (step.connection, step.stream)
        node = step.node
        if node not in self._identities:
            self._introduce(node, step)
        if key not in self._stream_nodes:
            self._links[node].set(position, self._new_link(node, key, step))
        if step.verdict is not None and step.verdict.type_url:
            self._judge(position, node, step, step.verdict)

    def _introduce(self, node: str, step: tracker.Step) -> None:
        info = step.envelope.node if step.envelope is not None else None
        self._identities[node] = Identity(
            node,
            info.cluster if info else "",
            envoy_version(info) if info else "",
            istio_version(info) if info else "",
            step.seq,
        )
        self._order.append(node)
        self._links[node] = _Log()
        self._types[node] = {}
        self._nack_positions[node] = []

    def _new_link(self, node: str, key: tuple[int, int], step: tracker.Step) -> Link:
        """A stream seen with its node for the first time becomes the node's link."""
        self._stream_nodes[key] = node
        opened = self._opens.pop(key, None)
        if opened is None:  # the recording began mid-stream
            opened = Link("", _stream_kind(step.method), step.method, step.wall_ns, *key)
        current = self._links[node].at(None)
        if isinstance(current, Link) and opened.kind == current.kind == StreamKind.REST:
            opened = dataclasses.replace(opened, opened_ns=current.opened_ns)  # one poller, many polls
        return opened

    def _close(
        self, position: int, step: tracker.Step, key: tuple[int, int], event: model.Event | None
    ) -> None:
        self._opens.pop(key, None)
        node = self._stream_nodes.pop(key, None)
        if node is None:
            return
        current = self._links[node].at(None)
        if not isinstance(current, Link) or (current.connection, current.stream) != key:
            return
        if current.kind == StreamKind.REST and (not isinstance(event, model.StreamClosed) or event.code == 0):
            return  # a poll that ended as polls do: the poller is still there
        status = step.text
        if isinstance(event, model.StreamClosed):
            details = f" {event.details!r}" if event.details else ""
            status = f"{grpc_status.name(event.code)}{details} ({event.cause})"
        self._links[node].set(
            position, dataclasses.replace(current, closed_ns=step.wall_ns, close_status=status)
        )

    def _judge(self, position: int, node: str, step: tracker.Step, verdict: protocol.Verdict) -> None:
        logs = self._types[node]
        log = logs.get(verdict.type_url)
        if log is None:
            log = logs[verdict.type_url] = _Log()
            current = TypeSync(verdict.type_url, SyncStatus.NOT_SENT)
            log.set(position, current)
        else:
            current = log.values[-1]  # type: ignore[assignment]
        after = _next(current, step, verdict)
        if after is not current:
            log.set(position, after)
        if verdict.kind == V.NACK:
            self._nack_positions[node].append(position)

    # -- reading (any thread) -----------------------------------------------------------------

    def nodes(self) -> list[str]:
        return list(self._order)

    def at(self, position: int | None = None) -> list[EnvoyRow]:
        """Every Envoy seen up to `position` (a step's position; None: the latest), in order of appearance."""
        rows = []
        for node in list(self._order):
            identity = self._identities[node]
            link = self._links[node].at(position)
            types = []
            for log in list(self._types[node].values()):
                sync = log.at(position)
                if isinstance(sync, TypeSync):
                    types.append(sync)
            if position is not None and link is None and not types:
                continue  # not seen yet at that position
            nacks = self._nack_positions[node]
            count = len(nacks) if position is None else bisect.bisect_right(nacks, position)
            order = {service: i for i, service in enumerate(COLUMNS)}
            types.sort(key=lambda s: (order.get(s.service, len(COLUMNS)), s.service))
            rows.append(EnvoyRow(identity, link if isinstance(link, Link) else None, tuple(types), count))
        return rows


def _next(current: TypeSync, step: tracker.Step, verdict: protocol.Verdict) -> TypeSync:
    """The status after one message of this type (the same object when nothing changed)."""
    kind = verdict.kind
    env = step.envelope
    if kind in (V.INITIAL, V.RECONNECT):
        # A new stream: nothing sent on it yet. A reconnect says what Envoy still holds.
        held = env.version_info if env is not None and kind == V.RECONNECT else ""
        return TypeSync(current.type_url, SyncStatus.NOT_SENT, acked_version=held or current.acked_version)
    # Built field by field: one of these per push and per answer, and dataclasses.replace costs 3x.
    c = current
    if kind in (V.PUSH, V.HEARTBEAT):
        status = SyncStatus.STALE if c.ever_acked else SyncStatus.NEVER_ACKED
        version = env.version if env is not None else ""
        return TypeSync(
            c.type_url, status, version, c.acked_version, step.seq, c.answer_seq, "", c.ever_acked
        )
    if kind == V.ACK and verdict.answers_seq == c.sent_seq:
        version = env.version_info if env is not None and env.version_info else c.sent_version
        return TypeSync(
            c.type_url, SyncStatus.SYNCED, c.sent_version, version, c.sent_seq, step.seq, "", True
        )
    if kind == V.NACK and verdict.answers_seq == c.sent_seq:
        error = verdict.error
        nacked = SyncStatus.NACKED
        return TypeSync(
            c.type_url, nacked, c.sent_version, c.acked_version, c.sent_seq, step.seq, error, c.ever_acked
        )
    return c
