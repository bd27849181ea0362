"""Paths in decoded bodies: locate, follow and format agree."""

from __future__ import annotations

from xdsspy.decode import tree


def test_locate_follow_and_format() -> None:
    target = {"@type": "t"}
    other: dict[str, object] = {}
    body = {"a": [{"b": 1}, {"c": target}], "d": other}
    paths = tree.locate(body, {id(target), id(other), id(body)})
    assert paths[id(target)] == ("a", 1, "c") and paths[id(other)] == ("d",) and paths[id(body)] == ()
    assert tree.follow(body, paths[id(target)]) is target
    assert tree.format_path(paths[id(target)]) == "a[1].c"
    assert tree.format_path(()) == "" and tree.format_path((0, "x")) == "[0].x"
    assert tree.locate(body, {id(object())}) == {}
