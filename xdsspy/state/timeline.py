"""A recording (or a live session) as a seekable sequence of steps, with each Envoy's state at any point.

Seeking must be fast on 100k-event recordings, so the timeline keeps the
state changes of every step and a checkpoint (a copy-on-write snapshot) every
`checkpoint_every` steps: the state at any seq is the nearest checkpoint plus
at most that many steps' changes, never a replay from the start.

With `lazy_state`, steps and verdicts come at once and the state is folded
only up to where someone first asks for it (under a lock, from any thread):
a viewer indexes a recording without paying for state nobody looked at.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from collections.abc import Iterable

from xdsspy import model
from xdsspy.state import holdings as holdings_mod
from xdsspy.state import tracker as tracker_mod


@dataclasses.dataclass(frozen=True, slots=True)
class StateAt:
    """Every node's resources right after step `seq`."""

    seq: int
    accepted: tracker_mod.State
    rejected: tracker_mod.State

    def nodes(self) -> list[str]:
        return sorted(set(self.accepted) | set(self.rejected))

    def resources(self, node: str, type_url: str | None = None) -> list[tracker_mod.ResourceState]:
        """Accepted then rejected resources of node, sorted by type and name."""
        out: list[tracker_mod.ResourceState] = []
        for table in (self.accepted, self.rejected):
            for t, names in sorted(table.get(node, {}).items()):
                if type_url is None or t == type_url:
                    out.extend(names[n] for n in sorted(names))
        return out


_NO_CHANGES: list[tracker_mod.Change] = []  # shared by the many steps that change nothing; never appended to


class Timeline:
    """Append events (from a file or live), read steps, seek to any seq."""

    def __init__(
        self, checkpoint_every: int = 1000, *, keep_bodies: bool = True, lazy_state: bool = False
    ) -> None:
        """keep_bodies=False: states say where each resource's bytes are, not hold them (Tracker).
        lazy_state: fold state only up to where it is asked for (see the module docstring)."""
        self.steps: list[tracker_mod.Step] = []
        self._changes: list[list[tracker_mod.Change]] = []
        self._tracker = tracker_mod.Tracker(keep_bodies=keep_bodies, fold=not lazy_state)
        self._every = checkpoint_every
        self._checkpoints: list[tuple[int, tracker_mod.State, tracker_mod.State]] = []  # (index, ...)
        self._seqs: list[int] = []
        self._lazy = lazy_state
        self._folds: dict[int, holdings_mod.Fold] = {}  # lazy: step index -> its fold, until folded
        self._folded = 0  # lazy: steps folded so far
        self._fold_lock = threading.Lock()

    @classmethod
    def from_events(cls, events: Iterable[model.Event], checkpoint_every: int = 1000) -> Timeline:
        timeline = cls(checkpoint_every)
        for event in events:
            timeline.add(event)
        return timeline

    def add(self, event: model.Event) -> tracker_mod.Step:
        if self._lazy:
            step, _ = self._tracker.apply(event)
            if self._tracker.deferred is not None:
                self._folds[len(self.steps)] = self._tracker.deferred
            self._changes.append(_NO_CHANGES)  # filled in when folded
        else:
            if len(self.steps) % self._every == 0:
                accepted, rejected = self._tracker.snapshot()
                self._checkpoints.append((len(self.steps), accepted, rejected))
            step, changes = self._tracker.apply(event)
            self._changes.append(changes or _NO_CHANGES)
        self.steps.append(step)
        # Gap records carry seq 0; they sort with the step before them.
        self._seqs.append(event.seq or (self._seqs[-1] if self._seqs else 0))
        return step

    def index_of(self, seq: int) -> int:
        """Index of the last step whose seq is <= seq, or -1 before the first."""
        return bisect.bisect_right(self._seqs, seq) - 1

    def state_at(self, seq: int) -> StateAt:
        """The state right after the step with this seq (or the last one before it)."""
        return self.state_after_index(self.index_of(seq))

    def fold_to(self, index: int) -> int:
        """Lazy state: fold the steps up to `index` (all there are, at most); returns how many are folded.

        Safe from any thread: one folds at a time while the others wait.
        """
        if not self._lazy:
            return len(self.steps)
        with self._fold_lock:
            holdings = self._tracker.holdings
            end = min(index + 1, len(self.steps))
            for i in range(self._folded, end):
                if i % self._every == 0:
                    accepted, rejected = holdings.snapshot()
                    self._checkpoints.append((i, accepted, rejected))
                fold = self._folds.pop(i, None)
                if fold is not None:
                    self._changes[i] = holdings.apply(fold) or _NO_CHANGES
            self._folded = max(self._folded, end)
            return self._folded

    @property
    def folded(self) -> int:
        """Steps whose state changes are known (all of them unless the state is lazy)."""
        return self._folded if self._lazy else len(self.steps)

    def state_after_index(self, index: int) -> StateAt:
        self.fold_to(index)
        if index < 0 or not self._checkpoints:
            return StateAt(0, {}, {})
        position = bisect.bisect_right([c[0] for c in self._checkpoints], index) - 1
        start, accepted, rejected = self._checkpoints[max(position, 0)]
        acc = {node: dict(types) for node, types in accepted.items()}
        rej = {node: dict(types) for node, types in rejected.items()}
        copied: set[tuple[int, str, str]] = set()
        for i in range(start, index + 1):
            for change in self._changes[i]:
                table, tag = (acc, 0) if change.table == tracker_mod.Table.ACCEPTED else (rej, 1)
                types = table.setdefault(change.node, {})
                if (tag, change.node, change.type_url) not in copied:
                    types[change.type_url] = dict(types.get(change.type_url, {}))
                    copied.add((tag, change.node, change.type_url))
                names = types[change.type_url]
                if change.value is None:
                    names.pop(change.name, None)
                else:
                    names[change.name] = change.value
        return StateAt(self.steps[index].seq, acc, rej)

    def changes_of(self, node: str, type_url: str, name: str) -> list[tuple[int, tracker_mod.Change]]:
        """Every state change of one resource (accepted and rejected tables), with its step index, in order.

        `type_url` must match as recorded (a v2 and a v3 resource of one name are two resources here).
        """
        self.fold_to(len(self.steps) - 1)
        out: list[tuple[int, tracker_mod.Change]] = []
        for i, changes in enumerate(self._changes):
            for change in changes:
                if change.name == name and change.node == node and change.type_url == type_url:
                    out.append((i, change))
        return out

    def nack_indexes(self) -> list[int]:
        return [i for i, s in enumerate(self.steps) if s.verdict is not None and s.verdict.is_nack]
