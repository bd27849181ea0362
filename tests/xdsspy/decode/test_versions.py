"""v2 -> v3 type mapping from Envoy's versioning annotations, with the package-move fallback."""

from __future__ import annotations

import pytest

from xdsspy.decode import schemas
from xdsspy.decode import versions


@pytest.fixture(scope="module")
def version_map() -> versions.VersionMap:
    return versions.VersionMap(schemas.default())


@pytest.mark.parametrize(
    ("v2", "v3", "by_annotation"),
    [
        ("envoy.api.v2.Cluster", "envoy.config.cluster.v3.Cluster", True),
        ("envoy.api.v2.Cluster.LbSubsetConfig", "envoy.config.cluster.v3.Cluster.LbSubsetConfig", True),
        ("envoy.api.v2.auth.Secret", "envoy.extensions.transport_sockets.tls.v3.Secret", True),
        (
            "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager",
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            True,
        ),
        ("envoy.config.bootstrap.v2.Bootstrap", "envoy.config.bootstrap.v3.Bootstrap", True),
        ("envoy.admin.v2alpha.ClustersConfigDump", "envoy.admin.v3.ClustersConfigDump", True),
        ("envoy.config.filter.http.wasm.v2.Wasm", "envoy.extensions.filters.http.wasm.v3.Wasm", False),
    ],
)
def test_upgrades(version_map: versions.VersionMap, v2: str, v3: str, by_annotation: bool) -> None:
    assert version_map.upgrade(v2) == versions.Upgrade(v2, v3, by_annotation)


def test_v3_and_unknown_names_are_not_upgraded(version_map: versions.VersionMap) -> None:
    assert version_map.upgrade("envoy.config.cluster.v3.Cluster") is None
    assert version_map.upgrade("stats.PluginConfig") is None
    assert version_map.upgrade("envoy.config.filter.http.nope.v2.Nope") is None  # pattern, but no target


def test_predecessor(version_map: versions.VersionMap) -> None:
    assert version_map.predecessor("envoy.config.cluster.v3.Cluster") == "envoy.api.v2.Cluster"
    assert version_map.predecessor("envoy.config.cluster.v3.ClusterCollection") is None
