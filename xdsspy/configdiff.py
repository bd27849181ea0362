"""Field-level differences between two Envoy resources, or snapshots, in the JSON form /config_dump prints.

`diff(old, new)` lists what changed as `FieldChange`s with readable paths
(`circuit_breakers.thresholds[0].max_requests`, `virtual_hosts[reviews:9080]
.routes[0].route.cluster`), in the order of the new value, removals where
they were. `diff_named` compares two versions of a set of resources of one
type keyed by name. The live UI shows pushes with them and `xdsspy diff A B`
compares whole snapshots (passing `ignore=SNAPSHOT_NOISE`); both share this
module, which is pure: values in, values out.

Lists follow Envoy's semantics (`listkeys.LIST_RULES`): where order carries
no meaning elements are matched by a key (virtual hosts by name, endpoints by
address), so a reorder is no change; elsewhere order is behaviour (routes:
first match wins) and elements are aligned by position, so a reorder shows as
MOVED and an insertion as one ADDED. A list whose keys are missing or repeated
falls back to positions. Values compare as Python compares them: 8000 equals 8000.0 (one
JSON number) but 1 never equals "1". Past `MAX_DEPTH` nesting, values are
compared whole, so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import json
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from collections.abc import Set
from typing import Any
from typing import NamedTuple

from xdsspy import listkeys
from xdsspy.decode import schemas
from xdsspy.decode import tree
from xdsspy.decode import versions
from xdsspy.viewmodel import words

MAX_DEPTH = 100
"""Nesting past which a subtree is compared whole (one CHANGED), never recursed into."""

SNAPSHOT_NOISE = frozenset({"version_info", "last_updated", "version"})
"""Keys `xdsspy diff A B` passes as `ignore`: any two snapshots differ in them, and they say nothing
about behaviour. Names are skipped at every depth, so a config field named exactly `version` is hidden too."""

_TYPE_URL_KEYS = frozenset({"@type", "type_url"})  # an Any's type, and a TypedStruct's


class ChangeKind(enum.StrEnum):
    """What happened at a path."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    MOVED = "moved"  # same element, other position, in a list where order is behaviour


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing.MISSING
"""The absent side of a change: `old` of ADDED, `new` of REMOVED (None is JSON null, a value)."""


@dataclasses.dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference: `path` for people, `location` for code (`tree.follow(new, location)`).

    `location` leads into `old` for REMOVED. MOVED carries the element's index before and after in `old`
    and `new`. `old_location` is the same walk in `old`'s positions (None where the element is only in
    `new`); with both, `patch.apply` can rebuild `new` from `old`.
    """

    path: str
    kind: ChangeKind
    old: Any
    new: Any
    location: tuple[tree.Token, ...] = ()
    old_location: tuple[tree.Token | None, ...] = ()

    @property
    def type_changed(self) -> bool:
        """Both sides present and of different JSON types (1 vs "1"; ints and floats are both numbers)."""
        if self.kind != ChangeKind.CHANGED:
            return False
        return _json_type(self.old) != _json_type(self.new)


@dataclasses.dataclass(frozen=True, slots=True)
class NamedDiff:
    """Two versions of a set of resources of one type: names added and removed, field changes by name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: dict[str, list[FieldChange]] = dataclasses.field(default_factory=dict)
    unchanged: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


# -- the diff ------------------------------------------------------------------------------------

_SCOPED_FIELDS = frozenset(k[0] for k in listkeys.LIST_RULES if isinstance(k, tuple))

TypeUrlNormalizer = Callable[[str], str]


@functools.cache
def _version_map() -> versions.VersionMap:
    return versions.VersionMap(schemas.default())


def upgrade_type_url(type_url: str) -> str:
    """The v3 type URL for a v2 one, others unchanged: pass as `normalize_type_url` to treat v2 and v3 as one.

    Uses Envoy's versioning annotations (decode.versions); the first call loads Envoy's API (~0.5 s).
    """
    prefix, slash, name = type_url.rpartition("/")
    upgrade = _version_map().upgrade(name)
    return f"{prefix}{slash}{upgrade.v3_name}" if upgrade is not None else type_url


