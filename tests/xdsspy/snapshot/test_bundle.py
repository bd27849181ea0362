"""The bug-report bundle: a valid redacted recording slice, snapshots around the point, a diff, a README."""

from __future__ import annotations

import pathlib
import stat
import tarfile

import pytest
import yaml

from xdsspy import cli
from xdsspy import redact
from xdsspy.record import reader
from xdsspy.snapshot import bundle
from xdsspy.snapshot import recorded

SAMPLES = pathlib.Path(__file__).resolve().parents[3] / "recordings"
SOTW = str(SAMPLES / "sotw-nack.xdsspy")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def members(path: pathlib.Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_a_nack_bundle_holds_a_valid_recording_slice_snapshots_diff_and_readme(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    out_path = tmp_path / "report.tar.gz"
    code, _, err = run(capsys, "bundle", SOTW, "-o", str(out_path))
    assert code == 0 and "around event 23" in err
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    got = members(out_path)
    assert sorted(got) == ["README.md", "after.yaml", "before.yaml", "diff.md", "recording.xdsspy"]
    readme = got["README.md"].decode()
    assert (
        "Invalid duration" in readme
        and "xdsspy replay recording.xdsspy --node 'sample-sotw' --until 23" in readme
    )
    assert "Envoy: 1." in readme
    diff = got["diff.md"].decode()
    assert 'clusters[static-svc].connect_timeout: "1s" → "-1s"' in diff
    sliced = tmp_path / "recording.xdsspy"
    sliced.write_bytes(got["recording.xdsspy"])
    seqs = [e.seq for e in reader.iter_events(sliced)]
    original = [e.seq for e in reader.iter_events(SOTW)]
    assert seqs == [s for s in original if s <= seqs[-1]] and 23 in seqs
    code, out, _ = run(capsys, "show", str(sliced), "--nacks")
    assert code == 0 and "Invalid duration" in out
    code, out, _ = run(capsys, "diff", f"{sliced}@nack:1", f"{SOTW}@nack:1")
    assert code == 0, out


def test_around_an_ordinary_event_gives_the_states_before_and_after_it(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "b.tar.gz"
    done = bundle.build(
        SOTW,
        str(out),
        around=recorded.Point(recorded.PointKind.SEQ, seq=8),
        after=2,
        redactor=redact.Redactor(),
    )
    got = members(out)
    before, after = yaml.safe_load(got["before.yaml"]), yaml.safe_load(got["after.yaml"])
    assert before["seq"] == 7 and after["seq"] == 8 and done.seq == 8
    (tmp_path / "r.xdsspy").write_bytes(got["recording.xdsspy"])
    assert max(e.seq for e in reader.iter_events(tmp_path / "r.xdsspy")) <= 8 + 2 + 1
    assert "the state before and after event 8" in got["README.md"].decode()
