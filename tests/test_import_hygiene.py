"""The forwarding path stays free of decoding and UI code (checked in a fresh interpreter).

Static import graphs miss imports done inside functions, so each module is
imported in a subprocess and sys.modules is inspected, as harlequin does.
"""

from __future__ import annotations

import json
import pathlib
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


TEST_ONLY = (
    "pytest",
    "hypothesis",
    "httpcore",
    "cryptography",
    "deepdiff",
    "mypy",
    "ruff",
)  # grpc probes grpc_tools


@pytest.mark.parametrize(
    "module", ["xdsspy.cli", "xdsspy.demo.runner", "xdsspy.controlplane.rest", "xdsspy.tui.app"]
)
def test_the_product_needs_no_test_dependency(module: str) -> None:
    """A plain `pip install .` must run every command: nothing the product imports is a test extra."""
    loaded = _loaded_after_import(module)
    bad = sorted(m for m in loaded if m.split(".")[0] in TEST_ONLY)
    assert bad == [], f"{module} pulls in test-only {bad}"


def _closure(requirements: list[str]) -> set[str]:
    """Distributions a plain `pip install .` brings: the main dependencies and theirs (markers ignored)."""
    import importlib.metadata as md
    import re

    seen: set[str] = set()
    todo = [re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            for req in md.requires(name) or []:
                if "extra ==" not in req:
                    todo.append(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0])
        except md.PackageNotFoundError:
            pass
    return seen


def test_every_module_the_commands_import_comes_with_a_plain_install() -> None:
    """What `xdsspy demo --rest`, the UI and every command import is a main dependency (or comes with one)."""
    import importlib.metadata as md
    import sys
    import tomllib

    project = tomllib.loads((pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    installed = _closure(project["project"]["dependencies"])
    by_module = md.packages_distributions()
    missing = set()
    for module in ("xdsspy.cli", "xdsspy.demo.runner", "xdsspy.controlplane.rest", "xdsspy.tui.app"):
        for name in _loaded_after_import(module):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("xdsspy", "_distutils_hack") or top.startswith("_"):
                continue
            dists = {d.lower().replace("_", "-") for d in by_module.get(top, [])}
            if dists and not dists & installed and top != "grpc_tools":  # grpc only probes grpc_tools
                missing.add(f"{top} ({', '.join(sorted(dists))})")
    assert not missing, f"imported but not installed by `pip install .`: {sorted(missing)}"
