"""The graph of one Envoy's resources: who names whom, both ways, which names point nowhere, a tree order.

`build` indexes a whole Envoy's resources with the references `refs.refs_of`
finds in each body, `Graph.dangling` says which names point nowhere and why
(`Dangling`), and `Graph.walk` orders everything for a tree view. Types are
compared as v3 type URLs (`refs.canonical_type`), so v2 and v3 resources mix.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from xdsspy.decode import resources as decoded_resources
from xdsspy.viewmodel import refs

ISTIO_BOOTSTRAP_CLUSTERS = frozenset(
    (
        "xds-grpc",
        "sds-grpc",
        "agent",
        "prometheus_stats",
        "zipkin",
        "lightstep",
        "datadog_agent",
        "envoy_metrics_service",
        "envoy_accesslog_service",
    )
)
"""Clusters Istio's bootstrap defines (tools/packaging/common/envoy_bootstrap.json): never sent over xDS.

BlackHoleCluster, PassthroughCluster and InboundPassthroughCluster* are not
here: istiod sends those over CDS (they are in `dynamic_active_clusters` of
the Istio fixtures, pilot-side dumps included), so their absence is real.
"""

_TYPE_RANK = {
    refs.LISTENER: 0,
    refs.SCOPED_ROUTE: 1,
    refs.ROUTE: 2,
    refs.VIRTUAL_HOST: 3,
    refs.CLUSTER: 4,
    refs.ENDPOINT: 5,
    refs.SECRET: 6,
    refs.EXTENSION: 7,
}
"""Display order of types: what Envoy reaches first comes first; other types follow, by URL."""
_OTHER_RANK = 9


# -- the graph ------------------------------------------------------------------------------------


class Dangling(enum.StrEnum):
    """Why a reference's target is not among the resources."""

    MISSING = "missing"  # Envoy has resources of that type, not this name: a real dangling reference
    NOT_CAPTURED = "not_captured"  # no resource of that type at all: fetched elsewhere (SDS) or not seen
    STATIC = "static"  # a cluster the bootstrap defines, which xDS never carries


@dataclasses.dataclass(frozen=True, slots=True)
class DanglingRef:
    ref: refs.Ref
    kind: Dangling


@dataclasses.dataclass(frozen=True, slots=True)
class TreeItem:
    """One row of the resource tree. `ref` is how the parent names it (None for a root)."""

    depth: int
    type_url: str
    name: str
    ref: refs.Ref | None = None
    dangling: Dangling | None = None  # set when the resource is not there
    repeat: bool = False  # shown in full above: no children here
    unreferenced: bool = False  # a root nothing points at (listeners are roots, never unreferenced)


Key = tuple[str, str]
"""(v3 type URL, name)."""


