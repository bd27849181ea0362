"""Writing a changed document back: only the changed values' text moves, in JSON, block YAML and flow YAML."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import docsplice

J = docsplice.Syntax.JSON
Y = docsplice.Syntax.YAML


def _splice(text: str, change: Any) -> docsplice.Spliced:
    old, syntax = docsplice.load(text)
    new = change(json.loads(json.dumps(old)))
    spliced = docsplice.splice(text, old, new, syntax)
    assert docsplice.same(docsplice.parse(spliced.text, syntax), new)
    return spliced


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(document: Any) -> Any:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return document

    return change


def _delete(path: tuple[Any, ...]) -> Any:
    def change(document: Any) -> Any:
        target = document
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]
        return document

    return change


def test_load_tells_json_from_yaml() -> None:
    assert docsplice.load('{"a": 1e5}') == ({"a": 100000.0}, J)  # JSON's types, not YAML 1.1's
    assert docsplice.load("a: on\n") == ({"a": True}, Y)
    assert docsplice.load('{"a": /dev/stdout}') == ({"a": "/dev/stdout"}, Y)
    with pytest.raises(docsplice.NotADocument, match="line 1, column"):
        docsplice.load("a: [b\n")


def test_same_tells_types_apart() -> None:
    assert docsplice.same({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not docsplice.same(1, True) and not docsplice.same(1, 1.0)
    assert not docsplice.same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # order is part of the layout


def test_a_json_scalar_changes_alone() -> None:
    text = '{\n    "a": {"b": "x", "c": 1},\n    "d": [1,2]\n}\n'
    spliced = _splice(text, _set(("a", "b"), "y"))
    assert spliced == docsplice.Spliced('{\n    "a": {"b": "y", "c": 1},\n    "d": [1,2]\n}\n', True)


def test_a_multiline_json_value_is_written_with_the_files_indentation() -> None:
    text = '{\n   "a": {\n      "b": [1],\n      "c": 2\n   }\n}'
    spliced = _splice(text, _set(("a", "b"), [{"x": 1}]))
    assert spliced.text == '{\n   "a": {\n      "b": [{"x": 1}],\n      "c": 2\n   }\n}'
    spliced = _splice(text, _set(("a",), {"z": [1, 2]}))
    assert spliced.text == '{\n   "a": {\n      "z": [\n         1,\n         2\n      ]\n   }\n}'


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a", '{\n  "b": 2,\n  "c": 3\n}'),
        ("b", '{\n  "a": 1,\n  "c": 3\n}'),
        ("c", '{\n  "a": 1,\n  "b": 2\n}'),
    ],
)
def test_a_json_key_is_cut_with_its_comma(key: str, expected: str) -> None:
    assert _splice('{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}', _delete((key,))).text == expected


def test_json_keys_are_added_after_the_last() -> None:
    assert (
        _splice('{\n  "a": 1\n}', _set(("b",), {"c": 2})).text == '{\n  "a": 1,\n  "b": {\n    "c": 2\n  }\n}'
    )
    assert _splice('{"a": 1}', _set(("b",), [2])).text == '{"a": 1, "b": [2]}'


YAML_TEXT = """\
# the comment stays
static_resources:
  clusters:
  - name: xds   # so does this one
    type: STRICT_DNS
    tls: {sni: x}
    load_assignment:
      endpoints:
        - lb_endpoints:
            - endpoint: {address: {socket_address: {address: cp, port_value: 18000}}}
    last: |
      text