def diff(
    old: Any,
    new: Any,
    *,
    ignore: Set[str] = frozenset(),
    normalize_type_url: TypeUrlNormalizer | None = None,
) -> list[FieldChange]:
    """What changed from `old` to `new`, in the order of `new` (removals where they were).

    `ignore`: key names skipped at every depth (the snapshot diff passes `SNAPSHOT_NOISE`).
    `normalize_type_url`: "@type" and TypedStruct "type_url" values are equal when it maps them to the same
    text; `upgrade_type_url` makes a v2 resource equal to the same one under its v3 type.
    """
    return _Differ(frozenset(ignore), normalize_type_url).run(old, new)


def diff_named(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    ignore: Set[str] = frozenset(),
    normalize_type_url: TypeUrlNormalizer | None = None,
) -> NamedDiff:
    """Compare two versions of a set of resources of one type, keyed by name (options as in `diff`)."""
    differ = _Differ(frozenset(ignore), normalize_type_url)
    changed: dict[str, list[FieldChange]] = {}
    unchanged = 0
    for name, body in new.items():
        if name in old:
            changes = differ.run(old[name], body)
            if changes:
                changed[name] = changes
            else:
                unchanged += 1
    return NamedDiff(
        added=tuple(name for name in new if name not in old),
        removed=tuple(name for name in old if name not in new),
        changed=changed,
        unchanged=unchanged,
    )


class _At(NamedTuple):
    """Where the walk is: the path shown, the tokens to follow, the depth, and the enclosing Any's "@type"."""

    path: str = ""
    location: tuple[tree.Token, ...] = ()
    depth: int = 0
    scope: str = ""
    old_location: tuple[tree.Token | None, ...] = ()

    def key(self, key: Any) -> _At:
        return _At(
            _key_path(self.path, key),
            (*self.location, key),
            self.depth + 1,
            self.scope,
            (*self.old_location, key),
        )

    def item(self, index: int, label: str = "", old_index: int | None = -1) -> _At:
        """Element `index` of a list (of `new`, of `old` for a removal); `old_index`: its place in `old`
        (-1: the same as `index`, None: not in `old`)."""
        path = f"{self.path}[{label or index}]"
        before = index if old_index == -1 else old_index
        return _At(path, (*self.location, index), self.depth + 1, self.scope, (*self.old_location, before))


