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
