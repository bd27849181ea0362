"""A snapshot at one point of a recording: `FILE@N`, `FILE@<RFC 3339 time>`, `FILE@last`, `FILE@nack:K`.

The point names an event; the snapshot is what the chosen Envoy held right
after it (`envoy_config.at`: the timeline's accepted and NACKED resources,
decoded from the responses that carried them). `nack:K` is the K-th NACK (of
the chosen Envoy when `--node` names one): right after it, the accepted
resources are exactly what the Envoy held before it, and the rejected ones
are what it refused. A recording cannot know the bootstrap's static
resources (`has_static` is False). A torn recording gives what is intact,
with a note saying where it stops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
import fnmatch
import os
import re
from collections.abc import Iterable
from collections.abc import Iterator

from xdsspy import errors
from xdsspy import timefmt
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.state import tracker
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import words


class PointKind(enum.StrEnum):
    SEQ = "seq"
    TIME = "time"
    LAST = "last"
    NACK = "nack"


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """Where in a recording: after event `seq`, at `time_ns`, after the last event, or the `nack`-th NACK."""

    kind: PointKind
    seq: int = 0
    time_ns: int = 0
    nack: int = 0

    def __str__(self) -> str:
        if self.kind == PointKind.SEQ:
            return str(self.seq)
        if self.kind == PointKind.TIME:
            return timefmt.rfc3339(self.time_ns)
        if self.kind == PointKind.NACK:
            return f"nack:{self.nack}"
        return "last"


LAST = Point(PointKind.LAST)
_NACK = re.compile(r"nack:(\d+)")


def parse_point(text: str) -> Point:
    """`17`, `last`, `nack:2`, `2026-11-25T10:00:03Z` (any RFC 3339 time; no zone means UTC)."""
    text = text.strip()
    if text.isdigit():
        return Point(PointKind.SEQ, seq=int(text))
    if text == "last":
        return LAST
    if (m := _NACK.fullmatch(text)) is not None:
        if int(m.group(1)) < 1:
            raise problems.SnapshotError(f"@{text}: NACKs count from 1 (nack:1 is the first)")
        return Point(PointKind.NACK, nack=int(m.group(1)))
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise problems.SnapshotError(
            f"@{text}: not a point of a recording; use an event number (@17), a time "
            "(@2026-11-25T10:00:03Z), @last or @nack:K"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    seconds = int(when.timestamp())
    return Point(PointKind.TIME, time_ns=seconds * 1_000_000_000 + when.microsecond * 1000)


def split_source(text: str) -> tuple[str, Point | None]:
    """`FILE@POINT` -> (FILE, point); a name holding '@' that exists as a file stays whole."""
    path, at, point = text.rpartition("@")
    if not at or os.path.exists(text):
        return text, None
    return path, parse_point(point)


def load(path: str, point: Point = LAST, *, node: str | None = None, source: str = "") -> model.Snapshot:
    """The state of one Envoy at `point` of the recording at `path` (raises problems.SnapshotError)."""
    with indexed(path) as ix:
        position, chosen, how = locate(ix, point, node)
        return at(ix, position, chosen, source=source or f"{path}@{point}", notes=[how] if how else [])


@contextlib.contextmanager
def indexed(path: str) -> Iterator[index_mod.RecordingIndex]:
    """The recording indexed to its end (a torn end is a problem noted, not an error)."""
    ix = index_mod.RecordingIndex(path)
    try:
        ix.run()
        if ix.error:
            raise problems.SnapshotError(f"{path}: {ix.error}")
        yield ix
    except errors.RecordingReadError as e:
        raise problems.SnapshotError(str(e)) from e
    finally:
        ix.close()


def at(
    ix: index_mod.RecordingIndex, position: int, node: str, *, source: str, notes: Iterable[str] = ()
) -> model.Snapshot:
    """What `node` held right after step `position` of an indexed recording."""
    config = envoy_config.at(ix, node, position)
    identity = next((r.identity for r in ix.envoys.at(position) if r.identity.node == node), None)
    items = [_item(r) for held in config.resources.values() for r in held]
    items.sort(key=lambda i: (model.type_order(i.type_url), i.name, i.state))
    return model.Snapshot(
        source=source,
        kind=model.SourceKind.RECORDING,
        items=tuple(items),
        node=node,
        at=timefmt.rfc3339(config.wall_ns) if config.wall_ns else "",
        seq=config.seq,
        has_static=False,
        has_endpoints=True,
        envoy_version=identity.envoy_version if identity else "",
        istio_version=identity.istio_version if identity else "",
        notes=(*(f"{ix.path}: {p}" for p in ix.problems), *notes),
    )


def _item(r: envoy_config.Resource) -> model.Item:
    rejected = r.status == tracker.Status.NACKED
    return model.Item(
        type_url=r.type_url,
        name=r.name,
        body=r.body,
        state=model.State.REJECTED if rejected else model.State.ACTIVE,
        version=r.version,
        last_updated=timefmt.rfc3339(r.wall_ns) if r.wall_ns else "",
        error=r.error,
        problem=r.problem,
    )


def locate(ix: index_mod.RecordingIndex, point: Point, node: str | None) -> tuple[int, str, str]:
    """(step position, node, a note on how the point was found or "")."""
    steps = ix.timeline.steps
    if not steps:
        why = "; ".join(str(p) for p in ix.problems)
        raise problems.SnapshotError(
            f"{ix.path}: the recording holds no events" + (f" ({why})" if why else "")
        )
    first, last = steps[0], steps[-1]
    if point.kind == PointKind.NACK:
        return _nack(ix, point.nack, node)
    if point.kind == PointKind.LAST:
        position = len(steps) - 1
    elif point.kind == PointKind.SEQ:
        position = ix.timeline.index_of(point.seq)
        if position < 0 or point.seq > last.seq:
            raise problems.SnapshotError(
                f"{ix.path}@{point.seq}: the recording's events are {first.seq}..{last.seq}"
            )
    else:
        position = _at_time(ix, point.time_ns)
    return position, _choose(ix, position, node), ""


def _at_time(ix: index_mod.RecordingIndex, time_ns: int) -> int:
    steps = ix.timeline.steps
    found = -1
    for i, step in enumerate(steps):  # wall clocks may step back: the last event at or before the time
        if step.wall_ns and step.wall_ns <= time_ns:
            found = i
    if found < 0:
        starts = next((s.wall_ns for s in steps if s.wall_ns), 0)
        raise problems.SnapshotError(
            f"{ix.path}@{timefmt.rfc3339(time_ns)}: before the recording starts ({timefmt.rfc3339(starts)})"
        )
    return found


def _nack(ix: index_mod.RecordingIndex, k: int, node: str | None) -> tuple[int, str, str]:
    nacks = ix.timeline.nack_indexes()
    steps = ix.timeline.steps
    if node is not None:
        wanted = _match(sorted({steps[i].node for i in nacks}), node)
        if len(wanted) > 1:
            raise problems.SnapshotError(f"--node {node!r} names {len(wanted)} Envoys: {', '.join(wanted)}")
        nacks = [i for i in nacks if steps[i].node in wanted]
    if not nacks:
        who = f" from {node}" if node else ""
        raise problems.SnapshotError(f"{ix.path}: no NACK{who} in this recording")
    if k > len(nacks):
        raise problems.SnapshotError(f"{ix.path}@nack:{k}: the recording holds {len(nacks)} NACK(s)")
    position = nacks[k - 1]
    step = steps[position]
    what = words.short_type(step.verdict.type_url) if step.verdict is not None else "a push"
    return position, step.node, f"nack:{k} is event {step.seq}, {step.node}'s NACK of {what}"


def names(node: str, wanted: str) -> bool:
    """Whether `--node wanted` names `node`."""
    return bool(_match([node], wanted))


def _match(candidates: list[str], wanted: str) -> list[str]:
    """The Envoys `--node` names: an exact id, an Istio POD.NS, or a shell glob."""
    for test in (
        lambda n: n == wanted,
        lambda n: words.short_node(n) == wanted,
        lambda n: fnmatch.fnmatchcase(n, wanted),
    ):
        found = [n for n in candidates if test(n)]
        if found:
            return found
    return []


def _choose(ix: index_mod.RecordingIndex, position: int, node: str | None) -> str:
    state = ix.timeline.state_after_index(position)
    held = state.nodes()
    known = sorted(set(ix.envoys.nodes()) | set(held))
    if node is not None:
        found = _match(known, node)
        if len(found) == 1:
            return found[0]
        if not found:
            listed = ", ".join(known) or "none"
            raise problems.SnapshotError(f"{ix.path}: no Envoy {node!r} in this recording (Envoys: {listed})")
        raise problems.SnapshotError(
            f"--node {node!r} names {len(found)} Envoys: {', '.join(found)}; name one"
        )
    if len(held) == 1:
        return held[0]
    if not held:
        if len(known) == 1:
            return known[0]
        raise problems.SnapshotError(f"{ix.path}: no Envoy held any resource at that point")
    raise problems.SnapshotError(
        f"{ix.path}: {len(held)} Envoys held resources at that point; choose one with --node: "
        + ", ".join(held)
    )
