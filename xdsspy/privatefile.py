"""Opens the files xdsspy writes for people to keep or share: mode 0600, never through a symlink.

Exports, snapshots, diffs, bundles, replay reports and the UI's saves can
hold secrets (with `--no-redact`, or names and topology anyway), so each is
created readable by its owner only; an existing file is truncated and made
0600 too (O_TRUNC keeps an old mode), and a symlink at the path is refused
(OSError ELOOP) rather than followed to a file someone else chose.
"""

from __future__ import annotations

import os
import typing
from typing import IO
from typing import Any
from typing import BinaryIO
from typing import Literal
from typing import TextIO

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@typing.overload
def open_private(path: str | os.PathLike[str], mode: Literal["w"] = "w") -> TextIO: ...
@typing.overload
def open_private(path: str | os.PathLike[str], mode: Literal["wb"]) -> BinaryIO: ...
def open_private(path: str | os.PathLike[str], mode: str = "w") -> IO[Any]:
    """`path` opened for writing ("w": UTF-8 text, "wb": bytes), mode 0600; OSError as os.open raises it."""
    fd = os.open(path, _FLAGS, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if "b" in mode:
            return os.fdopen(fd, "wb")
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
