"""Check a recording against what the control plane itself received and sent, stream by stream.

xdsspy's promise is that a recording holds every message byte for byte as it
crossed the proxy. With the built-in control plane at the other end that can
be proven: each stream the control plane served must appear in the recording
with the same message digests, in the same order, in each direction. The two
directions are compared separately because a request and a response in
flight at the same time may be logged in either order at either end.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

from xdsspy import model
from xdsspy.controlplane import journal


@dataclasses.dataclass(frozen=True, slots=True)
class StreamDigest:
    """One stream as a list of SHA-256 digests per direction."""

    label: str
    method: str
    requests: tuple[str, ...]
    responses: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.label} {self.method} ({len(self.requests)} requests, {len(self.responses)} responses)"


@dataclasses.dataclass(slots=True)
class _Collecting:
    label: str
    method: str
    requests: list[str] = dataclasses.field(default_factory=list)
    responses: list[str] = dataclasses.field(default_factory=list)

    def add(self, direction: model.Direction, digest: str) -> None:
        (self.requests if direction == model.Direction.REQUEST else self.responses).append(digest)

    def digest(self) -> StreamDigest:
        return StreamDigest(self.label, self.method, tuple(self.requests), tuple(self.responses))


def from_control_plane(messages: Iterable[journal.LoggedMessage]) -> list[StreamDigest]:
    """Digests of the control plane's streams, in the order they opened."""
    streams: dict[int, _Collecting] = {}
    for message in messages:
        stream = streams.get(message.stream)
        if stream is None:
            stream = streams[message.stream] = _Collecting(
                f"control plane stream {message.stream}", message.method
            )
        stream.add(message.direction, message.sha256)
    return [s.digest() for s in streams.values()]


def from_recording(events: Iterable[model.Event]) -> list[StreamDigest]:
    """Digests of every recorded stream (also those without messages), in the order they opened."""
    streams: dict[int, _Collecting] = {}
    for event in events:
        if isinstance(event, model.StreamOpened):
            label = f"recorded stream {event.stream} (connection {event.connection})"
            streams[event.stream] = _Collecting(label, event.method)
        elif isinstance(event, model.MessageSeen):
            stream = streams.get(event.stream)
            if stream is None:
                stream = streams[event.stream] = _Collecting(f"recorded stream {event.stream}", event.method)
            stream.add(event.direction, hashlib.sha256(event.raw).hexdigest())
    return [s.digest() for s in streams.values()]


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    matched: list[tuple[StreamDigest, StreamDigest]]  # (control plane, recording)
    missing: list[str]  # control plane streams with no identical recorded stream, and why
    recorded_only: list[StreamDigest]  # recorded streams the control plane never served

    @property
    def ok(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        lines = [f"{len(self.matched)} streams identical in the recording"]
        lines += [f"MISSING: {m}" for m in self.missing]
        lines += [f"only in the recording: {r.describe()}" for r in self.recorded_only]
        return "\n".join(lines)


def _first_difference(a: tuple[str, ...], b: tuple[str, ...]) -> int | None:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def _why_not(cp: StreamDigest, candidate: StreamDigest) -> str:
    reasons = []
    for direction, a, b in (
        ("request", cp.requests, candidate.requests),
        ("response", cp.responses, candidate.responses),
    ):
        index = _first_difference(a, b)
        if index is not None:
            reasons.append(
                f"{direction} #{index + 1} differs ({len(a)} at the control plane, {len(b)} recorded)"
            )
    return "; ".join(reasons)


def _same(cp: StreamDigest, recorded: StreamDigest, prefix_ok: bool) -> bool:
    if cp.method != recorded.method:
        return False
    if not prefix_ok:
        return cp.requests == recorded.requests and cp.responses == recorded.responses
    return all(
        a[: len(b)] == b[: len(a)]
        for a, b in ((cp.requests, recorded.requests), (cp.responses, recorded.responses))
    )


def compare(
    control_plane: list[StreamDigest], recording: list[StreamDigest], *, prefix_ok: bool = False
) -> Report:
    """Pair each control plane stream with an identical recorded one, in order.

    prefix_ok accepts a stream cut short at one end, for streams torn down
    mid-flight (a control plane stopped while a request was on its way).
    """
    unused = list(recording)
    matched: list[tuple[StreamDigest, StreamDigest]] = []
    missing: list[str] = []
    for cp in control_plane:
        found = next((r for r in unused if _same(cp, r, prefix_ok)), None)
        if found is not None:
            unused.remove(found)
            matched.append((cp, found))
            continue
        closest = next(
            (r for r in unused if r.method == cp.method and r.requests[:1] == cp.requests[:1]), None
        )
        why = (
            f"closest is {closest.label}: {_why_not(cp, closest)}"
            if closest
            else "no recorded stream like it"
        )
        missing.append(f"{cp.describe()}: {why}")
    return Report(matched, missing, unused)
