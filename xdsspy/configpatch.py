"""Applies `configdiff` changes to the old value, rebuilding the new one: a diff carries everything.

`apply(old, diff(old, new))` equals `new` as `configdiff` sees it: keys the
diff ignored keep their old values, and elements of a list whose order means
nothing may stay in their old order. Each change walks `old_location` in the
old value and `location` in the new; a list's elements that no change names
keep their relative order (the diff pairs them in order), which places them
around the ones added, removed and moved. Pure: values in, values out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from xdsspy import configdiff

K = configdiff.ChangeKind


class PatchError(ValueError):
    """The changes do not fit the value (made from another one)."""


def apply(old: Any, changes: Iterable[configdiff.FieldChange]) -> Any:
    """`new` rebuilt from `old` and the changes `configdiff.diff(old, new)` listed; `old` is not modified."""
    try:
        return _apply(old, list(changes), 0)
    except (KeyError, IndexError, TypeError) as e:
        raise PatchError(f"the changes do not fit this value: {e!r}") from e


def _apply(value: Any, changes: list[configdiff.FieldChange], depth: int) -> Any:
    if not changes:
        return value
    for change in changes:
        if len(change.location) == depth:  # the value itself changed (root, or past the diff's depth)
            return copy.deepcopy(change.new)
    if isinstance(value, dict):
        return _mapping(value, changes, depth)
    if isinstance(value, list):
        return _sequence(value, changes, depth)
    raise PatchError(f"a change below {changes[0].path!r} but the value there is {type(value).__name__}")


def _mapping(value: dict[Any, Any], changes: list[configdiff.FieldChange], depth: int) -> dict[Any, Any]:
    out = dict(value)
    groups: dict[Any, list[configdiff.FieldChange]] = {}
    for change in changes:
        groups.setdefault(change.location[depth], []).append(change)
    for key, group in groups.items():
        last = next((c for c in group if len(c.location) == depth + 1), None)
        if last is not None and last.kind == K.REMOVED:
            del out[key]
        elif last is not None and last.kind in (K.ADDED, K.CHANGED):
            out[key] = copy.deepcopy(last.new)
        else:
            out[key] = _apply(value[key], group, depth + 1)
    return out


def _sequence(value: list[Any], changes: list[configdiff.FieldChange], depth: int) -> list[Any]:
    placed: dict[int, tuple[int | None, Any, list[configdiff.FieldChange]]] = {}  # new index -> source
    consumed: set[int] = set()
    for change in changes:
        last = len(change.location) == depth + 1
        j = change.location[depth]
        i = change.old_location[depth] if len(change.old_location) > depth else None
        if last and change.kind == K.REMOVED:
            consumed.add(int(j))
            continue
        if not isinstance(j, int):
            raise PatchError(f"{change.path}: a list element without an index")
        if last and change.kind in (K.ADDED, K.CHANGED):
            placed[j] = (None, copy.deepcopy(change.new), [])
            if i is not None and change.kind == K.CHANGED:
                consumed.add(int(i))
            continue
        if i is None:
            raise PatchError(f"{change.path}: a change inside an element the old value does not have")
        consumed.add(int(i))
        entry = placed.setdefault(j, (int(i), None, []))
        if not last:  # MOVED only places the element; changes inside it follow
            entry[2].append(change)
    remaining = iter([i for i in range(len(value)) if i not in consumed])
    out = []
    for j in range(len(placed) + len(value) - len(consumed)):
        if j in placed:
            i, new, inner = placed[j]
            out.append(new if i is None else _apply(value[i], inner, depth + 1))
        else:
            out.append(value[next(remaining)])
    return out
