"""Tests mirror the package: xdsspy/a/b.py is tested by tests/xdsspy/a/test_b.py (as mitmproxy checks).

A module without its own test file must be listed here with the reason.
"""

from __future__ import annotations

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xdsspy"

COVERED_ELSEWHERE = {
    "errors.py": "exception declarations only; raised and matched throughout the suite",
    "model.py": "event dataclasses only; every record/capture test round-trips them",
    "snapshot/problems.py": "one exception declaration; every snapshot source test raises and matches it",
}


def _modules() -> list[pathlib.Path]:
    skipped = {"_gen", "testing"}
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and not skipped & set(p.relative_to(PACKAGE).parts)
    )


def test_every_module_has_its_test_file() -> None:
    missing = []
    for module in _modules():
        relative = module.relative_to(PACKAGE)
        expected = ROOT / "tests" / "xdsspy" / relative.parent / f"test_{relative.name}"
        if not expected.exists() and relative.as_posix() not in COVERED_ELSEWHERE:
            missing.append(f"{relative} -> {expected.relative_to(ROOT)}")
    assert missing == [], "modules without a mirrored test file:\n" + "\n".join(missing)


def test_the_exception_list_stays_true() -> None:
    for relative in COVERED_ELSEWHERE:
        assert (PACKAGE / relative).exists(), f"{relative} is gone: drop it from COVERED_ELSEWHERE"
        assert not (
            ROOT / "tests" / "xdsspy" / pathlib.Path(relative).parent / f"test_{pathlib.Path(relative).name}"
        ).exists()
