"""Which v3 message stands for a v2 one (`envoy.api.v2.Cluster` -> `envoy.config.cluster.v3.Cluster`).

Envoy's v3 protos name their v2 predecessor in the option
`(udpa.annotations.versioning).previous_message_type`; Envoy itself used it to
upgrade v2 config. The map is read from those options over every loaded file,
so it covers nested messages and user-added files too. Types the options do not
cover (Istio 1.5's `envoy.config.filter.http.wasm.v2.Wasm`) fall back to Envoy's
directory move `envoy.config.filter.*` -> `envoy.extensions.filters.*`, used
only when the target exists.
"""

from __future__ import annotations

import dataclasses
import re
import threading

from google.protobuf import descriptor

from xdsspy.decode import schemas

_VERSIONING_EXTENSION = "udpa.annotations.versioning"

_NAME_PATTERNS = (
    (
        re.compile(r"^envoy\.config\.filter\.(\w+)\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$"),
        r"envoy.extensions.filters.\1.\2.v3.\3",
    ),
    (
        re.compile(r"^envoy\.config\.(\w+)\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$"),
        r"envoy.extensions.\1.\2.v3.\3",
    ),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Upgrade:
    """How a v2 name maps to v3: `by_annotation` False means by Envoy's directory-move name pattern."""

    v2_name: str
    v3_name: str
    by_annotation: bool


class VersionMap:
    """previous_message_type in both directions, read from a registry's files once on first use."""

    def __init__(self, registry: schemas.Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._built_generation = -1
        self._successor: dict[str, str] = {}
        self._predecessor: dict[str, str] = {}

    def _ensure(self) -> None:
        if self._built_generation == self._registry.generation:
            return
        with self._lock:
            if self._built_generation == self._registry.generation:
                return
            successor: dict[str, str] = {}
            predecessor: dict[str, str] = {}
            for file_descriptor in self._registry.files:
                for message_descriptor in file_descriptor.message_types_by_name.values():
                    _collect(message_descriptor, successor, predecessor)
            self._successor = successor
            self._predecessor = predecessor
            self._built_generation = self._registry.generation

    def upgrade(self, name: str) -> Upgrade | None:
        """The v3 type to decode a v2 type with, or None when `name` is not a known v2 type."""
        self._ensure()
        seen = {name}
        current = name
        # Follow the chain (v2 -> v3 -> v4alpha never shipped, but the loop is cheap insurance).
        while (following := self._successor.get(current)) is not None and following not in seen:
            seen.add(following)
            current = following
        if current != name:
            return Upgrade(name, current, True)
        for pattern, replacement in _NAME_PATTERNS:
            if pattern.match(name):
                candidate = pattern.sub(replacement, name)
                if self._registry.find(candidate) is not None:
                    return Upgrade(name, candidate, False)
        return None

    def predecessor(self, v3_name: str) -> str | None:
        """The v2 type a v3 type replaced, if the API says so."""
        self._ensure()
        return self._predecessor.get(v3_name)


def _previous_name(message_descriptor: descriptor.Descriptor) -> str:
    if not message_descriptor.has_options:
        return ""
    options = message_descriptor.GetOptions()
    for field, value in options.ListFields():
        if field.is_extension and field.full_name == _VERSIONING_EXTENSION:
            return str(value.previous_message_type)
    return ""


def _collect(
    message_descriptor: descriptor.Descriptor, successor: dict[str, str], predecessor: dict[str, str]
) -> None:
    previous = _previous_name(message_descriptor)
    if previous:
        # A v3 type names its v2 predecessor; v4alpha types would name their v3 one the same way.
        successor.setdefault(previous, message_descriptor.full_name)
        predecessor.setdefault(message_descriptor.full_name, previous)
    for nested in message_descriptor.nested_types:
        _collect(nested, successor, predecessor)
