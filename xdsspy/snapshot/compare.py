"""Two snapshots compared: resources added, removed and changed per type, and each change field by field.

Resources are matched by (type, name); a NACKED version (with
`with_rejected`) is a resource of its own beside the accepted one. Equal
bodies are found first with a plain comparison, so a 1% change of a large
snapshot costs little; bodies that differ are normalised (`normalize`) and
only then diffed by `configdiff`, which ignores version and update-time noise
and v2/v3 type URLs, and matches lists by Envoy's semantics. What one source
cannot know is left out of the comparison with a one-line note each: the
bootstrap's static resources when only one side can show them (a recording
against a config dump), endpoints when one side has none (a /config_dump
without ?include_eds), and secret values Envoy's dump hides as `[redacted]`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from xdsspy import configdiff
from xdsspy import configpatch
from xdsspy import redact
from xdsspy.decode import resources
from xdsspy.snapshot import model
from xdsspy.snapshot import normalize

K = configdiff.ChangeKind
NOISE = configdiff.SNAPSHOT_NOISE
_INLINE = ("inline_string", "inline_bytes")


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceChange:
    """One resource added, removed or changed; `fields` says how it changed (CHANGED only)."""

    type_url: str
    name: str
    kind: configdiff.ChangeKind  # ADDED, REMOVED or CHANGED
    old: model.Item | None
    new: model.Item | None
    fields: tuple[configdiff.FieldChange, ...] = ()
    rejected: bool = False  # the NACKED version of the resource
    base: Any = None  # CHANGED: the old body as `fields` were found in it (normalised), for configpatch

    @property
    def label(self) -> str:
        """`clusters[outbound|9080||reviews]`, the prefix of every field path of this resource."""
        suffix = " (NACKED)" if self.rejected else ""
        return f"{model.plural(self.type_url)}[{self.name}]{suffix}"

    def path(self, change: configdiff.FieldChange) -> str:
        """A field's full path: `clusters[outbound|9080||reviews].circuit_breakers.thresholds[0]…`."""
        if not change.path:
            return self.label
        joiner = "" if change.path.startswith("[") else "."
        return f"{model.plural(self.type_url)}[{self.name}]{joiner}{change.path}" + (
            " (NACKED)" if self.rejected else ""
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    """What changed from snapshot `a` to snapshot `b`, per resource, in type order then name order."""

    a: model.Snapshot
    b: model.Snapshot
    changes: tuple[ResourceChange, ...]
    unchanged: dict[str, int]  # type URL -> resources compared and found the same
    notes: tuple[str, ...]  # what was left out of the comparison, and why
    masked: int = 0  # secret values masked in the changes shown (0 without a redactor)

    @property
    def same(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, dict[configdiff.ChangeKind, int]]:
        """type URL -> kind -> number of resources."""
        out: dict[str, dict[configdiff.ChangeKind, int]] = {}
        for change in self.changes:
            by_kind = out.setdefault(change.type_url, {})
            by_kind[change.kind] = by_kind.get(change.kind, 0) + 1
        return out


def compare(
    a: model.Snapshot,
    b: model.Snapshot,
    *,
    types: Callable[[str], bool] | None = None,
    name: re.Pattern[str] | None = None,
    with_rejected: bool = False,
    redactor: redact.Redactor | None = None,
) -> Comparison:
    """What changed from `a` to `b`; `types` (a test on v3 type URLs) and `name` narrow what is compared.

    With a `redactor`, the resources that differ are masked (both sides with it) before their fields are
    compared, so the changes show markers, never secrets; equal resources need no masking.
    """
    with resources.paused_gc():  # two large snapshots are millions of containers the collector would rescan
        return _compare(a, b, types, name, with_rejected, _Mask(redactor))


def _compare(
    a: model.Snapshot,
    b: model.Snapshot,
    types: Callable[[str], bool] | None,
    name: re.Pattern[str] | None,
    with_rejected: bool,
    mask: _Mask,
) -> Comparison:
    notes: list[str] = []
    left = a.selected(with_rejected=with_rejected)
    right = b.selected(with_rejected=with_rejected)
    left, right = _static(a, b, left, right, notes)
    left, right = _endpoints(a, b, left, right, notes)
    if types is not None:
        left = [i for i in left if types(i.type_url)]
        right = [i for i in right if types(i.type_url)]
    if name is not None:
        left = [i for i in left if name.search(i.name)]
        right = [i for i in right if name.search(i.name)]
    olds, news = _keyed(left), _keyed(right)
    changes: list[ResourceChange] = []
    unchanged: dict[str, int] = {}
    hidden = 0
    for key in [*olds, *(k for k in news if k not in olds)]:
        type_url, item_name, rejected = key
        old, new = olds.get(key), news.get(key)
        if old is None or new is None:
            kind = K.ADDED if old is None else K.REMOVED
            changes.append(ResourceChange(type_url, item_name, kind, mask(old), mask(new), rejected=rejected))
            continue
        if old.body == new.body:
            unchanged[type_url] = unchanged.get(type_url, 0) + 1
            continue
        old, new = mask.item(old), mask.item(new)
        fields, masked, base = _fields(old, new)
        hidden += masked
        if fields:
            changes.append(
                ResourceChange(type_url, item_name, K.CHANGED, old, new, tuple(fields), rejected, base)
            )
        else:
            unchanged[type_url] = unchanged.get(type_url, 0) + 1
    if hidden:
        notes.append(f"{hidden} secret value(s) not compared: Envoy's dump shows them as {redact.REDACTED}")
    changes.sort(key=lambda c: (model.type_order(c.type_url), c.name, c.rejected))
    return Comparison(a, b, tuple(changes), unchanged, tuple(notes), mask.count)


def _keyed(items: Iterable[model.Item]) -> dict[tuple[str, str, bool], model.Item]:
    """Items by key; a name seen again (static resources may have none) gets ` #2`, ` #3`… in order."""
    out: dict[tuple[str, str, bool], model.Item] = {}
    for item in items:
        key, n = item.key, 1
        while key in out:
            n += 1
            key = (item.type_url, f"{item.name} #{n}", key[2])
        out[key] = item
    return out


class _Mask:
    """Masks items with one Redactor (or not at all), counting the values masked."""

    def __init__(self, redactor: redact.Redactor | None) -> None:
        self.redactor = redactor
        self.count = 0

    def __call__(self, item: model.Item | None) -> model.Item | None:
        return None if item is None else self.item(item)

    def item(self, item: model.Item) -> model.Item:
        if self.redactor is None:
            return item
        done = self.redactor.json(item.body)
        self.count += len(done.paths)
        error = self.redactor.text(item.error) if item.error else ""
        return dataclasses.replace(item, body=done.value, error=error)


def _fields(old: model.Item, new: model.Item) -> tuple[list[configdiff.FieldChange], int, Any]:
    """The field changes between two versions of a resource, and how many were only Envoy's redaction.

    The bodies are diffed as they are first (with Envoy's endpoint defaults removed). Only when that
    finds what a different JSON printer could explain (a key on one side only, a number against a
    string, a camelCase body) are both read back through protobuf (`normalize.canonical`) and diffed
    again: that costs a millisecond a resource, which a large snapshot must not pay for every change.
    """
    before, after = normalize.comparable(old), normalize.comparable(new)
    if before == after:
        return [], 0, before
    found = configdiff.diff(before, after, ignore=NOISE, normalize_type_url=configdiff.upgrade_type_url)
    if found and _printer_noise(found, before, after):
        before, after = normalize.canonical(before), normalize.canonical(after)
        if old.type_url == model.ENDPOINT:
            before, after = normalize.endpoint_defaults(before), normalize.endpoint_defaults(after)
        found = configdiff.diff(before, after, ignore=NOISE, normalize_type_url=configdiff.upgrade_type_url)
    hidden = _envoy_redacted(found)
    return [c for i, c in enumerate(found) if i not in hidden], len(hidden), before


def _printer_noise(found: list[configdiff.FieldChange], before: object, after: object) -> bool:
    """Whether these changes might be only two JSON printers' spellings of one message."""
    if normalize.looks_jsonpb(before) or normalize.looks_jsonpb(after):
        return True
    for change in found:
        if change.kind in (K.ADDED, K.REMOVED, K.MOVED) or change.type_changed:
            return True
        if (
            isinstance(change.old, str)
            and isinstance(change.new, str)
            and _same_number(change.old, change.new)
        ):
            return True
    return False


def _same_number(a: str, b: str) -> bool:
    """ "1s" and "1.000s", "0.5" and "0.50": one value printed two ways."""
    try:
        return float(a.removesuffix("s")) == float(b.removesuffix("s"))
    except ValueError:
        return False


def _envoy_redacted(changes: list[configdiff.FieldChange]) -> set[int]:
    """The changes that only say Envoy's dump hid a secret (`[redacted]`): nothing can be compared there.

    A value changed to or from `[redacted]`; or a DataSource whose `inline_string` Envoy shows as
    `[redacted]` where the other side has `inline_bytes` (or the reverse): both halves go.
    """
    hidden: set[int] = set()
    inline: dict[tuple[object, ...], list[int]] = {}
    for i, change in enumerate(changes):
        if change.kind == K.CHANGED:
            if redact.is_envoy_redacted(change.old) or redact.is_envoy_redacted(change.new):
                hidden.add(i)
        elif change.kind in (K.ADDED, K.REMOVED) and change.location and change.location[-1] in _INLINE:
            inline.setdefault(change.location[:-1], []).append(i)
    for indexes in inline.values():
        present = [changes[i].new if changes[i].kind == K.ADDED else changes[i].old for i in indexes]
        if any(redact.is_envoy_redacted(v) for v in present) and all(isinstance(v, str) for v in present):
            hidden.update(indexes)
    return hidden


def _static(
    a: model.Snapshot, b: model.Snapshot, left: list[model.Item], right: list[model.Item], notes: list[str]
) -> tuple[list[model.Item], list[model.Item]]:
    if a.has_static == b.has_static:
        return left, right
    side, other = ("A", b) if a.has_static else ("B", a)
    items = left if a.has_static else right
    kept = [i for i in items if i.state != model.State.STATIC]
    if len(kept) != len(items):
        notes.append(
            f"left out {len(items) - len(kept)} static (bootstrap) resource(s) of {side}: "
            f"{other.source} ({other.kind}) cannot know the bootstrap"
        )
    return (kept, right) if a.has_static else (left, kept)


def _endpoints(
    a: model.Snapshot, b: model.Snapshot, left: list[model.Item], right: list[model.Item], notes: list[str]
) -> tuple[list[model.Item], list[model.Item]]:
    if a.has_endpoints and b.has_endpoints:
        return left, right
    without = a if not a.has_endpoints else b
    notes.append(
        f"endpoints not compared: {without.source} has none (an Envoy /config_dump needs ?include_eds)"
    )
    return _without(left, model.ENDPOINT), _without(right, model.ENDPOINT)


def _without(items: Iterable[model.Item], type_url: str) -> list[model.Item]:
    return [i for i in items if i.type_url != type_url]


def patched(before: Iterable[model.Item], comparison: Comparison) -> dict[tuple[str, str, bool], object]:
    """The bodies of `before` with the comparison applied (`configpatch`): what B holds, as the diff sees it.

    Changed resources are patched in the normalised form their field changes were found in (`base`).
    """
    out: dict[tuple[str, str, bool], object] = {i.key: i.body for i in before}
    for change in comparison.changes:
        key = (change.type_url, change.name, change.rejected)
        if change.kind == K.REMOVED:
            out.pop(key, None)
        elif change.kind == K.ADDED:
            assert change.new is not None
            out[key] = change.new.body
        else:
            assert change.old is not None
            out[key] = configpatch.apply(change.base, change.fields)
    return out
