"""Paths in JSON-ready trees: where a dict sits in a decoded body, and how to get back to it.

Notes about a decoded resource refer to the dict they concern; their path is
found only when someone asks (most notes are never displayed), by one walk of
the body. Paths read like `filter_chains[0].filters[1].typed_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Token = str | int
"""A dict key or a list index."""


def locate(root: Any, wanted: set[int]) -> dict[int, tuple[Token, ...]]:
    """Token paths of the containers in `root` whose id() is in `wanted` (first occurrence wins)."""
    found: dict[int, tuple[Token, ...]] = {}
    stack: list[tuple[Any, tuple[Token, ...]]] = [(root, ())]
    while stack and len(found) < len(wanted):
        node, path = stack.pop()
        if id(node) in wanted and id(node) not in found:
            found[id(node)] = path
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    stack.append((value, (*path, key)))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    stack.append((value, (*path, index)))
    return found


def follow(root: Any, path: Sequence[Token]) -> Any:
    """The node at `path` under `root` (the inverse of `locate`)."""
    node = root
    for token in path:
        node = node[token]
    return node


def format_path(path: Sequence[Token]) -> str:
    """`a.b[0].c`; "" for the root."""
    out = ""
    for token in path:
        if isinstance(token, int):
            out += f"[{token}]"
        else:
            out += f".{token}" if out else str(token)
    return out
