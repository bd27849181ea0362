"""Snapshots at points of a recording: by event, time, last and NACK; which Envoy; and what cannot be read."""

from __future__ import annotations

import datetime
import pathlib

import pytest

from xdsspy import timefmt
from xdsspy.controlplane import resources as cp
from xdsspy.snapshot import model
from xdsspy.snapshot import problems
from xdsspy.snapshot import recorded
from xdsspy.testing import conversations

SAMPLES = pathlib.Path(__file__).resolve().parents[3] / "recordings"
P = recorded.PointKind


@pytest.fixture
def rec(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "r.xdsspy"
    good = cp.eds_cluster("a", connect_timeout_s=1.0)
    bad = cp.eds_cluster("a", connect_timeout_s=-1.0)
    conversations.ads_recording(
        path,
        [
            (cp.CLUSTER, [conversations.packed(good)], ""),
            (cp.CLUSTER, [conversations.packed(good), conversations.packed(cp.eds_cluster("b"))], ""),
            (cp.CLUSTER, [conversations.packed(bad)], "Invalid duration"),
        ],
    )
    return path


def _ns(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("17", recorded.Point(P.SEQ, seq=17)),
        ("last", recorded.LAST),
        ("nack:2", recorded.Point(P.NACK, nack=2)),
        ("2026-11-25T10:00:03Z", recorded.Point(P.TIME, time_ns=_ns("2026-11-25T10:00:03+00:00"))),
        (
            "2026-11-25T10:00:03.5",
            recorded.Point(P.TIME, time_ns=_ns("2026-11-25T10:00:03+00:00") + 500_000_000),
        ),
        ("2026-11-25T12:00:03+02:00", recorded.Point(P.TIME, time_ns=_ns("2026-11-25T10:00:03+00:00"))),
    ],
)
def test_points_are_parsed(text: str, point: recorded.Point) -> None:
    assert recorded.parse_point(text) == point


@pytest.mark.parametrize("text", ["nack:0", "nack:x", "yesterday", "-3", ""])
def test_a_bad_point_says_what_is_expected(text: str) -> None:
    with pytest.raises(problems.SnapshotError, match="nack"):
        recorded.parse_point(text)


def test_a_name_with_an_at_sign_that_exists_is_a_file(tmp_path: pathlib.Path) -> None:
    odd = tmp_path / "dump@2.json"
    odd.write_text("{}")
    assert recorded.split_source(str(odd)) == (str(odd), None)
    assert recorded.split_source(f"{tmp_path}/r.xdsspy@nack:1") == (
        f"{tmp_path}/r.xdsspy",
        recorded.Point(P.NACK, nack=1),
    )


def test_the_state_at_each_kind_of_point(rec: pathlib.Path) -> None:
    at_first_ack = recorded.load(str(rec), recorded.Point(P.SEQ, seq=4))
    assert [(i.name, i.version) for i in at_first_ack.items] == [("a", "v1")]
    assert at_first_ack.node == "n1" and at_first_ack.seq == 4 and not at_first_ack.has_static
    last = recorded.load(str(rec))
    assert {(i.name, i.state) for i in last.items} == {
        ("a", model.State.ACTIVE),
        ("b", model.State.ACTIVE),
        ("a", model.State.REJECTED),
    }
    rejected = next(i for i in last.items if i.state == model.State.REJECTED)
    assert rejected.error == "Invalid duration" and rejected.body["connect_timeout"] == "-1s"
    nack = recorded.load(str(rec), recorded.Point(P.NACK, nack=1))
    assert [i.name for i in nack.selected()] == ["a", "b"]
    assert any("nack:1 is event" in note for note in nack.notes)
    when = recorded.Point(P.TIME, time_ns=1 << 62)
    assert recorded.load(str(rec), when).seq == last.seq
    assert last.at == timefmt.rfc3339(_last_wall(rec))


def _last_wall(rec: pathlib.Path) -> int:
    from xdsspy.record import reader

    return [e.wall_ns for e in reader.iter_events(rec)][-1]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (recorded.Point(P.SEQ, seq=999), r"events are 1\.\.\d+"),
        (recorded.Point(P.NACK, nack=2), r"holds 1 NACK"),
        (recorded.Point(P.TIME, time_ns=1), "before the recording starts"),
    ],
)
def test_a_point_outside_the_recording_is_refused(
    rec: pathlib.Path, point: recorded.Point, message: str
) -> None:
    with pytest.raises(problems.SnapshotError, match=message):
        recorded.load(str(rec), point)


def test_node_is_chosen_by_id_short_form_or_glob_and_refused_when_unknown(rec: pathlib.Path) -> None:
    assert recorded.load(str(rec), node="n*").node == "n1"
    with pytest.raises(problems.SnapshotError, match=r"no Envoy 'zz'.*Envoys: n1"):
        recorded.load(str(rec), node="zz")


def test_a_torn_recording_gives_what_is_intact_and_says_where_it_stops(
    rec: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    torn = tmp_path / "torn.xdsspy"
    torn.write_bytes(rec.read_bytes() + b"XDSB\x01\x00\x00")  # a block cut short by a crash
    snap = recorded.load(str(torn))
    assert {(i.name, i.state) for i in snap.items} == {
        (i.name, i.state) for i in recorded.load(str(rec)).items
    }
    assert any(str(torn) in n for n in snap.notes)


def test_garbage_is_not_a_recording(tmp_path: pathlib.Path) -> None:
    junk = tmp_path / "junk.xdsspy"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(problems.SnapshotError):
        recorded.load(str(junk))


@pytest.mark.parametrize("sample", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_the_samples_last_nack_holds_the_rejected_cluster(sample: str) -> None:
    snap = recorded.load(str(SAMPLES / sample), recorded.Point(P.NACK, nack=1))
    rejected = [i for i in snap.items if i.state == model.State.REJECTED]
    assert [i.name for i in rejected] == ["static-svc"] and "Invalid duration" in rejected[0].error
