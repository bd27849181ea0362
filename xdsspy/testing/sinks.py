"""A sink that keeps every published event, for tests of the capture side."""

from __future__ import annotations

from typing import TypeVar

from xdsspy import model

E = TypeVar("E", bound=model.EventBase)


class ListSink:
    """Keeps events in publish order, with the lookups capture tests keep needing."""

    def __init__(self) -> None:
        self.events: list[model.Event] = []

    def publish(self, event: model.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    def messages(self, direction: model.Direction) -> list[bytes]:
        return [bytes(e.raw) for e in self.of(model.MessageSeen) if e.direction == direction]