class _Differ:
    """One comparison's options, and the changes found so far."""

    def __init__(self, ignore: frozenset[str], normalize: TypeUrlNormalizer | None) -> None:
        self.ignore = ignore
        self.normalize = normalize
        self.changes: list[FieldChange] = []

    def run(self, old: Any, new: Any) -> list[FieldChange]:
        self.changes = []
        self.value(old, new, _At(), listkeys.ROOT)
        return self.changes

    def emit(self, kind: ChangeKind, at: _At, old: Any, new: Any) -> None:
        self.changes.append(FieldChange(at.path, kind, old, new, at.location, at.old_location))

    def value(self, old: Any, new: Any, at: _At, field: str | None) -> None:
        """`field`: the key the values sit under, which picks a list's rule (None inside a list)."""
        equal = True if old is new else _equal(old, new)
        if equal:
            return
        if at.depth >= MAX_DEPTH:
            if equal is None and _equal_iteratively(old, new):
                return
            self.emit(ChangeKind.CHANGED, at, old, new)
        elif isinstance(old, dict) and isinstance(new, dict):
            self.mapping(old, new, at)
        elif isinstance(old, list) and isinstance(new, list):
            self.sequence(old, new, at, field)
        else:
            self.emit(ChangeKind.CHANGED, at, old, new)

    def mapping(self, old: dict[Any, Any], new: dict[Any, Any], at: _At) -> None:
        own_type = new.get("@type")
        if isinstance(own_type, str):
            at = at._replace(scope=own_type)
        old_keys = [k for k in old if k not in self.ignore]
        new_keys = [k for k in new if k not in self.ignore]
        for key, i, j in _merged(old_keys, new_keys):
            if j is None:
                self.emit(ChangeKind.REMOVED, at.key(key), old[key], MISSING)
            elif i is None:
                self.emit(ChangeKind.ADDED, at.key(key), MISSING, new[key])
            elif not (key in _TYPE_URL_KEYS and self.same_type_url(old[key], new[key])):
                self.value(old[key], new[key], at.key(key), str(key))

    def same_type_url(self, old: Any, new: Any) -> bool:
        if self.normalize is None or not (isinstance(old, str) and isinstance(new, str)):
            return False
        return self.normalize(old) == self.normalize(new)

    def rule(self, field: str | None, scope: str) -> listkeys.ListRule | None:
        if field in _SCOPED_FIELDS and scope:
            for type_url in (scope, self.normalize(scope)) if self.normalize else (scope,):
                scoped = (field, type_url.rpartition("/")[2])
                if scoped in listkeys.LIST_RULES:
                    return listkeys.LIST_RULES[scoped]
        return None if field is None else listkeys.LIST_RULES.get(field)

    def sequence(self, old: list[Any], new: list[Any], at: _At, field: str | None) -> None:
        rule = self.rule(field, at.scope)
        if rule is not None:
            old_keys, new_keys = _keys(rule.key, old), _keys(rule.key, new)
            if old_keys is not None and new_keys is not None:
                self.keyed(old, new, old_keys, new_keys, rule.ordered, at)
                return
        self.positional(old, new, at)

    def keyed(
        self, old: list[Any], new: list[Any], old_keys: list[str], new_keys: list[str], ordered: bool, at: _At
    ) -> None:
        moved = _out_of_order(old_keys, new_keys) if ordered else set()
        for key, i, j in _merged(old_keys, new_keys):
            if j is None:
                assert i is not None  # _merged never yields a key missing from both lists
                self.emit(ChangeKind.REMOVED, at.item(i, _label(key)), old[i], MISSING)
            elif i is None:
                self.emit(ChangeKind.ADDED, at.item(j, _label(key), None), MISSING, new[j])
            else:
                if key in moved:
                    self.emit(ChangeKind.MOVED, at.item(j, _label(key), i), i, j)
                self.value(old[i], new[j], at.item(j, _label(key), i), None)

    def positional(self, old: list[Any], new: list[Any], at: _At) -> None:
        old_prints = [self.fingerprint(v, at.depth + 1) for v in old]
        new_prints = [self.fingerprint(v, at.depth + 1) for v in new]
        opcodes = difflib.SequenceMatcher(None, old_prints, new_prints, autojunk=False).get_opcodes()
        moves = _moves(opcodes, old_prints, new_prints)  # new index -> old index
        moved_from = set(moves.values())
        for tag, i1, i2, j1, j2 in opcodes:
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(paired):
                self.value(old[i1 + k], new[j1 + k], at.item(j1 + k, "", i1 + k), None)
            for i in range(i1 + paired, i2) if tag != "equal" else ():
                if i not in moved_from:
                    self.emit(ChangeKind.REMOVED, at.item(i), old[i], MISSING)
            for j in range(j1 + paired, j2) if tag != "equal" else ():
                if j in moves:
                    self.emit(ChangeKind.MOVED, at.item(j, "", moves[j]), moves[j], j)
                else:
                    self.emit(ChangeKind.ADDED, at.item(j, "", None), MISSING, new[j])

    def fingerprint(self, value: Any, depth: int) -> str:
        """Equal text for values this diff finds equal (up to keyed lists' order); aligns ordered lists."""
        canonical = self.canonical(value, depth) if self.ignore or self.normalize else value
        try:
            return json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=repr)
        except (RecursionError, ValueError, TypeError):
            return f"\0{id(value)}"  # too deep or odd to print: equal only to itself

    def canonical(self, value: Any, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {
                k: self.normalize(v)
                if self.normalize and k in _TYPE_URL_KEYS and isinstance(v, str)
                else self.canonical(v, depth + 1)
                for k, v in value.items()
                if k not in self.ignore
            }
        if isinstance(value, list):
            return [self.canonical(v, depth + 1) for v in value]
        return value


def _equal(a: Any, b: Any) -> bool | None:
    """a == b, or None when the values are too deep for Python to compare (the walk goes on below)."""
    try:
        return bool(a == b)
    except RecursionError:
        return None


def _equal_iteratively(a: Any, b: Any) -> bool:
    """a == b for JSON-like values of any depth."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif isinstance(x, (dict, list)) or isinstance(y, (dict, list)) or x != y:
            return False
    return True


def _merged(old_keys: Sequence[Any], new_keys: Sequence[Any]) -> Iterator[tuple[Any, int | None, int | None]]:
    """(key, old index, new index) in `new_keys` order; a key only in old follows its old predecessor."""
    new_position = {k: j for j, k in enumerate(new_keys)}

    def gone_after(i: int) -> Iterator[tuple[Any, int | None, int | None]]:
        for k in range(i + 1, len(old_keys)):
            if old_keys[k] in new_position:
                return
            yield old_keys[k], k, None

    old_position = {k: i for i, k in enumerate(old_keys)}
    yield from gone_after(-1)
    for j, key in enumerate(new_keys):
        i = old_position.get(key)
        yield key, i, j
        if i is not None:
            yield from gone_after(i)


def _keys(key_of: listkeys.KeyOf, elements: list[Any]) -> list[str] | None:
    """Each element's key, or None when one has none or two share one (the list then goes by position)."""
    keys = []
    for element in elements:
        key = key_of(element)
        if key is None:
            return None
        keys.append(key)
    return keys if len(set(keys)) == len(keys) else None


def _out_of_order(old_keys: list[str], new_keys: list[str]) -> set[str]:
    """Keys in both lists that left the longest run of keys still in the same relative order."""
    old_set, new_set = set(old_keys), set(new_keys)
    common_old = [k for k in old_keys if k in new_set]
    common_new = [k for k in new_keys if k in old_set]
    if common_old == common_new:
        return set()
    kept: set[str] = set()
    for block in difflib.SequenceMatcher(None, common_old, common_new, autojunk=False).get_matching_blocks():
        kept.update(common_new[block.b : block.b + block.size])
    return set(common_new) - kept


def _moves(
    opcodes: Sequence[tuple[str, int, int, int, int]], old_prints: list[str], new_prints: list[str]
) -> dict[int, int]:
    """Unpaired insertions equal to an unpaired deletion: new index -> old index."""
    gone: dict[str, list[int]] = {}
    came: list[int] = []
    for tag, i1, i2, j1, j2 in opcodes:
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        if tag != "equal":
            for i in range(i1 + paired, i2):
                gone.setdefault(old_prints[i], []).append(i)
            came.extend(range(j1 + paired, j2))
    moves: dict[int, int] = {}
    for j in came:
        candidates = gone.get(new_prints[j])
        if candidates:
            moves[j] = candidates.pop(0)
    return moves


def _key_path(path: str, key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    if text.isidentifier():
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text, ensure_ascii=False)}]"


