"""Fixtures for control plane tests: a running ControlPlane and plain gRPC ADS clients for it."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator

import pytest

from xdsspy.controlplane import ads
from xdsspy.controlplane import client
from xdsspy.controlplane import server


@pytest.fixture
def cp() -> Iterator[server.ControlPlane]:
    with server.ControlPlane("127.0.0.1:0") as control_plane:
        yield control_plane


@pytest.fixture
def connect() -> Iterator[Callable[..., client.AdsClient]]:
    """connect(target, method=SotW) -> a client.AdsClient, closed after the test."""
    clients: list[client.AdsClient] = []

    def make(target: str, method: str = ads.SOTW_METHOD) -> client.AdsClient:
        ads_client = client.AdsClient(target, method)
        clients.append(ads_client)
        return ads_client

    yield make
    for ads_client in clients:
        ads_client.close()
