"""Where the snapshot tests find Istio's config dumps (../shared/fixtures/istio), skipping when absent."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "istio"
ABSENT = f"Istio fixtures not found at {FIXTURES} (the shared/ folder is absent)"


def path(relative: str) -> pathlib.Path:
    """One fixture file; the test is skipped when it is not on this machine."""
    found = FIXTURES / relative
    if not found.is_file():
        pytest.skip(ABSENT)
    return found


def dump_params() -> list[Any]:
    """Every config dump (legacy-v2 and modern-v3) as a pytest parameter, or one skipped parameter."""
    found = [
        p for d in ("legacy-v2", "modern-v3") if (FIXTURES / d).is_dir() for p in (FIXTURES / d).iterdir()
    ]
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT))]
    return [pytest.param(p, id=p.name) for p in sorted(found)]
