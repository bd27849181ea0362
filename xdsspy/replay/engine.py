"""Serve a plan's pushes to a fresh Envoy, one version of a type at a time, and note how it answers each.

The engine speaks the protocol, not the recorded bytes: it sets each push as
the new state of its type in a control plane (`observers.Observer`), under
the recorded version, and before the next push of the same type waits until
the fresh Envoy has settled the previous one: ACKed or NACKed it, or needed
nothing of it. Pushes of different types overlap as they did when recorded.
A type the fresh Envoy never asks for is waited for once (`answer_timeout`),
then served without waiting. `realtime` keeps the recorded spacing (divided
by `speed`), `fast` goes as fast as the protocol allows, `step` asks before
each push and waits for its answer before asking again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from collections.abc import Sequence

from xdsspy.replay import modes
from xdsspy.replay import observers
from xdsspy.replay import plan as plan_mod

Mode = modes.Mode
ANSWER_TIMEOUT_S = modes.ANSWER_TIMEOUT_S


@dataclasses.dataclass(frozen=True, slots=True)
class Served:
    """One push as the replay served it, and what the fresh Envoy made of it."""

    push: plan_mod.Push
    version: str  # the version the replay served it under (the recorded one, made unique if need be)
    fresh: plan_mod.Answer
    note: str = ""  # why there is no answer, when there is none
    position: int = 0  # its place in the pushes served


class Stopped(Exception):
    """The user ended a step-by-step replay before its end."""


@dataclasses.dataclass
class Engine:
    """Serve `pushes` through `observer`; `confirm` is asked before each push in step mode."""

    observer: observers.Observer
    mode: Mode = Mode.FAST
    speed: float = 1.0
    answer_timeout: float = ANSWER_TIMEOUT_S
    confirm: Callable[[plan_mod.Push], bool] = lambda push: True
    on_served: Callable[[Served], None] = lambda served: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _state: dict[str, dict[str, bytes]] = dataclasses.field(default_factory=dict)
    _versions: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    _never_asked: set[str] = dataclasses.field(default_factory=set)
    _gone: bool = False  # the fresh Envoy went away and did not come back within answer_timeout

    def run(self, pushes: Sequence[plan_mod.Push]) -> list[Served]:
        """Serve every push in order; returns what became of each (also when the user stops early)."""
        outstanding: dict[str, tuple[int, plan_mod.Push, str]] = {}  # type -> (position, push, version)
        done: dict[int, Served] = {}
        start = self.clock()
        first_ns = pushes[0].monotonic_ns if pushes else 0
        try:
            for position, push in enumerate(pushes):
                previous = outstanding.pop(push.type_url, None)
                if previous is not None:
                    done[previous[0]] = self._settle(*previous)
                if self.mode == Mode.REALTIME:
                    due = start + (push.monotonic_ns - first_ns) / 1e9 / self.speed
                    self.sleep(max(0.0, due - self.clock()))
                elif self.mode == Mode.STEP and not self.confirm(push):
                    raise Stopped(f"stopped before push {push.number}")
                version = self._serve(push)
                if self.mode == Mode.STEP:  # one at a time: its answer before the next question
                    done[position] = self._settle(position, push, version)
                else:
                    outstanding[push.type_url] = (position, push, version)
        except Stopped:
            pass
        finally:
            for position, push, version in outstanding.values():
                done[position] = self._settle(position, push, version)
        return [done[n] for n in sorted(done)]

    def _serve(self, push: plan_mod.Push) -> str:
        held = self._state.setdefault(push.type_url, {})
        held.update(push.set)
        for name in push.removed:
            held.pop(name, None)
        version = self._unique(push)
        self.observer.serve(push.type_url, list(held.items()), version)
        return version

    def _unique(self, push: plan_mod.Push) -> str:
        """The recorded version, unless the type already had it here (Envoy would see no new version)."""
        used = self._versions.setdefault(push.type_url, set())
        version = push.version or f"replay-{push.number}"
        if version in used:
            version = f"{version} (replay push {push.number})"
        used.add(version)
        return version

    def _settle(self, position: int, push: plan_mod.Push, version: str) -> Served:
        observer = self.observer
        status = observer.status(push.type_url, version)
        # A type this Envoy has not asked for in answer_timeout once is not waited for again; nor is
        # an Envoy that went away and did not come back.
        never = push.type_url in self._never_asked and status.kind == observers.Kind.NOT_ASKED
        never = never or (self._gone and status.kind == observers.Kind.GONE)
        if not never:
            waited = observer.wait(
                lambda: _final(observer.status(push.type_url, version)), self.answer_timeout
            )
            status = waited or observer.status(push.type_url, version)
        served = Served(push, version, *_outcome(status, push, self.answer_timeout), position)
        if status.kind == observers.Kind.NOT_ASKED:
            self._never_asked.add(push.type_url)
        self._gone = status.kind == observers.Kind.GONE
        self.on_served(served)
        return served


def _final(status: observers.Status) -> observers.Status | None:
    """The status if waiting longer will not change it, else None."""
    return status if status.kind in (observers.Kind.ANSWERED, observers.Kind.NOT_NEEDED) else None


def _outcome(status: observers.Status, push: plan_mod.Push, timeout: float) -> tuple[plan_mod.Answer, str]:
    kind = observers.Kind
    if status.kind == kind.ANSWERED and status.answer is not None:
        return status.answer, ""
    if status.kind == kind.NOT_NEEDED:
        return plan_mod.NO_ANSWER, "not sent: the fresh Envoy had asked for none of what changed"
    if status.kind == kind.NOT_ASKED:
        return plan_mod.NO_ANSWER, f"not sent: the fresh Envoy never asked for {push.service}"
    if status.kind == kind.GONE:
        return (
            plan_mod.NO_ANSWER,
            f"not answered: the fresh Envoy went away (and was not back within {timeout:g} s)",
        )
    return plan_mod.NO_ANSWER, f"sent, and not answered within {timeout:g} s"
