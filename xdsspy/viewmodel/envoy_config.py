"""One Envoy's resources at one moment of a recording, decoded and linked, for the Resources view.

`at(index, node, position)` takes the timeline's state right after a step
(`state_after_index`: where each accepted and rejected resource's bytes are,
never the bytes), reads each response that carried one of them once, decodes
the resources in the JSON /config_dump prints, and links the accepted ones
(`links.build`). Types are v3 type URLs (`refs.canonical_type`), so v2 and v3
resources sit together; a NACKED resource sits beside the accepted one of its
name. Nothing here raises on what a recording holds: a body that does not
decode carries the decoder's notes, and a resource whose response cannot be
read back carries a `problem` instead of a body. A 10k-cluster Envoy takes
about two seconds, so callers run `at` in a worker thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from xdsspy import errors
from xdsspy.decode import discovery
from xdsspy.decode import resources as decoded_resources
from xdsspy.state import tracker
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import links
from xdsspy.viewmodel import refs

Status = tracker.Status
Key = tuple[int, int]
"""(seq of the response, position of the resource in it): where a resource's bytes are."""


@dataclasses.dataclass(frozen=True, slots=True)
class Body:
    """A resource decoded from the recording, or why it could not be (`problem`)."""

    decoded: decoded_resources.DecodedResource | None
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """One resource as this Envoy held it (ACKED) or rejected it (NACKED), with its decoded body."""

    type_url: str  # v3 (refs.canonical_type)
    name: str
    version: str
    status: tracker.Status
    seq: int  # the response that carried it
    index: int  # its position in that response
    digest: str
    wall_ns: int = 0  # when that response was recorded (0: unknown)
    sent_type_url: str = ""  # as the control plane sent it (v2 or v3)
    error: str = ""  # NACKED: Envoy's error_detail
    decoded: decoded_resources.DecodedResource | None = None
    problem: str = ""  # why there is no body: its response could not be read back

    @property
    def body(self) -> Any:
        """The JSON /config_dump prints for it (with "@type"), None when it could not be read."""
        return self.decoded.body if self.decoded is not None else None

    @property
    def notes(self) -> tuple[str, ...]:
        """What was not fully typed in the body, and where ("" path: the resource itself)."""
        if self.decoded is None:
            return ()
        return tuple(f"{note.path or '(resource)'}: {note.detail}" for note in self.decoded.notes)


@dataclasses.dataclass(frozen=True, slots=True)
class TreeRow:
    """One row of the resource tree (`links.TreeItem`) with what this Envoy holds under that name."""

    item: links.TreeItem
    resource: Resource | None  # the accepted one; None when dangling or only rejected
    rejected: Resource | None = None  # a NACKED version beside it (or instead of it)

    @property
    def status(self) -> tracker.Status | None:
        """ACKED when accepted (even with a NACKED version beside it), NACKED when only rejected."""
        shown = self.resource or self.rejected
        return shown.status if shown is not None else None

    @property
    def version(self) -> str:
        shown = self.resource or self.rejected
        return shown.version if shown is not None else ""

    @property
    def dangling(self) -> links.Dangling | None:
        return self.item.dangling


@dataclasses.dataclass(frozen=True, slots=True)
class EnvoyConfig:
    """What one Envoy held and rejected right after step `position`; build with `at`."""

    recording: str
    node: str
    position: int  # of the step in the timeline
    seq: int  # of that step
    wall_ns: int  # of that step
    resources: Mapping[str, tuple[Resource, ...]]  # v3 type URL -> by name, ACKED before NACKED; may be ()
    graph: links.Graph  # over the accepted resources
    _by_key: Mapping[tuple[str, str], tuple[Resource, ...]] = dataclasses.field(repr=False, compare=False)

    @property
    def types(self) -> tuple[str, ...]:
        """The types held or rejected: the graph's display order, then the others by URL."""
        linked = self.graph.types
        return linked + tuple(sorted(t for t in self.resources if t not in linked))

    def versions(self, type_url: str, name: str) -> tuple[Resource, ...]:
        """The accepted and the NACKED version of one resource (either may be missing)."""
        return self._by_key.get((refs.canonical_type(type_url), name), ())

    def accepted(self, type_url: str, name: str) -> Resource | None:
        return next((r for r in self.versions(type_url, name) if r.status == Status.ACKED), None)

    def rejected(self, type_url: str, name: str) -> Resource | None:
        return next((r for r in self.versions(type_url, name) if r.status == Status.NACKED), None)

    @property
    def problems(self) -> list[str]:
        """One line per resource whose body could not be read back."""
        return [
            f"{r.type_url.rsplit('.', 1)[-1]} {r.name}: {r.problem}"
            for held in self.resources.values()
            for r in held
            if r.problem
        ]

    def tree(self) -> list[TreeRow]:
        """`Graph.walk()` order with each row's resources, then what was only ever rejected; walks anew."""
        out = []
        for item in self.graph.walk():
            held = self._by_key.get((item.type_url, item.name), ())
            accepted = None if item.dangling is not None else _first(held, Status.ACKED)
            out.append(TreeRow(item, accepted, _first(held, Status.NACKED)))
        order = {t: i for i, t in enumerate(self.types)}
        only_rejected = sorted(
            (key for key, held in self._by_key.items() if not self.graph.has(*key)),
            key=lambda key: (order[key[0]], key[1]),
        )
        for kind, name in only_rejected:
            item = links.TreeItem(0, kind, name, unreferenced=not self.graph.refs_to(kind, name))
            out.append(TreeRow(item, None, _first(self._by_key[(kind, name)], Status.NACKED)))
        return out

    def dangling(self) -> list[links.DanglingRef]:
        """References among the accepted resources whose target is absent, and why."""
        return self.graph.dangling()


