"""What a replay serves: one Envoy's recorded pushes, in order, as changes to each type's state.

A replay cannot resend recorded bytes (nonces, subscriptions and timing differ
on every run), so the plan keeps what the control plane *meant*: for each push
of the chosen Envoy, the resources it set or removed for its type, with the
version it carried and how the original Envoy answered it (ACK, or NACK with
Envoy's error). SotW semantics are resolved here: a Listener or Cluster push
is the whole set (absence deletes), other SotW types add or replace by name
(absence deletes nothing), Delta pushes say what they remove. So the engine
applies one shape of change whatever the recording's protocol was, which is
what lets a SotW recording replay to a Delta Envoy and back.

Pure: takes events (reader.iter_events), does no I/O; `Plan.state_at` gives
what the original Envoy held at any event (for `--at` and `--from`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable
from collections.abc import Mapping

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import schemas
from xdsspy.decode import versions
from xdsspy.state import protocol
from xdsspy.state import tracker as tracker_mod
from xdsspy.viewmodel import words

V = protocol.VerdictKind
TYPE_PREFIX = "type.googleapis.com/"


HEARTBEATS = "TTL heartbeats (Resource wrappers without a body) are not replayed"


class PlanError(ValueError):
    """The recording has nothing to replay for the Envoy asked for (the message says why and what it has)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """How an Envoy answered one push."""

    kind: str  # "ack", "nack"; "none" when no answer was recorded (or, fresh, came)
    error: str = ""
    seq: int | None = None  # the recorded answer's event

    @property
    def is_nack(self) -> bool:
        return self.kind == "nack"


NO_ANSWER = Answer("none")


