"""A comparison as people and scripts read it: terminal text, markdown for a GitHub issue, or JSON.

Text and markdown list, type by type, each resource added or removed and
each changed field by its full path
(`clusters[outbound|9080||reviews].circuit_breakers.thresholds[0].max_requests: 1024 → 2048`).
`context` adds a unified diff of each changed resource's YAML with that many
lines of context (markdown shows one by default, folded). Markdown folds a
type's list into a `<details>` section past `FOLD_AFTER` lines so a long diff
pastes into an issue without burying it. JSON is one object whose `changes`
list has an entry per resource added or removed and per field changed, with
the locations `configpatch.apply` follows.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

import yaml

from xdsspy import configdiff
from xdsspy.snapshot import compare
from xdsspy.snapshot import model

K = configdiff.ChangeKind
FOLD_AFTER = 20
"""Markdown: a type with more change lines than this is folded into a <details> section."""
MARKDOWN_CONTEXT = 3
VALUE_WIDTH = 80
_SIGN = {K.ADDED: "+", K.REMOVED: "-", K.CHANGED: "~"}


def describe(snapshot: model.Snapshot) -> str:
    """`run.xdsspy@17 (recording, sidecar~…, 2026-11-25T10:00:03Z, event 17)`."""
    parts = [str(snapshot.kind)]
    if snapshot.node:
        parts.append(snapshot.node)
    if snapshot.at:
        parts.append(snapshot.at)
    if snapshot.seq is not None:
        parts.append(f"event {snapshot.seq}")
    return f"{snapshot.source} ({', '.join(parts)})"


def summary(comparison: compare.Comparison) -> list[tuple[str, int, int, int, int]]:
    """(type plural, added, removed, changed, the same) for each type either side holds."""
    counts = comparison.counts()
    types = sorted(set(counts) | set(comparison.unchanged), key=model.type_order)
    return [
        (
            model.plural(t),
            counts.get(t, {}).get(K.ADDED, 0),
            counts.get(t, {}).get(K.REMOVED, 0),
            counts.get(t, {}).get(K.CHANGED, 0),
            comparison.unchanged.get(t, 0),
        )
        for t in types
    ]


def _lines(change: compare.ResourceChange) -> Iterator[str]:
    """The change lines of one resource: `+ clusters[x] (version v2)`, `~ path: old → new`."""
    if change.kind != K.CHANGED:
        item = change.new if change.kind == K.ADDED else change.old
        version = f" (version {item.version})" if item is not None and item.version else ""
        yield f"{_SIGN[change.kind]} {change.label}{version}"
        return
    for field in change.fields:
        shown = configdiff.FieldChange(
            change.path(field), field.kind, field.old, field.new, field.location, field.old_location
        )
        text = configdiff.format_change(shown, VALUE_WIDTH)
        yield text if text[:2] in ("+ ", "- ", "~ ") else f"~ {text}"


def _yaml(value: Any) -> list[str]:
    text: str = yaml.safe_dump(value, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)
    return text.splitlines()


def unified(change: compare.ResourceChange, context: int) -> list[str]:
    """The resource's YAML before and after as a unified diff with `context` lines around each hunk."""
    old = _yaml(change.old.body) if change.old is not None else []
    new = _yaml(change.new.body) if change.new is not None else []
    return list(
        difflib.unified_diff(old, new, "A/" + change.label, "B/" + change.label, n=context, lineterm="")
    )


def text(comparison: compare.Comparison, *, context: int | None = None) -> str:
    out = [f"A: {describe(comparison.a)}", f"B: {describe(comparison.b)}"]
    out += [f"note: {note}" for note in comparison.notes]
    if comparison.same:
        out.append("no differences" + _compared(comparison))
        return "\n".join(out) + "\n"
    for plural, added, removed, changed, same in summary(comparison):
        if added or removed or changed:
            out.append(f"{plural}: {changed} changed, {added} added, {removed} removed, {same} the same")
            for change in comparison.changes:
                if model.plural(change.type_url) == plural:
                    out += [f"  {line}" for line in _lines(change)]
                    if context is not None and change.kind == K.CHANGED:
                        out += [f"    {line}" for line in unified(change, context)]
    return "\n".join(out) + "\n"


