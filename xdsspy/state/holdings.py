"""What each Envoy holds, accepted and rejected: changed by its ACKs and NACKs, snapshotted copy-on-write.

A response is only a proposal (`Pending`); Envoy's ACK makes it state. An ACK
applies it (SotW full-state types replace the whole set, other types and
delta update per resource, delta removals and SotW absences delete), and a
NACK marks what it would have changed NACKED beside the accepted resources,
which stay. A NACKED resource goes when Envoy accepts it after all, or
accepts a set that no longer holds it (a full-state push without it, or a
delta removal). Caveat, as in Envoy itself: a NACKed CDS or LDS push may
still have been applied in part; Envoy's /config_dump is the judge of that,
the recording is the judge of what was said.

Sans-I/O. The tracker decides what is a `Fold` (which push an ACK or NACK
answers); `Holdings.apply` folds it in and returns the `Change`s, which the
timeline stores to seek anywhere (at once, or lazily when first asked).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.state import protocol


class Status(enum.StrEnum):
    ACKED = "acked"
    NACKED = "nacked"
    PENDING = "pending"


class Table(enum.StrEnum):
    """Which of a node's resource tables a change is about."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


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


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One state transition: (node, type_url, name) in `accepted` or `rejected` becomes value (None: gone)."""

    table: Table
    node: str
    type_url: str
    name: str
    value: ResourceState | None


@dataclasses.dataclass(slots=True)
class Pending:
    """A push waiting for its ACK or NACK: what it offers (names and digests, read once by the tracker),
    and with bodies kept, its resource entries by name."""

    type_url: str
    node: str
    seq: int
    version: str
    offer: protocol.Offer
    removed: tuple[str, ...]
    replace_all: bool
    bodies: Mapping[str, envelope.ResourceEntry] | None = None
    _positions: dict[str, int] | None = None

    @classmethod
    def of(
        cls,
        event: model.MessageSeen,
        decoded: envelope.Envelope,
        resources: tuple[envelope.ResourceEntry, ...],
        offer: protocol.Offer,
        verdict: protocol.Verdict,
        node: str,
        *,
        sotw: bool,
        keep_bodies: bool,
    ) -> Pending:
        """The push of one response. A REST answer is the state of the world, like SotW."""
        return cls(
            verdict.type_url,
            node,
            event.seq,
            decoded.version,
            offer,
            verdict.removed,
            sotw and verdict.type_url in protocol.FULL_STATE_TYPES,
            {e.name: e for e in resources if not e.heartbeat} if keep_bodies else None,
        )

    def position(self, name: str) -> int:
        """Where the resource is in its response (the last place, if a name comes twice)."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {n: i for i, n in enumerate(self.offer.names)}
        return positions.get(name, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Fold:
    """What an answer does to its Envoy's holdings: accept `pending`, or reject it with `error`."""

    pending: Pending
    accept: bool
    error: str = ""


State = dict[str, dict[str, dict[str, ResourceState]]]
"""node -> type_url -> name -> state."""


class Holdings:
    """Every Envoy's accepted and rejected resources; see the module docstring."""

    def __init__(self) -> None:
        self.accepted: State = {}
        self.rejected: State = {}
        self._shared: set[int] = set()  # ids of maps a snapshot holds: copy before changing

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

    def apply(self, fold: Fold) -> list[Change]:
        return self._accept(fold.pending) if fold.accept else self._reject(fold.pending, fold.error)

    def _accept(self, pending: Pending) -> list[Change]:
        accepted = self._map(self.accepted, pending.node, pending.type_url)
        held_rejected = self.rejected.get(pending.node, {}).get(pending.type_url, {})
        changes: list[Change] = []
        offered = pending.offer.digests
        kept = pending.offer.heartbeats
        if pending.replace_all:
            gone = [n for n in accepted if n not in offered and n not in kept]
            withdrawn = [n for n in held_rejected if n not in offered and n not in kept]
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
        for name, digest in offered.items():
            previous = accepted.get(name)
            # As in Envoy's /config_dump, a resource resent unchanged keeps the version that brought it.
            if previous is None or previous.digest != digest:
                state = _state(pending, name, digest, Status.ACKED)
                accepted[name] = state
                changes.append(Change(Table.ACCEPTED, pending.node, pending.type_url, name, state))
            if held_rejected and name in held_rejected:
                del self._map(self.rejected, pending.node, pending.type_url)[name]
                changes.append(Change(Table.REJECTED, pending.node, pending.type_url, name, None))
        return changes

    def _reject(self, pending: Pending, error: str) -> list[Change]:
        """Mark what the push would have changed as NACKED; resources resent unchanged were not rejected."""
        accepted = self.accepted.get(pending.node, {}).get(pending.type_url, {})
        rejected = self._map(self.rejected, pending.node, pending.type_url)
        changes: list[Change] = []
        for name, digest in pending.offer.digests.items():
            held = accepted.get(name)
            if held is not None and held.digest == digest:
                continue
            state = _state(pending, name, digest, Status.NACKED, error)
            rejected[name] = state
            changes.append(Change(Table.REJECTED, pending.node, pending.type_url, name, state))
        return changes


def _state(pending: Pending, name: str, digest: str, status: Status, error: str = "") -> ResourceState:
    """One resource of a pending push, as Envoy now holds (or rejected) it."""
    return ResourceState(
        name,
        pending.type_url,
        pending.offer.versions.get(name) or pending.version,
        digest,
        status,
        pending.seq,
        pending.bodies.get(name) if pending.bodies is not None else None,
        error,
        pending.position(name),
    )
