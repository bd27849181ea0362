"""`xdsspy snapshot`, `diff` and `bundle` from the command line: outputs, exit statuses, files, bad input."""

from __future__ import annotations

import json
import pathlib
import stat

import pytest
import yaml

from xdsspy import cli
from xdsspy.controlplane import resources as cp
from xdsspy.testing import conversations
from xdsspy.testing import istio_files

SAMPLES = pathlib.Path(__file__).resolve().parents[3] / "recordings"
SOTW = str(SAMPLES / "sotw-nack.xdsspy")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_snapshot_writes_yaml_json_and_a_config_dump_that_diff_reads_back(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    code, out, _ = run(capsys, "snapshot", SOTW)
    assert code == 0
    document = yaml.safe_load(out)
    assert document["xdsspy_snapshot"] == 1 and document["node"] == "sample-sotw"
    for fmt in ("json", "config_dump"):
        path = tmp_path / f"s.{fmt}.json"
        code, _, err = run(capsys, "snapshot", SOTW, "--format", fmt, "-o", str(path))
        assert code == 0 and "wrote" in err
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        code, out, _ = run(capsys, "diff", SOTW, str(path))
        assert (code, "no differences" in out) == (0, True), out
    dump = json.loads((tmp_path / "s.config_dump.json").read_text())
    kinds = [c["@type"].rsplit(".", 1)[1] for c in dump["configs"]]
    assert "ClustersConfigDump" in kinds and "ListenersConfigDump" in kinds


def test_diff_exits_like_diff_and_names_the_change(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", f"{SOTW}@5", f"{SOTW}@last")
    assert code == 1
    assert "+ clusters[backend]" in out and "listeners: 0 changed, 1 added" in out
    code, out, _ = run(capsys, "diff", f"{SOTW}@last", f"{SOTW}@last")
    assert (code, "no differences" in out) == (0, True)
    code, out, _ = run(capsys, "diff", f"{SOTW}@5", f"{SOTW}@last", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["same"] is False
    assert {c["path"] for c in data["changes"]} >= {"clusters[backend]", "listeners[ingress]"}


def test_diff_with_rejected_shows_the_nacked_push_field_by_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", f"{SOTW}@nack:1", f"{SOTW}@nack:1", "--with-rejected")
    assert code == 0
    code, out, _ = run(capsys, "diff", f"{SOTW}@5", f"{SOTW}@nack:1", "--with-rejected", "--type", "CDS")
    assert code == 1 and "+ clusters[static-svc] (NACKED)" in out
    assert "listeners" not in out


def test_markdown_folds_each_resources_yaml_diff(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "r.xdsspy"
    conversations.ads_recording(
        path,
        [
            (cp.CLUSTER, [conversations.packed(cp.eds_cluster("a", connect_timeout_s=1.0))], ""),
            (cp.CLUSTER, [conversations.packed(cp.eds_cluster("a", connect_timeout_s=3.0))], ""),
        ],
    )
    code, out, _ = run(capsys, "diff", f"{path}@4", str(path), "--format", "markdown")
    assert code == 1
    assert "| clusters | 1 | 0 | 0 | 0 |" in out
    assert '- `~ clusters[a].connect_timeout: "1s" → "3s"`' in out
    assert "<details><summary>clusters[a]: YAML diff</summary>" in out and "-connect_timeout: 1s" in out
    code, out, _ = run(capsys, "diff", f"{path}@4", str(path), "--context", "0")
    assert "    -connect_timeout: 1s" in out and "    +connect_timeout: 3s" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "nowhere.json", SOTW], "nowhere.json"),
        (["diff", f"{SOTW}@nack:9", SOTW], "holds 1 NACK"),
        (["diff", f"{SOTW}@yesterday", SOTW], "not a point of a recording"),
        (["diff", SOTW, SOTW, "--name", "("], "not a regular expression"),
        (["diff", SOTW, SOTW, "--type", "Bogus"], "neither side holds that type"),
        (["diff", SOTW, SOTW, "--context", "-1"], "--context"),
        (["snapshot", SOTW, "--node", "nobody"], "no Envoy 'nobody'"),
        (["bundle", SOTW, "-o", "x.tgz", "--around", "soon"], "--around"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_file_that_is_no_snapshot_source_says_what_is_expected(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    for name, text in [("list.json", "[1, 2]"), ("broken.json", '{"configs": [ }'), ("empty.json", "")]:
        (tmp_path / name).write_text(text)
        code, _, err = run(capsys, "snapshot", str(tmp_path / name))
        assert code == 2 and err.startswith("xdsspy: ") and "Traceback" not in err, err


def test_no_redact_warns_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "snapshot", SOTW, "--no-redact")
    assert code == 0 and "WITHOUT redaction" in err


FIXTURES = istio_files.ROOT / "legacy-v2"


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=istio_files.ABSENT)
def test_the_istio_1_5_pair_what_envoy_had_against_what_istiod_would_push(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    """Equal once jsonpb's camelCase and the virtual hosts' order (not meaning) are seen through."""
    envoy = FIXTURES / "sidecar-details-istio1.5.envoy.config_dump.json"
    pilot = FIXTURES / "sidecar-details-istio1.5.pilot.config_dump.json"
    code, out, _ = run(capsys, "diff", str(envoy), str(pilot))
    assert code == 0 and "no differences (4 resource(s) compared)" in out
    assert "(istiod)" in out and "endpoints not compared" in out
    changed = json.loads(pilot.read_text())
    for config in changed["configs"]:
        for entry in config.get("dynamicRouteConfigs", []):
            for vhost in entry["routeConfig"]["virtualHosts"]:
                if vhost["name"] == "allow_any":
                    vhost["routes"][0]["route"]["timeout"] = "15s"
    edited = tmp_path / "pilot.json"
    edited.write_text(json.dumps(changed))
    code, out, _ = run(capsys, "diff", str(envoy), str(edited))
    assert code == 1
    assert "~ routes[8080].virtual_hosts[allow_any].routes[0].route.timeout:" in out, out
