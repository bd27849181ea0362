"""Writes a changed JSON or YAML document back by replacing only the text of the values that changed.

`load(text)` reads strict JSON as JSON and anything else as YAML (which also
takes the JSON-with-unquoted-bits some generators write). `splice(text, old,
new)` walks YAML's node tree of `text` (compose() keeps each node's place)
beside the old and new values, and rewrites only the smallest nodes whose
value changed: a scalar, or a mapping whose keys changed. Everything else, to
comments, key order, blank lines and odd spacing, stays byte for byte. The
spliced text is parsed again and must equal `new`; when it does not (YAML
aliases, merge keys, a layout the renderer cannot match) the whole document is
written out again instead, in the same syntax and indentation.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from typing import Any

import yaml

_WIDE = 1 << 30  # never fold long lines


_Edit = tuple[int, int, str]  # replace text[start:end] (empty for an insertion) with this


class Syntax(enum.StrEnum):
    JSON = "json"
    YAML = "yaml"


class NotADocument(ValueError):
    """The text is neither JSON nor YAML; the message says where the parser stopped."""


class _Overlap(Exception):
    """Two edits touch the same text (an alias makes two values one node)."""


class _Unsplicable(Exception):
    """A mapping's keys changed in a way its text cannot follow: the whole mapping is written again."""


@dataclasses.dataclass(frozen=True, slots=True)
class Spliced:
    text: str
    layout_kept: bool  # False: the document was written out again in full (same content, new layout)


def load(text: str) -> tuple[Any, Syntax]:
    """The document in `text`, and whether it is strict JSON (JSON's types) or YAML."""
    try:
        return json.loads(text), Syntax.JSON
    except ValueError:
        pass
    try:
        return yaml.safe_load(text), Syntax.YAML
    except yaml.YAMLError as e:
        raise NotADocument(_yaml_problem(e)) from e


def _yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's report on one line: the problem and where, then what it was reading and from where."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if mark is None:
        return str(problem)
    message = f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    context, context_mark = getattr(e, "context", None), getattr(e, "context_mark", None)
    if context and context_mark is not None:
        message += f", {context} from line {context_mark.line + 1}, column {context_mark.column + 1}"
    return message


def parse(text: str, syntax: Syntax) -> Any:
    return json.loads(text) if syntax is Syntax.JSON else yaml.safe_load(text)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are three different values here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def dump(value: Any, syntax: Syntax, *, indent: int = 2) -> str:
    """The whole document, in key order: indented JSON, or block YAML."""
    if syntax is Syntax.JSON:
        return json.dumps(value, indent=indent, ensure_ascii=False) + "\n"
    text: str = yaml.safe_dump(
        value, sort_keys=False, default_flow_style=False, allow_unicode=True, indent=indent, width=_WIDE
    )
    return text


def splice(text: str, old: Any, new: Any, syntax: Syntax) -> Spliced:
    """`text` (which holds `old`) changed to hold `new`, touching as little of it as it can."""
    if same(old, new):
        return Spliced(text, True)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        edits: list[_Edit] = []
        _collect(text, root, old, new, syntax, edits)
        spliced = _apply(text, edits)
        if same(parse(spliced, syntax), new):
            return Spliced(spliced, True)
    except (yaml.YAMLError, ValueError, _Overlap):
        pass
    return Spliced(dump(new, syntax, indent=indent_of(text)), False)


def indent_of(text: str) -> int:
    """The file's indentation step: its smallest indentation (2 when nothing is indented)."""
    widths = [len(m.group(1)) for m in re.finditer(r"^( +)\S", text, flags=re.MULTILINE)]
    return min(widths, default=2)


def _collect(text: str, node: yaml.Node, old: Any, new: Any, syntax: Syntax, edits: list[_Edit]) -> None:
    if same(old, new):
        return
    if isinstance(node, yaml.MappingNode) and isinstance(old, dict) and isinstance(new, dict):
        keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _ in node.value]
        survivors = [k for k in old if k in new]
        if keys == list(old) and list(new) == survivors + [k for k in new if k not in old]:
            local: list[_Edit] = []
            try:
                _edit_mapping(text, node, old, new, syntax, local)
            except _Unsplicable:
                pass
            else:
                edits.extend(local)
                return
    if isinstance(node, yaml.SequenceNode) and isinstance(old, list) and isinstance(new, list):
        if len(node.value) == len(old) == len(new):
            for item_node, before, after in zip(node.value, old, new, strict=True):
                _collect(text, item_node, before, after, syntax, edits)
            return
    start, end = node.start_mark.index, _end(text, node)
    edits.append((start, end, _render(text, node, start, end, new, syntax)))


