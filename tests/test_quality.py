"""Static checks that must stay clean: generated code in sync, ruff, mypy --strict."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_generated_code_matches_protos() -> None:
    pytest.importorskip("grpc_tools")
    done = _run(sys.executable, "protos/generate.py", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    if shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    done = _run("ruff", "check", "xdsspy", "tests", "bench", "protos")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run("ruff", "format", "--check", "xdsspy", "tests", "bench", "protos")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    pytest.importorskip("mypy")
    done = _run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr
