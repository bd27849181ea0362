"""Replay into real Envoys: the recorded final state in /config_dump, the NACK at the same push, conversions.

Each test records through xdsspy with a real Envoy (or uses the samples the
project recorded that way), runs `xdsspy replay` as a user would, points a
fresh Envoy at it and compares that Envoy's /config_dump, resource by resource
and field by field, with the state decoded from the recording.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import any_pb2
from google.protobuf import json_format

from xdsspy import addresses
from xdsspy.controlplane import resources as cp
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import config_dump
from xdsspy.harness import envoy
from xdsspy.harness import rest
from xdsspy.record import reader
from xdsspy.replay import engine
from xdsspy.replay import observers
from xdsspy.replay import plan as plan_mod
from xdsspy.testing import processes
from xdsspy.testing import sample_recordings

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "recordings"
SOTW, DELTA = bootstrap.ApiType.SOTW, bootstrap.ApiType.DELTA


class Replay:
    """`xdsspy replay FILE --listen ... --report ...` as a child process."""

    def __init__(
        self,
        recording: pathlib.Path,
        workdir: pathlib.Path,
        *argv: str,
        rest_listen: bool = False,
        stdin: int | None = None,
    ):
        self.port = envoy.free_port()
        self.report_path = workdir / "report.json"
        listen = ["--rest-listen" if rest_listen else "--listen", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            processes.xdsspy_command(
                "replay",
                str(recording),
                *listen,
                "--report",
                str(self.report_path),
                "--answer-timeout",
                "25",
                *argv,
            ),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.wait_for_port(self.port, self.process)  # type: ignore[arg-type]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def finish(self, timeout: float = 120, keys: str | None = None) -> tuple[int, str, dict[str, Any]]:
        out, err = self.process.communicate(keys, timeout=timeout)
        assert "Traceback" not in err, err
        return self.process.returncode, out, json.loads(self.report_path.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            processes.stop(self.process)  # type: ignore[arg-type]


@pytest.fixture
def replays() -> Iterator[list[Replay]]:
    started: list[Replay] = []
    yield started
    for replay in started:
        replay.stop()


def fresh_envoy(
    address: str, workdir: pathlib.Path, binary: str, api: bootstrap.ApiType, node: str = "fresh"
) -> envoy.Envoy:
    options = bootstrap.BootstrapOptions(
        xds=addresses.parse(address), node_id=node, api_type=api, initial_fetch_timeout_s=2.0
    )
    return envoy.Envoy(options, workdir, binary=binary).start()


def held_by(proc: envoy.Envoy) -> dict[str, dict[str, bytes]]:
    """What an Envoy's /config_dump says it holds, serialised (comparable with a recording)."""
    dump = proc.config_dump()
    found = {
        cp.CLUSTER: {n: e["cluster"] for n, e in config_dump.clusters(dump).items()},
        cp.LISTENER: {n: e["listener"] for n, e in config_dump.listeners(dump).items()},
        cp.ROUTE: {n: e["route_config"] for n, e in config_dump.route_configs(dump).items()},
        cp.ENDPOINT: {n: e["endpoint_config"] for n, e in config_dump.endpoint_configs(dump).items()},
    }
    return {
        t: {n: _canonical(json_format.ParseDict(js, any_pb2.Any())) for n, js in by_name.items()}
        for t, by_name in found.items()
    }


def _canonical(packed: Any) -> bytes:
    return bytes(packed.value)


def recorded(state: dict[str, dict[str, bytes]]) -> dict[str, dict[str, bytes]]:
    """A recorded state in the same canonical form as held_by (parsed and serialised again)."""
    out: dict[str, dict[str, bytes]] = {}
    for type_url, by_name in state.items():
        for name, raw in by_name.items():
            packed = any_pb2.Any(type_url=type_url, value=raw)
            out.setdefault(type_url, {})[name] = _canonical(
                json_format.ParseDict(json_format.MessageToDict(packed), any_pb2.Any())
            )
    return out


