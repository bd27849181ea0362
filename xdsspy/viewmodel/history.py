"""Every version of one resource an Envoy held or rejected over a recording, and what changed between two.

`history` reads the timeline's recorded state changes (`Timeline.changes_of`)
for one (node, type, name): each version Envoy accepted (ACKED), rejected
(NACKED) or dropped (REMOVED), at the step where it did so. v2 and v3 type
URLs of one resource type count as one (`refs.canonical_type`). A resource
resent unchanged is no new version, as in Envoy's /config_dump.
`diff_versions` decodes two versions from the recording and compares them
field by field (`configdiff.diff`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools

from xdsspy import configdiff
from xdsspy import errors
from xdsspy.decode import methods
from xdsspy.state import tracker
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import refs


class VersionStatus(enum.StrEnum):
    ACKED = "acked"
    NACKED = "nacked"
    REMOVED = "removed"


@dataclasses.dataclass(frozen=True, slots=True)
class Version:
    """One version of a resource: what Envoy did with it at timeline step `position`.

    For REMOVED, `seq` is the response that dropped it (or the step's own seq when unknown), `version`
    that response's version and `digest` empty.
    """

    position: int  # the step (an ACK, NACK or REST poll) where Envoy accepted, rejected or dropped it
    seq: int  # the response that carried (or dropped) it
    wall_ns: int  # of the step at `position`
    version: str
    status: VersionStatus
    digest: str
    type_url: str = ""  # as the control plane sent it (v2 or v3)
    name: str = ""
    index: int = 0  # its position in the response `seq`
    error: str = ""  # NACKED: Envoy's error_detail


class UnreadableVersion(errors.XdsspyError):
    """A version's body cannot be read back from the recording (the message says why)."""


@functools.cache
def _variants(type_url: str) -> frozenset[str]:
    """Every type URL (v2 and v3) that names the same resource type as type_url."""
    canonical = refs.canonical_type(type_url)
    found = {type_url, canonical}
    for info in methods.known_methods():
        if info.implied_type_url and refs.canonical_type(info.implied_type_url) == canonical:
            found.add(info.implied_type_url)
    return frozenset(found)


def history(ix: index_mod.RecordingIndex, node: str, type_url: str, name: str) -> list[Version]:
    """Every version of one resource `node` held or rejected, in timeline order."""
    timeline = ix.timeline
    changes = sorted(
        (found for variant in _variants(type_url) for found in timeline.changes_of(node, variant, name)),
        key=lambda found: found[0],
    )
    out: list[Version] = []
    for position, change in changes:
        step = timeline.steps[position]
        value = change.value
        if value is not None:
            status = VersionStatus.ACKED if change.table == tracker.Table.ACCEPTED else VersionStatus.NACKED
            out.append(
                Version(
                    position,
                    value.seq,
                    step.wall_ns,
                    value.version,
                    status,
                    value.digest,
                    change.type_url,
                    name,
                    value.index,
                    value.error,
                )
            )
        elif change.table == tracker.Table.ACCEPTED:  # a rejected version withdrawn is no version of its own
            out.append(_removed(ix, position, change))
    return out


def _removed(ix: index_mod.RecordingIndex, position: int, change: tracker.Change) -> Version:
    step = ix.timeline.steps[position]
    seq, version = step.seq, ""
    answered = step.verdict.answers_seq if step.verdict is not None else None
    if answered is not None:
        seq = answered
        response = ix.timeline.steps[ix.timeline.index_of(answered)]
        if response.seq == answered and response.envelope is not None:
            version = response.envelope.version
    return Version(
        position, seq, step.wall_ns, version, VersionStatus.REMOVED, "", change.type_url, change.name
    )


def diff_versions(ix: index_mod.RecordingIndex, a: Version, b: Version) -> list[configdiff.FieldChange]:
    """What changed from version a to version b, field by field; a REMOVED side is the whole resource.

    Raises UnreadableVersion when a body cannot be read back from the recording.
    """
    wanted = [(v.seq, v.index, v.digest) for v in (a, b) if v.status != VersionStatus.REMOVED]
    read = envoy_config.bodies(ix, wanted)
    old, new = _body(a, read), _body(b, read)
    if old is configdiff.MISSING and new is configdiff.MISSING:
        return []
    if old is configdiff.MISSING:
        return [configdiff.FieldChange("", configdiff.ChangeKind.ADDED, old, new)]
    if new is configdiff.MISSING:
        return [configdiff.FieldChange("", configdiff.ChangeKind.REMOVED, old, new)]
    normalize = configdiff.upgrade_type_url if a.type_url != b.type_url else None
    return configdiff.diff(old, new, normalize_type_url=normalize)


def _body(version: Version, read: dict[envoy_config.Key, envoy_config.Body]) -> object:
    if version.status == VersionStatus.REMOVED:
        return configdiff.MISSING
    body = read[(version.seq, version.index)]
    if body.decoded is None:
        raise UnreadableVersion(f"{version.name} version {version.version!r}: {body.problem}")
    return body.decoded.body
