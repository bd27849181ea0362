"""`xdsspy bundle`: one archive for a bug report, around one point of one Envoy's conversation.

The archive (a .tar.gz, mode 0600) holds:
- `recording.xdsspy`: the chosen Envoy's streams from the start to `after`
  events past the point, secrets masked, still a recording that `show`,
  `view` and `replay` open (events keep their numbers);
- `before.yaml` and `after.yaml`: snapshots around the point. At a NACK,
  before is what the Envoy held when it refused the push, and after is what
  the control plane wanted it to hold (the push's resources in place of the
  accepted ones); at any other point, the states before and after its event;
- `diff.md`: what changed between the two, in markdown for an issue;
- `README.md`: the point, the error, the versions of Envoy, Istio and xdsspy
  seen, and the commands that reproduce it (`xdsspy replay … --until N`).
Every part is masked with one Redactor, so a secret has one marker
throughout the archive.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
import time
from collections.abc import Iterator

from xdsspy import __version__
from xdsspy import model as events_model
from xdsspy import privatefile
from xdsspy import redact
from xdsspy import redact_events
from xdsspy.record import reader as reader_mod
from xdsspy.record import writer as writer_mod
from xdsspy.snapshot import compare
from xdsspy.snapshot import files
from xdsspy.snapshot import masked
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.snapshot import recorded
from xdsspy.snapshot import report
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import saving
from xdsspy.viewmodel import words

DEFAULT_AFTER = 20
"""Events of the chosen Envoy kept past the point: the ACK, the control plane's next try, a reconnect."""


@dataclasses.dataclass(frozen=True, slots=True)
class Bundled:
    """What `build` wrote: for the one line the command prints."""

    path: str
    node: str
    seq: int
    events: int
    masked: int
    redacted: bool


def default_point(ix: index_mod.RecordingIndex) -> recorded.Point:
    """The first NACK when there is one (what bug reports are about), else the end."""
    return recorded.Point(recorded.PointKind.NACK, nack=1) if ix.timeline.nack_indexes() else recorded.LAST


def build(
    path: str,
    output: str,
    *,
    around: recorded.Point | None = None,
    node: str | None = None,
    after: int = DEFAULT_AFTER,
    redactor: redact.Redactor | None = None,
    tmpdir: str | None = None,
) -> Bundled:
    """Write the bundle (see the module docstring); `redactor` None writes secrets as they are."""
    with recorded.indexed(path) as ix:
        point = around or default_point(ix)
        position, chosen, how = recorded.locate(ix, point, node)
        step = ix.timeline.steps[position]
        notes = [how] if how else []
        is_nack = step.verdict is not None and step.verdict.is_nack
        base = os.path.basename(path)
        after_snap = recorded.at(ix, position, chosen, source=f"{base}@{step.seq}", notes=notes)
        if is_nack:
            before_snap = dataclasses.replace(after_snap, items=tuple(after_snap.selected()))
            after_snap = _pushed(after_snap)
        else:
            before_snap = recorded.at(ix, position - 1, chosen, source=f"{base}@{step.seq - 1}")
        connections = {s.connection for s in ix.timeline.steps if s.node == chosen and s.connection}
        last_seq = _last_seq(ix, position, connections, after)
        identity = next((r.identity for r in ix.envoys.at(position) if r.identity.node == chosen), None)
    masker = redact_events.EventRedactor(redactor) if redactor is not None else None
    count = 0
    if redactor is not None:
        before_snap, n1 = masked.masked(before_snap, redactor)
        after_snap, n2 = masked.masked(after_snap, redactor)
        count += n1 + n2
    comparison = compare.compare(before_snap, after_snap, with_rejected=False)
    slice_path = os.path.join(
        tmpdir or os.path.dirname(os.path.abspath(output)), f".{os.path.basename(output)}.rec"
    )
    try:
        written = _write_slice(path, slice_path, connections, last_seq, masker)
        if masker is not None:
            count += masker.masked
        readme = _readme(
            path, chosen, step, point, is_nack, last_seq, identity, redactor is not None, comparison
        )
        members = {
            "README.md": readme.encode(),
            "before.yaml": saving.render(files.to_document(before_snap), "yaml").encode(),
            "after.yaml": saving.render(files.to_document(after_snap), "yaml").encode(),
            "diff.md": report.markdown(comparison).encode(),
        }
        _write_archive(output, slice_path, members)
    finally:
        if os.path.exists(slice_path):
            os.unlink(slice_path)
    return Bundled(output, chosen, step.seq, written, count, redactor is not None)