def _first(held: Iterable[Resource], status: tracker.Status) -> Resource | None:
    return next((r for r in held if r.status == status), None)


def at(
    ix: index_mod.RecordingIndex,
    node: str,
    position: int,
    *,
    static_clusters: frozenset[str] = links.ISTIO_BOOTSTRAP_CLUSTERS,
) -> EnvoyConfig:
    """The resources `node` held and rejected right after step `position` of `ix.timeline`, decoded."""
    state = ix.timeline.state_after_index(position)
    steps = ix.timeline.steps
    wall_ns = steps[position].wall_ns if 0 <= position < len(steps) else 0
    held = [
        (sent_type, rs)
        for table in (state.accepted, state.rejected)
        for sent_type, by_name in table.get(node, {}).items()
        for rs in by_name.values()
    ]
    with decoded_resources.paused_gc():  # tens of thousands of Resources beside millions of body dicts
        by_type = _resources(ix, held)
        linked: dict[str, dict[str, Any]] = {refs.canonical_type(t): {} for t in state.accepted.get(node, {})}
        by_key: dict[tuple[str, str], tuple[Resource, ...]] = {}
        for kind, found in by_type.items():
            for r in found:
                by_key[(kind, r.name)] = (*by_key.get((kind, r.name), ()), r)
                if r.status == Status.ACKED:
                    linked.setdefault(kind, {})[r.name] = r.body if isinstance(r.body, dict) else {}
        graph = links.build(linked, static_clusters=static_clusters)
    for kind in linked:
        by_type.setdefault(kind, ())  # a type Envoy holds none of (a SotW push emptied it)
    return EnvoyConfig(ix.path, node, position, state.seq, wall_ns, by_type, graph, by_key)


def _resources(
    ix: index_mod.RecordingIndex, held: list[tuple[str, tracker.ResourceState]]
) -> dict[str, tuple[Resource, ...]]:
    """The held states with their bodies: v3 type URL -> sorted by name, ACKED before NACKED."""
    read = bodies(ix, ((rs.seq, rs.index, rs.digest) for _, rs in held))
    times = {seq: _wall_ns(ix, seq) for seq in {rs.seq for _, rs in held}}
    by_type: dict[str, list[Resource]] = {}
    for sent_type, rs in held:
        kind = refs.canonical_type(sent_type)
        body = read[(rs.seq, rs.index)]
        by_type.setdefault(kind, []).append(
            Resource(
                kind,
                rs.name,
                rs.version,
                rs.status,
                rs.seq,
                rs.index,
                rs.digest,
                wall_ns=times[rs.seq],
                sent_type_url=sent_type,
                error=rs.error,
                decoded=body.decoded,
                problem=body.problem,
            )
        )
    for found in by_type.values():
        found.sort(key=lambda r: (r.name, r.status != Status.ACKED, r.sent_type_url))
    return {kind: tuple(found) for kind, found in by_type.items()}


def _wall_ns(ix: index_mod.RecordingIndex, seq: int) -> int:
    position = ix.row_of_seq(seq)
    return ix.rows[position].step.wall_ns if position is not None else 0


def bodies(ix: index_mod.RecordingIndex, wanted: Iterable[tuple[int, int, str]]) -> dict[Key, Body]:
    """Decode resources by (seq, position in that response, digest), reading each response once.

    The digest checks that the bytes found are the ones the state meant ("" skips the check).
    Never raises: what cannot be read or does not match gets a Body with a `problem`.
    """
    by_seq: dict[int, dict[int, str]] = {}
    for seq, position, digest in wanted:
        by_seq.setdefault(seq, {})[position] = digest
    out: dict[Key, Body] = {}
    with decoded_resources.paused_gc():
        for seq, positions in by_seq.items():
            out.update(_bodies_of_response(ix, seq, positions))
    return out


def _bodies_of_response(ix: index_mod.RecordingIndex, seq: int, positions: dict[int, str]) -> dict[Key, Body]:
    """The wanted resources of one response (position -> expected digest)."""
    try:
        found = ix.message_at_seq(seq)
    except (errors.XdsspyError, OSError) as exc:
        return {(seq, p): Body(None, f"response {seq} cannot be read back: {exc}") for p in positions}
    if found is None:
        problem = f"response {seq} cannot be read back from the recording"
        return {(seq, p): Body(None, problem) for p in positions}
    message = found[1]
    envelope = discovery.decode(message.method, message.direction, bytes(message.raw))
    entries = envelope.resources
    out: dict[Key, Body] = {}
    usable = []
    for position, digest in positions.items():
        if position >= len(entries):
            out[(seq, position)] = Body(
                None, f"response {seq} holds {len(entries)} resources, not #{position}"
            )
        elif digest and entries[position].digest != digest:
            out[(seq, position)] = Body(None, f"response {seq} holds other bytes at #{position}")
        else:
            usable.append(position)
    decoded = decoded_resources.decode_entries(entries[p] for p in usable)
    out.update({(seq, p): Body(d) for p, d in zip(usable, decoded, strict=True)})
    return out