def assert_holds(proc: envoy.Envoy, wanted: dict[str, dict[str, bytes]]) -> None:
    """The Envoy holds exactly these clusters, listeners and routes, byte for byte once serialised, and
    these endpoints (Envoy's endpoint dump is its own view, defaults filled in: compared by address)."""
    held, expected = held_by(proc), recorded(wanted)
    for type_url in (cp.CLUSTER, cp.LISTENER, cp.ROUTE):
        got, want = held.get(type_url, {}), expected.get(type_url, {})
        assert sorted(got) == sorted(want), type_url
        for name, value in want.items():
            assert got[name] == value, f"{type_url} {name} differs from the recording"
    dump = config_dump.endpoint_configs(proc.config_dump())
    for name, raw in wanted.get(cp.ENDPOINT, {}).items():
        recorded_json = json_format.MessageToDict(
            any_pb2.Any(type_url=cp.ENDPOINT, value=raw), preserving_proto_field_name=True
        )
        assert config_dump.endpoint_addresses(
            dump[name]["endpoint_config"]
        ) == config_dump.endpoint_addresses(recorded_json), name


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def final_state(path: pathlib.Path) -> dict[str, dict[str, bytes]]:
    p = plan_mod.build(reader.iter_events(path))
    return p.state_at(p.last_seq)


@pytest.fixture(scope="module")
def sotw_recording(tmp_path_factory: pytest.TempPathFactory, envoy_binary: str) -> pathlib.Path:
    """A session recorded in this run: a real Envoy through `xdsspy record`, updates and one NACK."""
    workdir = tmp_path_factory.mktemp("record")
    path = workdir / "session.xdsspy"
    sample_recordings.record(path, SOTW, workdir)
    return path


def test_a_sotw_session_replays_into_a_fresh_envoy_exactly(
    sotw_recording: pathlib.Path, tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]
) -> None:
    replay = Replay(sotw_recording, tmp_path)
    replays.append(replay)
    proc = fresh_envoy(replay.address, tmp_path / "envoy", envoy_binary, SOTW)
    try:
        code, out, report = replay.finish()
        assert code == 0, out
        assert "reproduced:" in out
        nacked = [p for p in report["pushes"] if p["fresh"]["answer"] == "nack"]
        assert len(nacked) == 1 and nacked[0]["recorded"]["answer"] == "nack"
        assert "Invalid duration" in nacked[0]["fresh"]["error"]
        assert_holds(proc, final_state(sotw_recording))
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("recording", "api"),
    [("delta-nack.xdsspy", DELTA), ("delta-nack.xdsspy", SOTW), ("sotw-nack.xdsspy", DELTA)],
    ids=["delta-to-delta", "delta-to-sotw", "sotw-to-delta"],
)
def test_delta_and_conversions_reach_the_recorded_state(
    recording: str, api: bootstrap.ApiType, tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]
) -> None:
    path = RECORDINGS / recording
    replay = Replay(path, tmp_path)
    replays.append(replay)
    proc = fresh_envoy(replay.address, tmp_path / "envoy", envoy_binary, api)
    try:
        code, out, report = replay.finish()
        assert code == 0, out
        assert report["pushes"][-1]["fresh"]["answer"] == "nack"  # the same push, the same error
        assert_holds(proc, final_state(path))
    finally:
        proc.stop()


def test_the_state_at_an_event(tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]) -> None:
    path = RECORDINGS / "sotw-nack.xdsspy"
    replay = Replay(path, tmp_path, "--at", "14")
    replays.append(replay)
    proc = fresh_envoy(replay.address, tmp_path / "envoy", envoy_binary, SOTW)
    try:
        code, out, _ = replay.finish()
        assert code == 0, out
        p = plan_mod.build(reader.iter_events(path))
        assert_holds(proc, p.state_at(14))
        assert "payments" not in held_by(proc)[cp.CLUSTER]  # it came later
    finally:
        proc.stop()


def test_a_rest_recording_replays_to_a_rest_envoy(
    tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]
) -> None:
    path = RECORDINGS / "rest-reject.xdsspy"
    replay = Replay(path, tmp_path, rest_listen=True)
    replays.append(replay)
    options = rest.RestBootstrapOptions(
        server=addresses.parse(replay.address), node_id="fresh-rest", refresh_delay_s=0.3
    )
    proc = rest.RestEnvoy(options, tmp_path / "envoy", binary=envoy_binary).start()
    try:
        code, out, report = replay.finish()
        assert code == 0, out
        answers = [(p["recorded"]["answer"], p["fresh"]["answer"]) for p in report["pushes"]]
        assert ("nack", "nack") in answers  # the rejected push, inferred from the next poll both times
        held = held_by(proc)
        assert sorted(held[cp.CLUSTER]) == ["rest-a", "rest-b"]  # the version before the rejected one
    finally:
        proc.stop()