def _edit_mapping(
    text: str, node: yaml.Node, old: dict[str, Any], new: dict[str, Any], syntax: Syntax, edits: list[_Edit]
) -> None:
    """Keys kept (values edited in place), keys removed (their text cut), keys added (after the last)."""
    pairs = node.value
    removed = [i for i, (key, _) in enumerate(pairs) if key.value not in new]
    added = [k for k in new if k not in old]
    if len(removed) == len(pairs) or (added and removed and removed[-1] == len(pairs) - 1):
        raise _Unsplicable
    for key_node, value_node in pairs:
        if key_node.value in new:
            _collect(text, value_node, old[key_node.value], new[key_node.value], syntax, edits)
    block = _is_block(node)
    for i in removed:
        key_start = pairs[i][0].start_mark.index
        value_end = _end(text, pairs[i][1])
        if block:
            line = _line_start(text, key_start)
            if text[line:key_start].strip():
                raise _Unsplicable  # `- key: value`: the pair shares its line with the sequence's dash
            after = text.find("\n", value_end)
            edits.append((line, len(text) if after < 0 else after + 1, ""))
        elif i > 0:
            edits.append((_end(text, pairs[i - 1][1]), value_end, ""))
        elif i + 1 in removed:
            raise _Unsplicable
        else:
            edits.append((key_start, pairs[1][0].start_mark.index, ""))
    if added:
        edits.append(_append(text, node, [(k, new[k]) for k in added], syntax))


def _append(text: str, node: yaml.Node, items: list[tuple[str, Any]], syntax: Syntax) -> _Edit:
    last_key, last_value = node.value[-1]
    at = _end(text, last_value)
    key_start = last_key.start_mark.index
    lead = text[_line_start(text, key_start) : key_start]
    if _is_block(node):
        block = dump(dict(items), Syntax.YAML, indent=indent_of(text)).rstrip("\n")
        return (at, at, "\n" + lead + block.replace("\n", "\n" + lead))
    as_json = syntax is Syntax.JSON or _looks_like_json(node)
    own_lines = not lead.strip() and "\n" in text[node.start_mark.index : node.end_mark.index]
    pieces = []
    for key, value in items:
        if as_json:
            rendered = json.dumps(key, ensure_ascii=False) + ": " + _json(value, text, lead, own_lines)
        else:
            rendered = _flow_yaml({key: value})[1:-1]
        pieces.append(("\n" + lead if own_lines else " ") + rendered)
    return (at, at, "," + ",".join(pieces))


def _json(value: Any, text: str, lead: str, multiline: bool) -> str:
    if multiline and isinstance(value, dict | list) and value:
        return json.dumps(value, indent=indent_of(text), ensure_ascii=False).replace("\n", "\n" + lead)
    return json.dumps(value, ensure_ascii=False)


def _flow_yaml(value: Any) -> str:
    """value as YAML on one line, in a form that is also valid inside a flow collection: dumped as the
    item of a list, because a scalar dumped alone may be plain where flow context forbids it (`:a`)."""
    flow: str = yaml.safe_dump(
        [value], default_flow_style=True, sort_keys=False, allow_unicode=True, width=_WIDE
    )
    return flow.rstrip("\n")[1:-1]


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.CollectionNode) and not node.flow_style


def _end(text: str, node: yaml.Node) -> int:
    """Where a node's own text ends: a block collection's end mark is the next token, past comments."""
    block = _is_block(node)
    while _is_block(node) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end: int = node.end_mark.index
    if block or getattr(node, "style", None) in ("|", ">"):
        start = node.start_mark.index
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1
    return end


def _render(text: str, node: yaml.Node, start: int, end: int, value: Any, syntax: Syntax) -> str:
    lead = re.match(r"[ \t]*", text[_line_start(text, start) : start])
    if _is_block(node):
        if isinstance(value, dict | list) and value:
            # A list may sit at its key's column (`key:\n- x`); a mapping there must move right.
            shift = indent_of(text) if isinstance(node, yaml.SequenceNode) and isinstance(value, dict) else 0
            block = dump(value, Syntax.YAML, indent=indent_of(text)).rstrip("\n")
            return " " * shift + block.replace("\n", "\n" + " " * (node.start_mark.column + shift))
        # A scalar where a block list was may sit at its key's column (`key:\n- x`): indent it past the key.
        inline = json.dumps(value) if _looks_like_json(node) else _flow_yaml(value)
        return " " * indent_of(text) + inline
    if syntax is Syntax.JSON or _looks_like_json(node):
        return _json(value, text, "" if lead is None else lead.group(0), "\n" in text[start:end])
    return _flow_yaml(value)


def _looks_like_json(node: yaml.Node) -> bool:
    """A double-quoted scalar, or a flow collection written JSON's way (its first key or item quoted)."""
    if isinstance(node, yaml.ScalarNode):
        return bool(node.style == '"')
    if not node.value:
        return True
    first = node.value[0][0] if isinstance(node, yaml.MappingNode) else node.value[0]
    return _looks_like_json(first)


def _apply(text: str, edits: list[_Edit]) -> str:
    pieces = []
    at = 0
    for start, end, replacement in sorted(edits):
        if start < at:
            raise _Overlap
        pieces += [text[at:start], replacement]
        at = end
    pieces.append(text[at:])
    return "".join(pieces)