other: [1, 2]   # untouched
"""


def test_block_yaml_keeps_comments_and_changes_only_values() -> None:
    spliced = _splice(YAML_TEXT, _set(("static_resources", "clusters", 0, "type"), "STATIC"))
    assert spliced.text == YAML_TEXT.replace("type: STRICT_DNS", "type: STATIC")
    endpoint = (
        "static_resources",
        "clusters",
        0,
        "load_assignment",
        "endpoints",
        0,
        "lb_endpoints",
        0,
        "endpoint",
    )
    spliced = _splice(YAML_TEXT, _set((*endpoint, "address"), {"pipe": {"path": "/x"}}))
    assert spliced.text == YAML_TEXT.replace(
        "{socket_address: {address: cp, port_value: 18000}}", "{pipe: {path: /x}}"
    )


def test_block_yaml_keys_are_cut_and_added_as_lines() -> None:
    spliced = _splice(YAML_TEXT, _delete(("static_resources", "clusters", 0, "tls")))
    assert spliced.text == YAML_TEXT.replace("    tls: {sni: x}\n", "")
    spliced = _splice(YAML_TEXT, _set(("static_resources", "clusters", 0, "dns"), "V4_PREFERRED"))
    assert spliced.text == YAML_TEXT.replace("      text\n", "      text\n    dns: V4_PREFERRED\n")


def test_a_block_list_of_another_length_is_written_in_block_style() -> None:
    path = ("static_resources", "clusters", 0, "load_assignment", "endpoints")
    spliced = _splice(YAML_TEXT, _set(path, [{"a": 1}, {"b": [2]}]))
    assert spliced.layout_kept
    at_its_column = "      endpoints:\n        - a: 1\n        - b:\n          - 2\n    last: |"
    assert at_its_column in spliced.text


def test_the_first_key_of_a_list_item_takes_the_whole_item_along() -> None:
    spliced = _splice(YAML_TEXT, _delete(("static_resources", "clusters", 0, "name")))
    assert spliced.layout_kept and "# the comment stays" in spliced.text and "# untouched" in spliced.text


def test_yaml_strings_yaml_would_misread_are_quoted() -> None:
    spliced = _splice("id: n\nport: 1\n", _set(("id",), "on"))
    assert spliced.text == "id: 'on'\nport: 1\n"
    spliced = _splice('id: "n"\n', _set(("id",), "1.0"))
    assert spliced.text == 'id: "1.0"\n'


def test_anchors_fall_back_to_writing_the_whole_document() -> None:
    text = "base: &b {port: 1}\nuse: *b\n"
    spliced = _splice(text, _set(("base", "port"), 2))
    assert not spliced.layout_kept  # the alias would change too: written out again, still correct
    assert yaml.safe_load(spliced.text) == {"base": {"port": 2}, "use": {"port": 1}}


def test_merge_keys_are_written_out_in_full_where_they_change() -> None:
    text = "a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n"
    spliced = _splice(text, _set(("b", "y"), 3))
    assert yaml.safe_load(spliced.text) == {"a": {"x": 1}, "b": {"x": 1, "y": 3}}


def test_indent_of_is_the_smallest_indentation() -> None:
    assert docsplice.indent_of('{\n    "a": {\n        "b": 1}}') == 4
    assert docsplice.indent_of('{"a": 1}') == 2


# -- any change to any document ------------------------------------------------------------------

_keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=4)
_scalars = st.one_of(
    st.integers(-5, 99999),
    st.booleans(),
    st.none(),
    st.text(alphabet="abc xyz:/.-", max_size=6),
    st.sampled_from(["on", "1.0", "null", "~", "#x", "a: b", "- x", "{}"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)
_documents = st.dictionaries(_keys, _values, min_size=1, max_size=4)


def _render(document: Any, style: str) -> str:
    if style == "json":
        return json.dumps(document, indent=2)
    if style == "json-like yaml":  # Istio 1.6's bootstrap: JSON but for a few bits only YAML reads
        return json.dumps(document, indent=2) + "\n# a comment: JSON has none\n"
    if style == "flow":
        text: str = yaml.safe_dump(document, default_flow_style=True, sort_keys=False, width=60)
        return text
    return docsplice.dump(document, Y)


@st.composite
def _changes(draw: st.DrawFn) -> tuple[Any, Any]:
    old = draw(_documents)
    new = json.loads(json.dumps(old))
    for _ in range(draw(st.integers(1, 3))):
        target = new
        while True:
            if isinstance(target, dict) and target and draw(st.booleans()):
                key = draw(st.sampled_from(sorted(target)))
                if isinstance(target[key], dict | list) and draw(st.booleans()):
                    target = target[key]
                    continue
                action = draw(st.sampled_from(["set", "delete", "add"]))
                if action == "set":
                    target[key] = draw(_values)
                elif action == "delete":
                    del target[key]
                else:
                    target[draw(_keys)] = draw(_values)
            elif isinstance(target, list) and target:
                index = draw(st.integers(0, len(target) - 1))
                if isinstance(target[index], dict | list) and draw(st.booleans()):
                    target = target[index]
                    continue
                target[index] = draw(_values)
            break
    return old, new


@settings(max_examples=300, deadline=None)
@given(change=_changes(), style=st.sampled_from(["json", "json-like yaml", "block", "flow"]))
# Found by this test: ":a" is a plain scalar alone, not inside a JSON-like flow mapping.
@example(
    change=({"_": {"_": {"_": 0}}, "a": None}, {"_": {"_": {"_": ":a"}}, "a": None}), style="json-like yaml"
)
def test_any_change_reads_back_as_the_new_document(change: tuple[Any, Any], style: str) -> None:
    old, new = change
    text = _render(old, style)
    loaded, syntax = docsplice.load(text)
    assert docsplice.same(loaded, old)
    spliced = docsplice.splice(text, loaded, new, syntax)
    assert docsplice.same(docsplice.parse(spliced.text, syntax), new)
    assert spliced.layout_kept, f"{style} text was written out again:\n{text}\n->\n{spliced.text}"