def _compared(comparison: compare.Comparison) -> str:
    same = sum(comparison.unchanged.values())
    return f" ({same} resource(s) compared)" if same else " (no resources on either side)"


def _code(value: str) -> str:
    """`value` as a markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in value:
        fence += "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def markdown(comparison: compare.Comparison, *, context: int | None = None) -> str:
    context = MARKDOWN_CONTEXT if context is None else context
    out = [
        "### xdsspy diff",
        "",
        f"- **A:** {_code(describe(comparison.a))}",
        f"- **B:** {_code(describe(comparison.b))}",
    ]
    out += [f"- _note:_ {note}" for note in comparison.notes]
    out.append("")
    if comparison.same:
        out.append("**No differences**" + _compared(comparison) + ".")
        return "\n".join(out) + "\n"
    out += ["| type | changed | added | removed | the same |", "|---|---:|---:|---:|---:|"]
    rows = summary(comparison)
    out += [f"| {p} | {c} | {a} | {r} | {s} |" for p, a, r, c, s in rows]
    for plural, added, removed, changed, _ in rows:
        if not (added or removed or changed):
            continue
        body: list[str] = []
        for change in comparison.changes:
            if model.plural(change.type_url) != plural:
                continue
            body += [f"- {_code(line)}" for line in _lines(change)]
            if change.kind == K.CHANGED and context >= 0:
                hunk = unified(change, context)
                body += [
                    "",
                    f"  <details><summary>{_html(change.label)}: YAML diff</summary>",
                    "",
                    "  ```diff",
                    *(f"  {line}" for line in hunk),
                    "  ```",
                    "  </details>",
                    "",
                ]
        out += ["", f"#### {plural}", ""]
        if len(body) > FOLD_AFTER:
            out += [f"<details><summary>{len(body)} lines</summary>", "", *body, "", "</details>"]
        else:
            out += body
    return "\n".join(out) + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _side(snapshot: model.Snapshot) -> dict[str, Any]:
    out: dict[str, Any] = {"source": snapshot.source, "kind": str(snapshot.kind)}
    for key in ("node", "at", "envoy_version", "istio_version"):
        if getattr(snapshot, key):
            out[key] = getattr(snapshot, key)
    if snapshot.seq is not None:
        out["seq"] = snapshot.seq
    return out


def _field(change: compare.ResourceChange, field: configdiff.FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": change.path(field),
        "kind": str(field.kind),
        "type": change.type_url,
        "name": change.name,
        "rejected": change.rejected,
        "field": field.path,
        "location": list(field.location),
        "old_location": list(field.old_location),
    }
    if field.old is not configdiff.MISSING:
        out["old"] = field.old
    if field.new is not configdiff.MISSING:
        out["new"] = field.new
    return out


def changes_json(comparison: compare.Comparison) -> list[dict[str, Any]]:
    """One entry per resource added or removed and per field changed."""
    out: list[dict[str, Any]] = []
    for change in comparison.changes:
        if change.kind == K.CHANGED:
            out += [_field(change, f) for f in change.fields]
            continue
        entry: dict[str, Any] = {
            "path": change.label,
            "kind": str(change.kind),
            "type": change.type_url,
            "name": change.name,
            "rejected": change.rejected,
        }
        item = change.new if change.kind == K.ADDED else change.old
        if item is not None:
            entry["new" if change.kind == K.ADDED else "old"] = item.body
            if item.version:
                entry["version"] = item.version
        out.append(entry)
    return out


def as_json(comparison: compare.Comparison) -> str:
    document = {
        "a": _side(comparison.a),
        "b": _side(comparison.b),
        "same": comparison.same,
        "notes": list(comparison.notes),
        "summary": {
            p: {"changed": c, "added": a, "removed": r, "same": s} for p, a, r, c, s in summary(comparison)
        },
        "changes": changes_json(comparison),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
