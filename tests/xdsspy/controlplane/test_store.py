"""The resource store: per-type versions, content versions, whole-state replacement."""

from __future__ import annotations

import pytest

from xdsspy.controlplane import store as store_mod


def test_versions_are_per_type_and_resources_keep_their_order() -> None:
    store = store_mod.Store()
    assert not store.get("t1").is_set
    assert store.set("t1", [("b", b"1"), ("a", b"2")]).version == "1"
    assert store.set("t2", []).version == "1"
    snapshot = store.set("t1", [("a", b"2")])
    assert (snapshot.version, list(snapshot.resources)) == ("2", ["a"])
    assert store.type_urls() == ["t1", "t2"]


def test_resource_versions_follow_content_only() -> None:
    first = store_mod.Store().set("t", [("a", b"x")]).resources["a"]
    again = store_mod.Store().set("t", [("a", b"x")]).resources["a"]
    changed = store_mod.Store().set("t", [("a", b"y")]).resources["a"]
    assert first.version == again.version != changed.version


def test_snapshots_do_not_change_under_their_holders() -> None:
    store = store_mod.Store()
    held = store.set("t", [("a", b"x")])
    store.set("t", [])
    assert list(held.resources) == ["a"]
    with pytest.raises(TypeError):
        held.resources["b"] = held.resources["a"]  # type: ignore[index]


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'a' given twice"):
        store_mod.Store().set("t", [("a", b"1"), ("a", b"2")])


def test_a_version_can_be_given_and_an_empty_one_is_refused() -> None:
    store = store_mod.Store()
    assert store.set("t", [("a", b"1")], version="2024-01-01T00:00:00Z/7").version == "2024-01-01T00:00:00Z/7"
    assert store.set("t", [("a", b"2")]).version == "2"  # the counter went on underneath
    with pytest.raises(ValueError, match="never set"):
        store.set("t", [], version="")
