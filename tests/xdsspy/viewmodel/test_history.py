"""Every version of one resource over a recording (ACKED, NACKED, REMOVED), and the fields between two."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from envoy.api.v2 import cluster_pb2 as v2_cluster_pb2
from envoy.config.cluster.v3 import cluster_pb2

from xdsspy import configdiff
from xdsspy.controlplane import resources as cp
from xdsspy.testing import conversations as conv
from xdsspy.viewmodel import history
from xdsspy.viewmodel import index

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS = cp.CLUSTER
V2_CDS = "type.googleapis.com/envoy.api.v2.Cluster"
S = history.VersionStatus


@pytest.fixture(scope="module")
def sotw() -> index.RecordingIndex:
    return conv.indexed(RECORDINGS / "sotw-nack.xdsspy")


def test_a_cluster_accepted_then_rejected_has_two_versions_at_their_answers(
    sotw: index.RecordingIndex,
) -> None:
    found = history.history(sotw, "sample-sotw", CDS, "static-svc")
    assert [(v.version, v.status) for v in found] == [("1", S.ACKED), ("3", S.NACKED)]
    acked, nacked = found
    steps = sotw.timeline.steps
    for v in found:
        step = steps[v.position]
        assert step.verdict is not None and step.verdict.answers_seq == v.seq  # the answer to its push
        assert v.wall_ns == step.wall_ns and v.name == "static-svc" and v.type_url == CDS and v.digest
    assert steps[nacked.position].verdict.is_nack  # type: ignore[union-attr]
    assert "Invalid duration" in nacked.error and acked.error == ""
    assert (acked.index, nacked.index) == (1, 1)


def test_a_resource_resent_unchanged_is_no_new_version(sotw: index.RecordingIndex) -> None:
    # static-svc rode in the second CDS push too, unchanged: still one accepted version.
    backend = history.history(sotw, "sample-sotw", CDS, "backend")
    assert [(v.version, v.status) for v in backend] == [("1", S.ACKED), ("2", S.ACKED)]
    assert history.history(sotw, "sample-sotw", CDS, "nope") == []
    assert history.history(sotw, "someone-else", CDS, "backend") == []


def test_the_diff_between_two_versions_is_field_by_field(sotw: index.RecordingIndex) -> None:
    acked, nacked = history.history(sotw, "sample-sotw", CDS, "static-svc")
    (change,) = history.diff_versions(sotw, acked, nacked)
    assert (change.path, change.kind, change.old, change.new) == (
        "connect_timeout",
        configdiff.ChangeKind.CHANGED,
        "1s",
        "-1s",
    )
    assert history.diff_versions(sotw, nacked, nacked) == []


def test_a_resource_dropped_from_a_full_state_push_is_removed(tmp_path: pathlib.Path) -> None:
    a, b = cp.eds_cluster("a"), cp.eds_cluster("b", connect_timeout_s=2)
    conv.ads_recording(
        tmp_path / "drop.xdsspy", [(CDS, [conv.packed(a), conv.packed(b)], ""), (CDS, [conv.packed(a)], "")]
    )
    ix = conv.indexed(tmp_path / "drop.xdsspy")
    added, removed = history.history(ix, "n1", CDS, "b")
    assert (added.status, added.version, removed.status, removed.version) == (S.ACKED, "v1", S.REMOVED, "v2")
    response = ix.timeline.steps[ix.timeline.index_of(removed.seq)]
    assert response.verdict is not None and response.verdict.removed == ("b",)  # the push that dropped it
    assert removed.digest == "" and removed.position > added.position
    (gone,) = history.diff_versions(ix, added, removed)
    assert (gone.path, gone.kind, gone.new) == ("", configdiff.ChangeKind.REMOVED, configdiff.MISSING)
    assert gone.old["name"] == "b" and gone.old["connect_timeout"] == "2s"
    (back,) = history.diff_versions(ix, removed, added)
    assert back.kind == configdiff.ChangeKind.ADDED and back.new["name"] == "b"
    assert history.diff_versions(ix, removed, removed) == []


def test_a_rejected_version_accepted_after_all_is_no_removal(tmp_path: pathlib.Path) -> None:
    bad, good = cp.eds_cluster("a", connect_timeout_s=-1), cp.eds_cluster("a")
    conv.ads_recording(
        tmp_path / "fixed.xdsspy",
        [(CDS, [conv.packed(bad)], "Invalid duration"), (CDS, [conv.packed(good)], "")],
    )
    ix = conv.indexed(tmp_path / "fixed.xdsspy")
    assert len(ix.timeline.changes_of("n1", CDS, "a")) == 3  # rejected, then accepted and un-rejected
    found = history.history(ix, "n1", CDS, "a")
    assert [(v.version, v.status) for v in found] == [("v1", S.NACKED), ("v2", S.ACKED)]
    (change,) = history.diff_versions(ix, *found)
    assert (change.path, change.old, change.new) == ("connect_timeout", "-1s", "1s")


def test_v2_and_v3_versions_of_a_resource_are_one_history(tmp_path: pathlib.Path) -> None:
    v2 = v2_cluster_pb2.Cluster(name="c", type=v2_cluster_pb2.Cluster.STATIC)
    v2.connect_timeout.FromSeconds(1)
    v3 = cluster_pb2.Cluster(name="c", type=cluster_pb2.Cluster.STATIC)
    v3.connect_timeout.FromSeconds(1)
    conv.ads_recording(
        tmp_path / "both.xdsspy", [(V2_CDS, [conv.packed(v2, V2_CDS)], ""), (CDS, [conv.packed(v3)], "")]
    )
    ix = conv.indexed(tmp_path / "both.xdsspy")
    for asked in (CDS, V2_CDS):
        found = history.history(ix, "n1", asked, "c")
        assert [(v.type_url, v.version) for v in found] == [(V2_CDS, "v1"), (CDS, "v2")]
    old, new = history.history(ix, "n1", CDS, "c")
    assert history.diff_versions(ix, old, new) == []  # the same cluster: only "@type" differed, by version


def test_a_body_that_cannot_be_read_back_raises_a_one_line_error(
    sotw: index.RecordingIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked, nacked = history.history(sotw, "sample-sotw", CDS, "static-svc")
    monkeypatch.setattr(sotw, "message_at_seq", lambda seq: None)
    with pytest.raises(history.UnreadableVersion, match="static-svc version '1': response 4 cannot be read"):
        history.diff_versions(sotw, acked, nacked)


def test_the_module_loads_no_ui_and_no_grpc() -> None:
    code = "import json, sys, xdsspy.viewmodel.history; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert [
        m for m in loaded if m.split(".")[0] in ("rich", "textual", "grpc") or m.startswith("xdsspy.tui")
    ] == []