class Graph:
    """One Envoy's resources and the references between them, both ways; build with `build`."""

    def __init__(
        self,
        names: dict[str, frozenset[str]],
        outgoing: dict[Key, list[refs.Ref]],
        incoming: dict[Key, list[refs.Ref]],
        static_clusters: frozenset[str],
    ) -> None:
        self._names = names
        self._out = outgoing
        self._in = incoming
        self.static_clusters = static_clusters

    @property
    def types(self) -> tuple[str, ...]:
        """The (v3) types present, in display order."""
        return tuple(sorted(self._names, key=_type_order))

    def names(self, type_url: str) -> frozenset[str]:
        return self._names.get(refs.canonical_type(type_url), frozenset())

    def has(self, type_url: str, name: str) -> bool:
        return name in self.names(type_url)

    def refs_from(self, type_url: str, name: str) -> tuple[refs.Ref, ...]:
        """What this resource names, in body order."""
        return tuple(self._out.get((refs.canonical_type(type_url), name), ()))

    def refs_to(self, type_url: str, name: str) -> tuple[refs.Ref, ...]:
        """Who names this resource (present or not)."""
        return tuple(self._in.get((refs.canonical_type(type_url), name), ()))

    def classify(self, ref: refs.Ref) -> Dangling | None:
        """None when the target is there, else why not."""
        names = self._names.get(ref.target_type)
        if names is not None and ref.target in names:
            return None
        if ref.target_type == refs.CLUSTER and ref.target in self.static_clusters:
            return Dangling.STATIC
        return Dangling.NOT_CAPTURED if names is None else Dangling.MISSING

    def dangling(self) -> list[DanglingRef]:
        """Every reference whose target is absent, by source (display order) then body order."""
        out = []
        for key in sorted(self._out, key=_key_order):
            for ref in self._out[key]:
                kind = self.classify(ref)
                if kind is not None:
                    out.append(DanglingRef(ref, kind))
        return out

    def children(self, type_url: str, name: str) -> list[refs.Ref]:
        """One reference per distinct target, ordered by target type then name: a tree node's children."""
        first: dict[Key, refs.Ref] = {}
        for ref in self.refs_from(type_url, name):
            first.setdefault((ref.target_type, ref.target), ref)
        return [first[key] for key in sorted(first, key=_key_order)]

    def roots(self) -> list[Key]:
        """Listeners, then the resources nothing else names ("unreferenced"), grouped by type."""
        out = []
        for kind in self.types:
            for name in sorted(self._names[kind]):
                if kind == refs.LISTENER or not self._named_by_other(kind, name):
                    out.append((kind, name))
        return out

    def _named_by_other(self, kind: str, name: str) -> bool:
        return any((ref.source_type, ref.source) != (kind, name) for ref in self._in.get((kind, name), ()))

    def walk(self) -> list[TreeItem]:
        """Every resource once in full, depth first from `roots`, then any left over (reached only by cycles).

        A resource reached again is a `repeat` row without children; absent targets are rows with `dangling`.
        """
        rows: list[TreeItem] = []
        expanded: set[Key] = set()
        with decoded_resources.paused_gc():
            for kind, name in self.roots():
                rows.extend(self._subtree(kind, name, expanded, unreferenced=kind != refs.LISTENER))
            for kind in self.types:
                for name in sorted(self._names[kind]):
                    if (kind, name) not in expanded:
                        rows.extend(self._subtree(kind, name, expanded, unreferenced=False))
        return rows

    def _subtree(self, kind: str, name: str, expanded: set[Key], *, unreferenced: bool) -> list[TreeItem]:
        rows: list[TreeItem] = []
        stack: list[tuple[int, Key, refs.Ref | None]] = [(0, (kind, name), None)]
        while stack:
            depth, key, ref = stack.pop()
            if ref is not None and (kind_of_absence := self.classify(ref)) is not None:
                rows.append(TreeItem(depth, key[0], key[1], ref, dangling=kind_of_absence))
                continue
            if key in expanded:
                rows.append(TreeItem(depth, key[0], key[1], ref, repeat=True))
                continue
            expanded.add(key)
            rows.append(TreeItem(depth, key[0], key[1], ref, unreferenced=unreferenced and ref is None))
            for child in reversed(self.children(*key)):
                stack.append((depth + 1, (child.target_type, child.target), child))
        return rows


def build(
    resources: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    static_clusters: frozenset[str] = ISTIO_BOOTSTRAP_CLUSTERS,
) -> Graph:
    """Index one Envoy's resources: type URL (v2 or v3) -> name -> decoded body.

    A type present with no names counts as captured (Envoy has none), so references to it are MISSING.
    `static_clusters` are the bootstrap's cluster names when known (they are never in xDS).
    """
    names: dict[str, set[str]] = {}
    outgoing: dict[Key, list[refs.Ref]] = {}
    incoming: dict[Key, list[refs.Ref]] = {}
    with decoded_resources.paused_gc():  # tens of thousands of Refs beside millions of body dicts
        for type_url, by_name in resources.items():
            kind = refs.canonical_type(type_url)
            present = names.setdefault(kind, set())
            if not isinstance(by_name, Mapping):
                continue
            for name, body in by_name.items():
                present.add(name)
                made = refs.refs_of(kind, name, body)
                if made:
                    outgoing.setdefault((kind, name), []).extend(made)
        for made in outgoing.values():
            for ref in made:
                incoming.setdefault((ref.target_type, ref.target), []).append(ref)
    frozen = {kind: frozenset(found) for kind, found in names.items()}
    return Graph(frozen, outgoing, incoming, static_clusters)


def _type_order(type_url: str) -> tuple[int, str]:
    return _TYPE_RANK.get(type_url, _OTHER_RANK), type_url


def _key_order(key: Key) -> tuple[int, str, str]:
    return _TYPE_RANK.get(key[0], _OTHER_RANK), key[0], key[1]
