"""Rebuilding the new value from the old one and configdiff's changes, list rules included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import configdiff
from xdsspy import configpatch


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1}, {"a": 2, "b": [1]}),
        ([1, 2, 3], [2, 3, 4]),
        (
            {"virtual_hosts": [{"name": "a", "r": 1}, {"name": "b"}]},
            {"virtual_hosts": [{"name": "b", "r": 2}, {"name": "c"}, {"name": "a", "r": 1}]},
        ),
        (
            {"routes": [{"match": "a"}, {"match": "b"}]},
            {"routes": [{"match": "b"}, {"match": "a"}, {"match": "c"}]},
        ),
        ({"x": {"y": [{"z": 1}]}}, {"x": {"y": [{"z": 1}, {"z": 2}]}}),
        ("a", 1),
    ],
)
def test_the_new_value_is_rebuilt(old: Any, new: Any) -> None:
    rebuilt = configpatch.apply(old, configdiff.diff(old, new))
    assert configdiff.diff(rebuilt, new) == []


def test_the_old_value_is_not_modified() -> None:
    old = {"a": [1, {"b": 2}]}
    configpatch.apply(old, configdiff.diff(old, {"a": [1, {"b": 3}]}))
    assert old == {"a": [1, {"b": 2}]}


def test_changes_of_another_value_are_refused() -> None:
    changes = configdiff.diff({"a": {"b": 1}}, {"a": {"b": 2}})
    with pytest.raises(configpatch.PatchError):
        configpatch.apply({"a": 5}, changes)


_json = st.recursive(
    st.one_of(st.integers(-2, 2), st.sampled_from(["a", "b", ""]), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["name", "routes", "virtual_hosts", "x", "y"]), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json, _json)
def test_any_two_values(old: Any, new: Any) -> None:
    rebuilt = configpatch.apply(old, configdiff.diff(old, new))
    assert configdiff.diff(rebuilt, new) == []
