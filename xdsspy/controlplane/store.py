"""The resources a control plane serves: one versioned snapshot per type URL.

Each set() replaces a type's whole state and bumps that type's version, so
versions are per type as in every real control plane. Each resource also gets
a version of its own, derived from its bytes: delta xDS compares those with
what a client says it has (also after a reconnect, even to a restarted
control plane), and equal bytes must mean equal versions for that to work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import types
from collections.abc import Iterable
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True, slots=True)
class StoredResource:
    name: str
    value: bytes  # the serialised resource: the value of the Any it is sent in
    version: str  # from the bytes, so a restarted control plane agrees with what clients hold


@dataclasses.dataclass(frozen=True, slots=True)
class TypeSnapshot:
    """The whole state of one type at one version; never mutated, so streams can hold it."""

    type_url: str
    version: str  # "" until the type is first set: nothing is served before that
    resources: Mapping[str, StoredResource]  # in the order they were given

    @property
    def is_set(self) -> bool:
        return bool(self.version)


KNOWN_VERSIONS = 200_000
"""Resource versions remembered by content (a replay resends 10k unchanged clusters at every push)."""


def resource_version(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:16]


class Store:
    """Thread-safe: set() is called from the caller's thread, snapshots are read on the server's loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._snapshots: dict[str, TypeSnapshot] = {}
        self._known: dict[bytes, str] = {}  # resource version by bytes: a new state mostly resends old ones

    def set(
        self, type_url: str, resources: Iterable[tuple[str, bytes]], *, version: str | None = None
    ) -> TypeSnapshot:
        """Replace every resource of type_url with resources ((name, bytes) pairs) under a new version:
        `version` if given (a replay serves the recorded ones), else the type's next counter."""
        if version is not None and not version:
            raise ValueError(f"{type_url}: an empty version would mean 'never set'")
        entries: dict[str, StoredResource] = {}
        known = self._known
        if len(known) > KNOWN_VERSIONS:
            known.clear()
        for name, value in resources:
            if name in entries:
                raise ValueError(f"{type_url}: resource name {name!r} given twice (clients must NACK that)")
            content_version = known.get(value)
            if content_version is None:
                content_version = known[value] = resource_version(value)
            entries[name] = StoredResource(name, value, content_version)
        with self._lock:
            counter = self._counters.get(type_url, 0) + 1
            self._counters[type_url] = counter
            snapshot = TypeSnapshot(type_url, version or str(counter), types.MappingProxyType(entries))
            self._snapshots[type_url] = snapshot
        return snapshot

    def get(self, type_url: str) -> TypeSnapshot:
        with self._lock:
            snapshot = self._snapshots.get(type_url)
        return snapshot or TypeSnapshot(type_url, "", types.MappingProxyType({}))

    def type_urls(self) -> list[str]:
        with self._lock:
            return list(self._snapshots)
