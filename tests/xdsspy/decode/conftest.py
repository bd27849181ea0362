"""Shared fixtures for the decoder tests: the Istio config dumps as pushes, and a realistic CDS push."""

from __future__ import annotations

import pytest

from xdsspy.decode import schemas

from . import istio_fixtures


@pytest.fixture(scope="session")
def istio_pushes() -> list[istio_fixtures.FixturePush]:
    if not istio_fixtures.ROOT.is_dir():
        pytest.skip(f"Istio fixtures not found at {istio_fixtures.ROOT} (the shared/ folder is absent)")
    return istio_fixtures.pushes(schemas.default())


@pytest.fixture(scope="session")
def istio_resources(istio_pushes: list[istio_fixtures.FixturePush]) -> list[istio_fixtures.FixtureResource]:
    return [resource for push in istio_pushes for resource in push.resources]
