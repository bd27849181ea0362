"""Payloads and subtrees that repeat decode once: their JSON is kept as a marshal blob and re-materialised.

xDS repeats itself. A SotW push resends every cluster, unchanged ones
included, and within a push Istio puts the same typed_config (HTTP protocol
options, metadata-exchange filters, raw_buffer sockets) in thousands of places.
Rebuilding a dict from `marshal.loads` is ~8x faster than converting the
message again and returns a fresh, independent tree each time, so callers may
mutate what they get. Only a payload seen twice is stored, so one-off payloads
cost a set insertion (of their hash: the payload itself is not kept alive), not
a serialisation. Blobs never leave the process.

Two memos: `PayloadMemo` for whole Any payloads (the resource decoder; keeps
the notes found inside), `SubtreeMemo` for the messages of one type inside
them (the converter; keyed by the message's own bytes, never holds notes).
"""

from __future__ import annotations

import dataclasses
import marshal
import threading
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import Generic
from typing import Protocol
from typing import TypeVar

from xdsspy.decode import tree

T = TypeVar("T")
Key = tuple[str, bytes]
"""(type URL, payload bytes)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    blob: bytes
    notes: tuple[tuple[tuple[tree.Token, ...], T], ...]


class PayloadMemo(Generic[T]):
    """A bounded map from payload to its decoded JSON and the notes found inside it (paths relative)."""

    def __init__(self, max_entries: int = 50_000, max_bytes: int = 256 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: dict[Key, _Entry[T]] = {}
        self._seen: set[int] = set()  # hashes of keys seen once: holding the keys would pin every payload
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> tuple[Any, list[tuple[Any, T]]] | None:
        """A fresh copy of the stored JSON and its notes re-attached to the copy's nodes, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        out = marshal.loads(entry.blob)
        self.hits += 1
        return out, [(tree.follow(out, path), note) for path, note in entry.notes]

    def should_store(self, key: Key) -> bool:
        """True on the second sighting of `key` (or of a key with the same hash, a harmless extra store);
        the first one is only remembered."""
        seen = hash(key)
        if seen in self._seen:
            return True
        with self._lock:
            if len(self._seen) >= self.max_entries:
                self._seen.clear()
            self._seen.add(seen)
        return False

    def store(self, key: Key, out: Any, notes: Sequence[tuple[Any, T]]) -> None:
        """Remember `out` (and notes about dicts inside it) for `key`."""
        try:
            blob = marshal.dumps(out)
        except ValueError:  # not plain JSON data: never the case for decoder output, but stay safe
            return
        paths = tree.locate(out, {id(node) for node, _ in notes})
        if len(paths) < len({id(node) for node, _ in notes}):
            return  # a note about something outside `out`: not replayable
        with self._lock:
            if len(self._entries) >= self.max_entries or self._bytes + len(blob) > self.max_bytes:
                self._entries.clear()
                self._bytes = 0
            self._entries[key] = _Entry(blob, tuple((paths[id(node)], note) for node, note in notes))
            self._bytes += len(blob)
            self._seen.discard(hash(key))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seen.clear()
            self._bytes = 0


class Serial(Protocol):
    """Something whose `serial` changes when a note is recorded (the converter)."""

    serial: int


class SubtreeMemo:
    """One message type's memo: JSON blobs by message bytes, bytes seen once, and its hit rate.

    xDS config repeats whole subtrees (the same SDS config source, circuit
    breakers, outlier detection in every cluster of a push); serialising a
    message is ~20x cheaper than converting it. A type whose messages rarely
    repeat (fewer than 1 in 4 of its first 256) stops being memoized, so unique
    data pays one extra call. A subtree during whose conversion a note was
    recorded (a nested Any without schema...) is never stored.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.store: dict[bytes, bytes] = {}
        self.seen: set[bytes] = set()
        self.enabled = True
        self.calls = 0
        self.hits = 0

    def reset(self, enabled: bool = True) -> None:
        self.store.clear()
        self.seen.clear()
        self.enabled = enabled
        self.calls = self.hits = 0

    def wrap(self, convert: Callable[[Any], Any], owner: Serial) -> Callable[[Any], Any]:
        """`convert`, answered from the memo when the same bytes were converted before."""

        def memoized(message: Any) -> Any:
            if not self.enabled:
                return convert(message)
            data = message.SerializeToString()
            self.calls += 1
            blob = self.store.get(data)
            if blob is not None:
                self.hits += 1
                return marshal.loads(blob)
            if self.calls == 256 and self.hits * 4 < 256:
                self.reset(enabled=False)
            serial = owner.serial
            out = convert(message)
            seen = self.seen
            if data in seen:
                if owner.serial == serial:
                    if len(self.store) >= self.limit:
                        self.store.clear()
                    self.store[data] = marshal.dumps(out)
            else:
                if len(seen) >= self.limit:
                    seen.clear()
                seen.add(data)
            return out

        return memoized