@dataclasses.dataclass(frozen=True, slots=True)
class Push:
    """One recorded response to the chosen Envoy, as a change to its type's state."""

    number: int  # 1, 2, ... in the plan
    seq: int  # the recorded response's event
    monotonic_ns: int
    wall_ns: int
    type_url: str  # v3 (a v2 recording's types are upgraded)
    version: str  # what the response carried (version_info, or a delta's system_version_info)
    set: Mapping[str, bytes]  # resources added or replaced: name -> the resource's bytes
    removed: tuple[str, ...]  # names this push deleted
    original: Answer  # how the recorded Envoy answered it
    protocol: str  # "sotw", "delta" or "rest": how it was recorded

    @property
    def service(self) -> str:
        return words.short_type(self.type_url)

    def summary(self) -> str:
        changed = ", ".join(sorted(self.set)[:5]) + (" …" if len(self.set) > 5 else "")
        removed = f" -{len(self.removed)}" if self.removed else ""
        return f"push {self.number} (#{self.seq}) {self.service} version {self.version or '-'!r}: " + (
            f"{len(self.set)} set{removed}" + (f" ({changed})" if changed else "")
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """Every push to one Envoy, in recorded order, and what could not be carried over."""

    node: str
    pushes: tuple[Push, ...]
    notes: tuple[str, ...]  # what the replay cannot reproduce, said once each
    stopped_at: str = ""  # a torn or damaged recording: where the readable part ends
    last_seq: int = 0

    @property
    def protocol(self) -> str:
        kinds = {p.protocol for p in self.pushes}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def window(self, first: int | None = None, last: int | None = None) -> tuple[Push, ...]:
        """The pushes recorded at events first..last (either end open)."""
        return tuple(
            p for p in self.pushes if (first is None or p.seq >= first) and (last is None or p.seq <= last)
        )

    def state_at(self, seq: int) -> dict[str, dict[str, bytes]]:
        """What the original Envoy held after event `seq`: per type, the resources of every push it ACKed.

        A NACKed push changes nothing (Envoy kept what it had); a push not yet answered at `seq` is
        not held yet either.
        """
        state: dict[str, dict[str, bytes]] = {}
        for push in self.pushes:
            if push.seq > seq:
                break
            answered_in_time = push.original.seq is not None and push.original.seq <= seq
            if push.original.kind != "ack" or not answered_in_time:
                continue
            held = state.setdefault(push.type_url, {})
            held.update(push.set)
            for name in push.removed:
                held.pop(name, None)
        return state


TYPE_ORDER = (
    "envoy.config.cluster.v3.Cluster",
    "envoy.config.endpoint.v3.ClusterLoadAssignment",
    "envoy.config.listener.v3.Listener",
    "envoy.config.route.v3.RouteConfiguration",
)
"""The order a snapshot serves types in: the order in which Envoy asks for them (CDS, EDS, LDS, RDS)."""


def snapshot(plan: Plan, seq: int) -> tuple[Push, ...]:
    """The state the original Envoy held after event `seq` (`Plan.state_at`), as one push per type.

    Each counts as ACKed when recorded (the Envoy held it); its version names the event.
    """
    held = plan.state_at(seq)
    at = next((p for p in reversed(plan.pushes) if p.seq <= seq), None)
    monotonic_ns = at.monotonic_ns if at is not None else 0
    wall_ns = at.wall_ns if at is not None else 0

    def order(type_url: str) -> tuple[int, str]:
        name = type_url.removeprefix(TYPE_PREFIX)
        return (TYPE_ORDER.index(name) if name in TYPE_ORDER else len(TYPE_ORDER), name)

    return tuple(
        Push(
            number,
            seq,
            monotonic_ns,
            wall_ns,
            type_url,
            f"state at #{seq}",
            dict(held[type_url]),
            (),
            Answer("ack"),
            plan.protocol,
        )
        for number, type_url in enumerate(sorted(held, key=order), start=1)
    )


def nodes_with_pushes(events: Iterable[model.Event]) -> dict[str, int]:
    """Node id -> number of pushes it received: what a replay could serve."""
    found: dict[str, int] = {}
    tracker = tracker_mod.Tracker(keep_bodies=False, fold=False)
    for event in events:
        step, _ = tracker.apply(event)
        if _is_push(step):
            found[step.node] = found.get(step.node, 0) + 1
    return found


def build(
    events: Iterable[model.Event],
    *,
    node: str | None = None,
    connection: int | None = None,
    problems: Iterable[object] = (),
) -> Plan:
    """The plan for one Envoy: the one named (id, Istio short form or glob), the one on `connection`, or
    the only one that received pushes. Raises PlanError when that is not exactly one Envoy."""
    steps: list[tuple[tracker_mod.Step, model.MessageSeen | None]] = []
    tracker = tracker_mod.Tracker(keep_bodies=False, fold=False)
    for event in events:
        step, _ = tracker.apply(event)
        steps.append((step, event if isinstance(event, model.MessageSeen) else None))
    chosen = _choose(steps, node, connection)
    return _plan(chosen, steps, problems)


def _is_push(step: tracker_mod.Step) -> bool:
    verdict = step.verdict
    return (
        step.event == tracker_mod.EventKind.MESSAGE
        and step.direction == model.Direction.RESPONSE
        and step.node_known
        and verdict is not None
        and verdict.kind == V.PUSH
    )


def _choose(
    steps: list[tuple[tracker_mod.Step, model.MessageSeen | None]], node: str | None, connection: int | None
) -> str:
    counts: dict[str, int] = {}
    on_connection: dict[int, str] = {}
    for step, _ in steps:
        if step.event == tracker_mod.EventKind.MESSAGE and step.node_known:
            on_connection.setdefault(step.connection, step.node)
        if _is_push(step):
            counts[step.node] = counts.get(step.node, 0) + 1
    listed = "; ".join(f"{n} ({c} push{'es' if c != 1 else ''})" for n, c in counts.items()) or "none"
    if connection is not None:
        found = on_connection.get(connection)
        if found is None:
            known = ", ".join(str(c) for c in sorted(on_connection)) or "none"
            raise PlanError(f"no Envoy said who it is on connection {connection} (connections: {known})")
        if found not in counts:
            raise PlanError(
                f"{found} (connection {connection}) received no pushes; Envoys with pushes: {listed}"
            )
        return found
    if node is not None:
        matches = [n for n in counts if n == node]
        matches = matches or [n for n in counts if words.short_node(n) == node]
        matches = matches or [n for n in counts if fnmatch.fnmatchcase(n, node)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise PlanError(
                f"no Envoy {node!r} received pushes in this recording; Envoys with pushes: {listed}"
            )
        raise PlanError(f"{node!r} names {len(matches)} Envoys: {', '.join(matches)}; name one")
    if len(counts) == 1:
        return next(iter(counts))
    if not counts:
        raise PlanError("this recording holds no push to any Envoy: nothing to replay")
    raise PlanError(f"{len(counts)} Envoys received pushes; choose one with --node or --connection: {listed}")


def _plan(
    node: str,
    steps: list[tuple[tracker_mod.Step, model.MessageSeen | None]],
    problems: Iterable[object],
) -> Plan:
    answers: dict[int, Answer] = {}
    for step, _ in steps:
        verdict = step.verdict
        if step.node != node or verdict is None or verdict.answers_seq is None:
            continue
        if verdict.kind in (V.ACK, V.NACK) and verdict.answers_seq not in answers:
            kind = "nack" if verdict.kind == V.NACK else "ack"
            answers[verdict.answers_seq] = Answer(kind, verdict.error, step.seq)
    notes = _Notes()
    upgrade = _Upgrader(notes)
    pushes: list[Push] = []
    held: dict[str, set[str]] = {}  # type -> names the plan has set (what a full-state push replaces)
    bodies: dict[bytes, bytes] = {}  # one object per distinct body: 100 pushes of 10k clusters, mostly resent
    last_seq = 0
    for step, event in steps:
        last_seq = max(last_seq, step.seq)
        if step.node != node or event is None:
            continue
        if step.verdict is not None and step.verdict.kind == V.HEARTBEAT:
            notes.add(HEARTBEATS)
        if not _is_push(step):
            continue
        decoded, entries = discovery.decode_apart(event.method, event.direction, bytes(event.raw))
        type_url = upgrade.type_url(decoded.type_url or (step.verdict.type_url if step.verdict else ""))
        sent: dict[str, bytes] = {}
        for entry in entries:
            if entry.heartbeat:
                notes.add(HEARTBEATS)
                continue
            if entry.encoding != envelope.Encoding.PROTO:
                notes.add(f"{words.short_type(entry.type_url)} resources recorded as JSON of an unknown type")
                continue
            if entry.ttl_seconds is not None:
                notes.add("resource TTLs are not replayed (the resources are, without a TTL)")
            if entry.aliases:
                notes.add("Delta resource aliases (VHDS) are not replayed: resources are served by name")
            if entry.version and decoded.kind == envelope.Kind.DELTA_RESPONSE:
                notes.add(
                    "Delta per-resource versions are the replay's own (from each resource's bytes), "
                    "not the recorded ones"
                )
            if entry.name in sent:
                notes.add(f"push #{step.seq} names {entry.name!r} twice: the replay serves the later one")
            sent[entry.name] = bodies.setdefault(entry.raw, entry.raw)
        kind = decoded.kind
        known = held.setdefault(type_url, set())
        removed: tuple[str, ...]
        if kind == envelope.Kind.DELTA_RESPONSE:
            removed = tuple(decoded.removed_resources)
            version = decoded.system_version_info or decoded.version_info
            recorded_as = "delta"
        else:
            full = TYPE_PREFIX + type_url.removeprefix(TYPE_PREFIX) in protocol.FULL_STATE_TYPES
            removed = tuple(sorted(known - set(sent))) if full else ()
            version = decoded.version_info
            recorded_as = "rest" if decoded.method.rest else "sotw"
        known.update(sent)
        known.difference_update(removed)
        pushes.append(
            Push(
                len(pushes) + 1,
                step.seq,
                step.monotonic_ns,
                step.wall_ns,
                type_url,
                version,
                sent,
                removed,
                answers.get(step.seq, NO_ANSWER),
                recorded_as,
            )
        )
    stopped = "; ".join(str(p) for p in problems)
    return Plan(node, tuple(pushes), tuple(notes.said), stopped, last_seq)


class _Notes:
    def __init__(self) -> None:
        self.said: list[str] = []

    def add(self, note: str) -> None:
        if note not in self.said:
            self.said.append(note)


class _Upgrader:
    """v2 type URLs to the v3 ones a current Envoy asks for (`decode.versions`), noted once."""

    def __init__(self, notes: _Notes) -> None:
        self._notes = notes
        self._map: versions.VersionMap | None = None

    def type_url(self, type_url: str) -> str:
        name = type_url.removeprefix(TYPE_PREFIX)
        if ".v2." not in f".{name}" and not name.startswith("envoy.api.v2"):
            return type_url
        if self._map is None:
            self._map = versions.VersionMap(schemas.default())
        upgrade = self._map.upgrade(name)
        if upgrade is None:
            self._notes.add(f"{name} has no v3 successor: served under its v2 type URL")
            return type_url
        self._notes.add(
            "v2 resources are served as their v3 successors (the same wire fields); v2-only fields "
            "and v2 types nested inside them are not converted"
        )
        return TYPE_PREFIX + upgrade.v3_name
