"""Where the tests find Istio's real Envoy config dumps (../shared/fixtures/istio), skipping when absent.

The fixtures live beside the checkout, not in it; a clone without them runs
every other test and skips these, each saying why.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "istio"
ABSENT = f"Istio fixtures not found at {ROOT} (../shared/fixtures/istio beside the checkout)"


def path(relative: str) -> pathlib.Path:
    """One fixture file; the calling test is skipped when it is not on this machine."""
    found = ROOT / relative
    if not found.is_file():
        pytest.skip(f"{ABSENT}: no {relative}")
    return found


def dump_params() -> list[Any]:
    """Every config dump (legacy-v2 and modern-v3) as a pytest parameter, or one skipped parameter."""
    found = [p for d in ("legacy-v2", "modern-v3") if (ROOT / d).is_dir() for p in (ROOT / d).iterdir()]
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT))]
    return [pytest.param(p, id=p.name) for p in sorted(found)]
