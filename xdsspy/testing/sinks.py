"""A sink that keeps every published event, and the lookups capture tests make in lists of events."""

from __future__ import annotations

from typing import TypeVar

from xdsspy import model

E = TypeVar("E", bound=model.EventBase)

POLL = ["StreamOpened", "MessageSeen", "ResponseHeadersSeen", "MessageSeen", "StreamClosed"]
"""The kinds of the events of one complete REST poll, in order (capture.rest_events)."""


def of(events: list[model.Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def kinds(events: list[model.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def raws(events: list[model.Event], direction: model.Direction) -> list[bytes | memoryview]:
    """Message bodies one way, as published: a live capture may hand a body on as a view."""
    return [e.raw for e in of(events, model.MessageSeen) if e.direction is direction]


def closed(events: list[model.Event]) -> list[model.StreamClosed]:
    return of(events, model.StreamClosed)


class ListSink:
    """Keeps events in publish order, with the lookups capture tests keep needing."""

    def __init__(self) -> None:
        self.events: list[model.Event] = []

    def publish(self, event: model.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return of(self.events, kind)

    def kinds(self) -> list[str]:
        return kinds(self.events)

    def messages(self, direction: model.Direction) -> list[bytes]:
        return [bytes(raw) for raw in raws(self.events, direction)]
