"""Hostile snapshot sources: random bytes and random JSON shapes get a SnapshotError, never a traceback."""

from __future__ import annotations

import json
import pathlib
import tempfile

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy.snapshot import problems
from xdsspy.snapshot import sources

_keys = st.sampled_from(
    [
        "configs",
        "@type",
        "dynamic_active_clusters",
        "cluster",
        "name",
        "version_info",
        "dynamic_listeners",
        "active_state",
        "listener",
        "error_state",
        "xdsspy_snapshot",
        "resources",
        "static_clusters",
        "x",
    ]
)
_types = st.sampled_from(
    [
        "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
        "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
        "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "nonsense",
    ]
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), _types),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=30,
)


def _load(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "s.json"
        path.write_bytes(data)
        try:
            sources.load(str(path))
        except problems.SnapshotError:
            pass


@settings(max_examples=300, deadline=None)
@given(_json)
def test_random_json_shapes_load_or_are_refused_with_a_clear_error(document: object) -> None:
    _load(json.dumps({"configs": document} if not isinstance(document, dict) else document).encode())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_are_refused_with_a_clear_error(data: bytes) -> None:
    _load(data)
