"""The CLI reference names every command the parser has, with an example of each."""

from __future__ import annotations

import argparse
import pathlib

from xdsspy import cli

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_every_command_has_a_section_and_an_example() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = DOC.read_text()
    for command in sub.choices:
        assert f"## `xdsspy {command}`" in text, command
        assert f"\nxdsspy {command} " in text, f"no example of xdsspy {command}"
