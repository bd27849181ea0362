"""The forwarding path stays free of decoding and UI code (checked in a fresh interpreter).

Static import graphs miss imports done inside functions, so each module is
imported in a subprocess and sys.modules is inspected, as harlequin does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN_ON_THE_DATA_PATH = ("xdsspy.decode", "xdsspy.tui", "textual", "rich", "envoy", "xds")


def _loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", ["xdsspy.capture.grpc_proxy", "xdsspy.runner"])
def test_capture_process_loads_no_decoder_or_ui(module: str) -> None:
    loaded = _loaded_after_import(module)
    bad = sorted(
        m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_ON_THE_DATA_PATH)
    )
    assert bad == [], f"{module} pulls {bad} into the forwarding process"


def test_capture_does_not_import_the_recorder() -> None:
    loaded = _loaded_after_import("xdsspy.capture.grpc_proxy")
    assert not any(m.startswith("xdsspy.record") for m in loaded)


def test_readers_of_recordings_need_no_grpc() -> None:
    loaded = _loaded_after_import("xdsspy.record.reader")
    assert "grpc" not in loaded


HEADLESS_CORE = [
    "xdsspy.viewmodel.rows",
    "xdsspy.viewmodel.index",
    "xdsspy.viewmodel.envoys",
    "xdsspy.viewmodel.filterexpr",
    "xdsspy.viewmodel.links",
    "xdsspy.viewmodel.rowview",
    "xdsspy.viewmodel.detail",
    "xdsspy.viewmodel.envoy_config",
    "xdsspy.viewmodel.history",
    "xdsspy.viewmodel.saving",
    "xdsspy.viewmodel.words",
    "xdsspy.state.timeline",
    "xdsspy.state.tracker",
    "xdsspy.record.reader",
    "xdsspy.configdiff",
    "xdsspy.configpatch",
    "xdsspy.redact",
    "xdsspy.redact_events",
    "xdsspy.session",
    "xdsspy.snapshot.sources",
    "xdsspy.snapshot.compare",
    "xdsspy.snapshot.report",
    "xdsspy.snapshot.bundle",
]


@pytest.mark.parametrize("module", HEADLESS_CORE)
def test_the_core_a_second_front_end_needs_loads_no_ui_and_no_grpc(module: str) -> None:
    """What show, --headless and the UI share must be usable without Textual, rich or grpc."""
    loaded = _loaded_after_import(module)
    bad = sorted(
        m for m in loaded if m.split(".")[0] in ("textual", "rich", "grpc") or m.startswith("xdsspy.tui")
    )
    assert bad == [], f"{module} pulls in {bad}"


def test_nothing_outside_the_testing_package_imports_it() -> None:
    """xdsspy.testing holds test peers and factories: the product must not depend on them."""
    import ast
    import pathlib

    package = pathlib.Path(__file__).resolve().parent.parent / "xdsspy"
    offenders = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if relative.parts[0] in ("testing", "_gen"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name == "xdsspy.testing" or name.startswith("xdsspy.testing.") for name in names):
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []
