"""Files written for sharing: 0600 whatever existed before, never through a symlink."""

from __future__ import annotations

import errno
import os
import pathlib
import stat

import pytest

from xdsspy import privatefile


def test_a_new_and_an_existing_file_end_up_0600(tmp_path: pathlib.Path) -> None:
    old = tmp_path / "old.json"
    old.write_text("previous")
    old.chmod(0o644)
    for path, mode, data in ((tmp_path / "new.txt", "w", "text"), (old, "wb", b"bytes")):
        with privatefile.open_private(path, mode) as f:
            f.write(data)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes() == (data if isinstance(data, bytes) else data.encode())


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "out.json"
    os.symlink(target, link)
    with pytest.raises(OSError) as refused:
        privatefile.open_private(link)
    assert refused.value.errno == errno.ELOOP and target.read_text() == "keep me"