def _label(key: str) -> str:
    """A list element's key between brackets: bare unless it could pass for an index or hide a bracket."""
    if key.isdigit() or not key.isprintable() or any(c in key for c in '[]"'):
        return json.dumps(key, ensure_ascii=False)
    return key


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# -- rendering -----------------------------------------------------------------------------------

_RENDER_DEPTH = 20  # deeper containers print as "…"


def format_value(value: Any, width: int = 60) -> str:
    """One line of JSON-ish text of at most `width` characters; strings quoted, so 1 and "1" differ."""
    if value is MISSING:
        return "(missing)"
    if isinstance(value, str):
        return words.shorten(_quote(value), width)
    text = ""
    for piece in _pieces(value, 0, max(12, width // 2)):
        text += piece
        if len(text) > width:
            return text[: max(width - 1, 0)].removesuffix("…") + "…"
    return text


def format_change(change: FieldChange, width: int = 60) -> str:
    """`path: old → new`, `+ path: new`, `- path: old` or `~ path: position 0 → 2`; values `width` at most."""
    where = change.path or "(root)"
    if change.kind == ChangeKind.ADDED:
        return f"+ {where}: {format_value(change.new, width)}"
    if change.kind == ChangeKind.REMOVED:
        return f"- {where}: {format_value(change.old, width)}"
    if change.kind == ChangeKind.MOVED:
        return f"~ {where}: position {change.old} → {change.new}"
    return f"{where}: {format_value(change.old, width)} → {format_value(change.new, width)}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _pieces(value: Any, depth: int, string_width: int) -> Iterator[str]:
    """The text of `value` in small pieces, so a caller stops reading a large value at its width."""
    if isinstance(value, (dict, list)) and depth >= _RENDER_DEPTH:
        yield "…"
    elif isinstance(value, dict):
        yield "{"
        for n, (key, item) in enumerate(value.items()):
            yield f"{', ' if n else ''}{_quote(str(key))}: "
            yield from _pieces(item, depth + 1, string_width)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for n, item in enumerate(value):
            yield ", " if n else ""
            yield from _pieces(item, depth + 1, string_width)
        yield "]"
    elif isinstance(value, str):
        yield words.shorten(_quote(value), string_width)
    elif value is None or isinstance(value, (bool, int, float)):
        yield json.dumps(value)
    else:
        yield repr(value)