def _pushed(snapshot: model.Snapshot) -> model.Snapshot:
    """What the control plane wanted the Envoy to hold: the NACKED versions in place of the accepted."""
    rejected = {(i.type_url, i.name): i for i in snapshot.items if i.state == model.State.REJECTED}
    items = [i for i in snapshot.items if i.state.accepted and (i.type_url, i.name) not in rejected]
    items += [dataclasses.replace(i, state=model.State.ACTIVE) for i in rejected.values()]
    items.sort(key=lambda i: (model.type_order(i.type_url), i.name))
    return snapshot.with_items(
        items, "after: what the control plane pushed, including the resources Envoy rejected"
    )


def _last_seq(ix: index_mod.RecordingIndex, position: int, connections: set[int], after: int) -> int:
    steps = ix.timeline.steps
    last = steps[position].seq
    kept = 0
    for step in steps[position + 1 :]:
        if kept >= after:
            break
        if step.connection in connections:
            kept += 1
            last = max(last, step.seq)
    return last


def _events(path: str, connections: set[int], last_seq: int) -> Iterator[events_model.Event]:
    with reader_mod.RecordingReader(path) as reader:
        for event in reader.events():
            if event.seq > last_seq:
                break
            capture_wide = isinstance(event, (events_model.CaptureStarted, events_model.CaptureStopped))
            if capture_wide or event.connection in connections or (event.seq == 0 and not event.connection):
                yield event


def _write_slice(
    path: str, out: str, connections: set[int], last_seq: int, masker: redact_events.EventRedactor | None
) -> int:
    writer = writer_mod.RecordingWriter(out)
    count = 0
    try:
        for event in _events(path, connections, last_seq):
            writer.publish(masker.event(event) if masker is not None else event)
            count += 1
    finally:
        stats = writer.close()
    if stats.records_lost:
        raise problems.SnapshotError(f"{out}: {stats.records_lost} events could not be written")
    return count


def _write_archive(output: str, recording: str, members: dict[str, bytes]) -> None:
    now = time.time()
    with privatefile.open_private(output, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tar.gettarinfo(recording, arcname="recording.xdsspy")
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
        with open(recording, "rb") as f:
            tar.addfile(info, f)
        for name, data in members.items():
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o600, int(now)
            tar.addfile(member, io.BytesIO(data))


def _readme(
    path: str,
    node: str,
    step: object,
    point: recorded.Point,
    is_nack: bool,
    last_seq: int,
    identity: object,
    redacted: bool,
    comparison: compare.Comparison,
) -> str:
    verdict = getattr(step, "verdict", None)
    seq = getattr(step, "seq", 0)
    lines = [
        "# xdsspy bug-report bundle",
        "",
        f"- recording: `{os.path.basename(path)}`, sliced to Envoy `{node}`: "
        f"its streams up to event {last_seq}",
        f"- point: `@{point}` = event {seq}"
        + (f", a NACK of {words.short_type(verdict.type_url)}" if is_nack and verdict else ""),
    ]
    if is_nack and verdict is not None and verdict.error:
        lines += ["", "Envoy's error:", "", "```", verdict.error, "```"]
    lines += [
        "",
        "## Versions seen",
        "",
        f"- Envoy: {getattr(identity, 'envoy_version', '') or 'unknown'}",
        f"- Istio: {getattr(identity, 'istio_version', '') or 'not Istio (or not said)'}",
        f"- xdsspy: {__version__}",
        "",
        "## What is inside",
        "",
        "- `recording.xdsspy`: open with `xdsspy view recording.xdsspy` or `xdsspy show recording.xdsspy`",
        "- `before.yaml`, `after.yaml`: "
        + (
            "what Envoy held when it refused the push, and what the control plane pushed"
            if is_nack
            else f"the state before and after event {seq}"
        ),
        "- `diff.md`: what changed between them",
        "",
        "## Reproduce it",
        "",
        "Replay the recording into a fresh Envoy (its bootstrap pointing at 127.0.0.1:15010):",
        "",
        "```",
        f"xdsspy replay recording.xdsspy --node '{node}' --until {seq}",
        f"xdsspy replay recording.xdsspy --node '{node}' --bisect",
        f"xdsspy diff recording.xdsspy@{seq - 1 if seq else 0} recording.xdsspy@{seq} --node '{node}'",
        "```",
        "",
        "Secrets are masked: each is `[redacted:<hash>]`, the same secret with the same hash throughout."
        if redacted
        else "WARNING: made with --no-redact: this bundle holds secrets exactly as they crossed the wire.",
    ]
    if comparison.notes:
        lines += ["", *(f"- note: {n}" for n in comparison.notes)]
    return "\n".join(lines) + "\n"