def test_an_envoy_that_reconnects_mid_replay_gets_the_rest(tmp_path: pathlib.Path, envoy_binary: str) -> None:
    path = RECORDINGS / "sotw-nack.xdsspy"
    p = plan_mod.build(reader.iter_events(path))
    with server.ControlPlane("127.0.0.1:0", keep_messages=False) as control_plane:
        first = fresh_envoy(control_plane.address, tmp_path / "first", envoy_binary, SOTW)
        restarted: list[envoy.Envoy] = []

        def on_served(served: engine.Served) -> None:
            # Settled when push 5 (CDS again) is due: Envoy goes away mid-replay, and a new one comes.
            if served.push.number == 1 and not restarted:
                first.stop()
                restarted.append(fresh_envoy(control_plane.address, tmp_path / "second", envoy_binary, SOTW))

        observer = observers.GrpcObserver(control_plane)
        try:
            result = engine.Engine(observer, answer_timeout=25, on_served=on_served).run(p.pushes)
            assert [s.fresh.kind for s in result][-1] == "nack"
            assert restarted and observer.reconnects() >= 1
            assert_holds(restarted[0], p.state_at(p.last_seq))
        finally:
            first.stop()
            for proc in restarted:
                proc.stop()


def test_two_envoys_on_one_replay(tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]) -> None:
    path = RECORDINGS / "sotw-nack.xdsspy"
    replay = Replay(path, tmp_path, "--mode", "step", stdin=subprocess.PIPE)
    replays.append(replay)
    one = fresh_envoy(replay.address, tmp_path / "one", envoy_binary, SOTW, node="one")
    two = fresh_envoy(replay.address, tmp_path / "two", envoy_binary, SOTW, node="two")
    try:
        for proc in (one, two):  # both connected before the first push (step mode waits for Enter)
            wait_until(lambda p=proc: p.stats("control_plane").get("control_plane.connected_state") == 1)
        code, out, report = replay.finish(keys="\n" * 8)  # Enter for every push
        assert code == 0, out
        assert {report["fresh_node"], *report["others"]} == {"one", "two"} and len(report["others"]) == 1
        assert "also served (not compared)" in out and "next: push 8" in out
        for proc in (one, two):
            assert_holds(proc, final_state(path))  # both were served the same pushes
    finally:
        one.stop()
        two.stop()


def test_a_replay_behind_xdsspy_is_recorded_like_any_session(
    tmp_path: pathlib.Path, envoy_binary: str, replays: list[Replay]
) -> None:
    path = RECORDINGS / "sotw-nack.xdsspy"
    replay = Replay(path, tmp_path)
    replays.append(replay)
    listen = envoy.free_port()
    again = tmp_path / "again.xdsspy"
    command = processes.xdsspy_command(
        "record", "--listen", f"127.0.0.1:{listen}", "--upstream", replay.address, "--record", str(again)
    )
    with processes.started(command, listen):
        proc = fresh_envoy(f"127.0.0.1:{listen}", tmp_path / "envoy", envoy_binary, SOTW)
        try:
            code, out, _ = replay.finish()
            assert code == 0, out
        finally:
            proc.stop()
    recorded_again = plan_mod.build(reader.iter_events(again))
    original = plan_mod.build(reader.iter_events(path))
    assert [(x.service, x.original.kind) for x in recorded_again.pushes if x.set or x.removed][-1] == (
        "Cluster",
        "nack",
    )
    assert recorded_again.state_at(recorded_again.last_seq) == original.state_at(original.last_seq)


def test_a_replay_nobody_connects_to_says_so(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        processes.xdsspy_command(
            "replay",
            str(RECORDINGS / "sotw-nack.xdsspy"),
            "--listen",
            f"127.0.0.1:{envoy.free_port()}",
            "--wait-envoy",
            "0.5",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "no Envoy connected within 0.5 s" in done.stderr
