"""The command line as a user runs it: separate processes, real signals, real files."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from xdsspy import cli
from xdsspy import model
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.testing import processes
from xdsspy.testing import raw_peers
from xdsspy.testing import user_types


@pytest.fixture
def upstream() -> object:
    port = processes.free_port()
    with processes.started([sys.executable, "-m", "xdsspy.testing.raw_peers", str(port)], port):
        yield port


@pytest.mark.parametrize("victims", ["capture", "capture-and-recorder"])
def test_kill_9_mid_push_keeps_every_completed_record(
    upstream: int, tmp_path: pathlib.Path, victims: str
) -> None:
    """kill -9 of xdsspy mid-push: every completed record reads back, a torn tail is named, no traceback.

    Killing only the capture process leaves the recorder process to finish the
    file; killing both (the whole process group we started) can tear the last block.
    """
    listen = processes.free_port()
    path = tmp_path / "crash.xdsspy"
    capture = subprocess.Popen(
        processes.xdsspy_command(*_capture_args("record", listen, upstream, path)),
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def kill() -> None:
        if victims == "capture":
            os.kill(capture.pid, signal.SIGKILL)
        else:
            os.killpg(capture.pid, signal.SIGKILL)  # our own new session: capture + recorder

    try:
        processes.wait_for_port(listen, capture)

        async def push_until_killed() -> int:
            received = 0
            try:
                async with raw_peers_channel(listen) as channel:
                    call = channel.stream_stream("/bench.Bench/Push")()
                    await call.write(b"100000,300000")  # far more than arrives before the kill
                    await call.done_writing()
                    async for _ in call:
                        received += 1
                        if received == 200:
                            # The relay forwards before it records, so on a busy machine the
                            # first responses can still be in flight inside the capture
                            # process; kill once one is on disk, so that there is a record
                            # whose survival to check.
                            _wait_for_a_response_on_disk(path)
                            kill()
            except Exception:
                pass
            return received

        received = asyncio.run(push_until_killed())
        assert received >= 200
    finally:
        processes.stop(capture, signal.SIGKILL)
    if victims == "capture":
        _wait_for_recorder_to_finish(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with reader.RecordingReader(path) as r:
        events = list(r.events())
        problems = r.problems
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "every record before the kill reads back, in order"
    responses = [
        e for e in events if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    ]
    assert len(responses) >= 1
    for index, event in enumerate(responses):
        assert event.raw == raw_peers.payload(300000, index), f"response {index} is intact"
    assert all(p.kind == "truncated_tail" for p in problems), problems
    # The CLI reports the torn tail by offset, without a traceback.
    done = subprocess.run(processes.xdsspy_command("export", str(path)), capture_output=True, text=True)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) == len(events)
    for problem in problems:
        assert f"byte {problem.offset}" in done.stderr


def _wait_for_a_response_on_disk(path: pathlib.Path) -> None:
    for _ in range(200):  # up to ~10 s
        if path.exists():
            with reader.RecordingReader(path) as r:
                if any(
                    isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
                    for e in r.events()
                ):
                    return
        time.sleep(0.05)


def _wait_for_recorder_to_finish(path: pathlib.Path) -> None:
    """The orphaned recorder drains its socket and closes the file; wait until the size settles."""
    last = -1
    for _ in range(100):
        size = path.stat().st_size
        if size == last:
            return
        last = size
        time.sleep(0.2)


def _record_in_background(listen: int, upstream: int, path: pathlib.Path) -> subprocess.Popen[str]:
    """`xdsspy record` in a session of its own (signals reach it only from the test), its stderr kept."""
    return subprocess.Popen(
        processes.xdsspy_command(*_capture_args("record", listen, upstream, path)),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_line(
    lines: list[str], text: str, process: subprocess.Popen[str], timeout: float = 20.0
) -> None:
    """Until a line holding text has been read into lines (by another thread), within timeout."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert process.poll() is None, f"exited ({process.returncode}) before saying {text!r}: {lines}"
        assert time.monotonic() < deadline, f"{text!r} not said within {timeout:g} s: {lines}"
        time.sleep(0.05)


def _capture_args(command: str, listen: int, upstream: int, path: pathlib.Path) -> list[str]:
    """`xdsspy record`, or `xdsspy proxy --headless`, between loopback ports, recording to path."""
    return [
        command,
        *(["--headless"] if command == "proxy" else []),
        "--listen",
        f"127.0.0.1:{listen}",
        "--upstream",
        f"127.0.0.1:{upstream}",
        "--record",
        str(path),
    ]


def raw_peers_channel(port: int):  # type: ignore[no-untyped-def]
    import grpc.aio

    return grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=raw_peers.OPTIONS)


def test_proxy_headless_prints_a_line_per_message_and_records(upstream: int, tmp_path: pathlib.Path) -> None:
    listen = processes.free_port()
    path = tmp_path / "live.xdsspy"
    proxy = subprocess.Popen(
        processes.xdsspy_command(*_capture_args("proxy", listen, upstream, path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        processes.wait_for_port(listen, proxy)  # type: ignore[arg-type]

        import grpc.aio

        async def echo() -> None:
            async with raw_peers_channel(listen) as channel:
                call = channel.stream_stream(
                    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
                )()
                for size in (10, 20_000):
                    await call.write(b"q" * size)
                    await call.read()
                await call.done_writing()
                assert await call.read() is grpc.aio.EOF

        asyncio.run(echo())
        time.sleep(0.3)
    finally:
        processes.stop(proxy, signal.SIGINT)  # type: ignore[arg-type]
    out, err = proxy.communicate()
    assert proxy.returncode == 0, err
    lines = [line for line in out.splitlines() if "StreamAggregatedResources" in line]
    assert any(" → " in line and "10 B" in line for line in lines), out
    assert any(" ← " in line and "20.0 kB" in line for line in lines), out
    assert any("close" in line and "OK" in line for line in lines), out
    assert "capture stopped" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_writes_the_documented_fields(upstream: int, tmp_path: pathlib.Path) -> None:
    listen = processes.free_port()
    path = tmp_path / "e.xdsspy"
    with processes.started(
        processes.xdsspy_command(*_capture_args("record", listen, upstream, path)),
        listen,
    ) as capture:

        async def one() -> None:
            async with raw_peers_channel(listen) as channel:
                await channel.unary_unary("/x.Y/Z")(
                    b"\x00hello", metadata=(("authorization", "Bearer s3cret"),)
                )

        asyncio.run(one())
        processes.stop(capture, signal.SIGINT)
    out = tmp_path / "e.jsonl"
    done = subprocess.run(
        processes.xdsspy_command("export", str(path), "--format", "jsonl", "-o", str(out)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    masked = [json.loads(line) for line in out.read_text().splitlines()]
    opened = next(row for row in masked if row["event"] == "open")
    assert ["authorization", "Bearer s3cret"] not in opened["metadata"]
    assert any(k == "authorization" and v.startswith("Bearer [redacted:") for k, v in opened["metadata"])
    done = subprocess.run(
        processes.xdsspy_command("export", str(path), "--format", "jsonl", "-o", str(out), "--no-redact"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "WITHOUT redaction" in done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert {"seq", "time", "connection", "stream", "event"} <= row.keys()
        assert row["time"].endswith("Z") and "T" in row["time"]
    by_event = {row["event"]: row for row in rows}
    assert by_event["open"]["method"] == "/x.Y/Z"
    assert ["authorization", "Bearer s3cret"] in by_event["open"]["metadata"]
    messages = [row for row in rows if row["event"] == "message"]
    assert [m["direction"] for m in messages] == ["request", "response"]
    import base64

    assert base64.b64decode(messages[0]["raw"]) == b"\x00hello"
    assert by_event["close"]["status"] == {"code": 0, "name": "OK", "details": ""}


def test_bad_files_get_one_clear_line_and_exit_2(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.xdsspy"
    bad.write_text("{not a recording}")
    done = subprocess.run(processes.xdsspy_command("export", str(bad)), capture_output=True, text=True)
    assert done.returncode == 2
    assert "not an xdsspy recording" in done.stderr and "Traceback" not in done.stderr


def test_bad_addresses_are_rejected_by_the_parser() -> None:
    done = subprocess.run(
        processes.xdsspy_command("record", "--listen", "::1:80", "--upstream", "127.0.0.1:1"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "brackets" in done.stderr


RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "recordings"
SOTW = str(RECORDINGS / "sotw-nack.xdsspy")


def _xdsspy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(processes.xdsspy_command(*args), capture_output=True, text=True, timeout=60)


def test_show_prints_a_timeline_with_the_nack_named() -> None:
    done = _xdsspy("show", SOTW)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 25, "one line per event"
    nack = next(line for line in lines if " NACK " in line)
    assert "sample-sotw → Cluster" in nack and "Invalid duration" in nack and "rejected: static-svc" in nack
    assert "\x1b[" not in done.stdout, "no colour codes when piped"


def test_show_filters() -> None:
    nacks = _xdsspy("show", SOTW, "--nacks").stdout.splitlines()
    assert len(nacks) == 2 and " NACK " in nacks[0] and "rejected #22 Cluster" in nacks[1]
    listeners = _xdsspy("show", SOTW, "--type", "Listener").stdout.splitlines()
    assert [line.split()[0] for line in listeners] == ["#2", "#8", "#10", "#12", "#24"]
    node = _xdsspy("show", SOTW, "--node", "sample-sotw", "--type", "envoy.config.cluster.v3.Cluster")
    assert len(node.stdout.splitlines()) == 9 and node.returncode == 0
    nobody = _xdsspy("show", SOTW, "--node", "nobody")
    assert nobody.returncode == 0 and nobody.stdout == ""
    assert "no message from node 'nobody' (nodes seen: sample-sotw)" in nobody.stderr
    expression = _xdsspy("show", SOTW, "--filter", "~t cds & (~nack | ~n static)").stdout.splitlines()
    messages = [line for line in expression if " → " in line or " ← " in line]
    assert messages and all("Cluster" in line for line in messages)
    assert any(" NACK " in line for line in messages)


def test_a_bad_filter_expression_is_shown_where_it_is_wrong() -> None:
    done = _xdsspy("show", SOTW, "--filter", "~t cds & ~bogus")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("xdsspy: --filter: unknown filter ~bogus") and "Traceback" not in done.stderr
    assert lines[1:] == ["  ~t cds & ~bogus", "           ^"]


def test_show_of_a_truncated_copy_prints_everything_intact_and_names_the_damage(
    tmp_path: pathlib.Path,
) -> None:
    whole = _xdsspy("show", SOTW).stdout.splitlines()
    data = pathlib.Path(SOTW).read_bytes()
    torn = tmp_path / "torn.xdsspy"
    torn.write_bytes(data[: len(data) - 30])  # the kill -9 case: the last block is cut short
    with reader.RecordingReader(torn) as r:
        intact = list(r.events())
        problems = r.problems
    assert len(problems) == 1 and 20 <= len(intact) < 25
    done = _xdsspy("show", str(torn))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stdout.splitlines() == whole[: len(done.stdout.splitlines())]
    assert done.stdout.splitlines()[-1].split()[0] == f"#{intact[-1].seq}"
    assert f"byte {problems[0].offset}" in done.stderr and "incomplete block" in done.stderr


def test_show_follow_prints_each_event_as_the_recording_grows(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "growing.xdsspy"
    events = list(reader.iter_events(SOTW))
    w = writer.RecordingWriter(path, linger_s=0)
    for event in events[:4]:
        w.publish(event)
    show = subprocess.Popen(
        processes.xdsspy_command("show", str(path), "--follow"), stdout=subprocess.PIPE, text=True
    )
    try:
        assert show.stdout is not None
        seen = [show.stdout.readline() for _ in range(4)]  # printed before the file grows any further
        assert seen[-1].startswith("#4 ") and " PUSH " in seen[-1]
        for event in events[4:]:
            w.publish(event)
        w.close()
        rest, _ = show.communicate(timeout=30)  # ends at capture_stop
    finally:
        if show.poll() is None:
            show.kill()
    assert show.returncode == 0
    assert " NACK " in rest and "capture stopped" in rest.splitlines()[-1]


def test_export_decode_adds_envelopes_verdicts_and_bodies(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "d.jsonl"
    done = _xdsspy("export", SOTW, "--decode", "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    nack = next(r for r in rows if r.get("verdict", {}).get("kind") == "nack")
    assert nack["verdict"]["rule"] == "error_detail present" and nack["verdict"]["answers_seq"] == 22
    assert "Invalid duration" in nack["error_detail"]["message"]
    first = next(r for r in rows if r["seq"] == 4)
    assert first["version_info"] == "1" and first["nonce"] and first["node"]["id"] == "sample-sotw"
    assert {r["name"]: r["body"]["connect_timeout"] for r in first["resources"]} == {
        "backend": "1s",
        "static-svc": "1s",
    }
    plain = _xdsspy("export", SOTW).stdout.splitlines()
    assert [json.loads(line) for line in plain] == [
        {k: v for k, v in row.items() if k in json.loads(line)} for row, line in zip(rows, plain, strict=True)
    ]
    assert "verdict" not in plain[3], "without --decode the export is as it always was"


def test_protoset_and_proto_path_make_a_schemaless_type_typed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "widget.xdsspy"
    user_types.write_widget_recording(path)

    def widget(*args: str) -> dict[str, object]:
        done = _xdsspy("export", str(path), "--decode", *args)
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        resource: dict[str, object] = next(r for r in rows if "resources" in r)["resources"][0]
        return resource

    assert widget()["status"] == "schemaless"
    protoset = tmp_path / "widget.protoset"
    protoset.write_bytes(user_types.tprotoset().SerializeToString())
    typed = widget("--protoset", str(protoset))
    assert typed["status"] == "typed" and typed["body"] == user_types.WIDGET_JSON
    shown = _xdsspy("show", str(path), "--protoset", str(protoset), "--type", "Widget")
    assert shown.returncode == 0 and "widget-node ← Widget" in shown.stdout
    pytest.importorskip("grpc_tools")
    protos = tmp_path / "protos"
    (protos / "xdsspy_test").mkdir(parents=True)
    (protos / user_types.PROTO_NAME).write_text(user_types.PROTO_SOURCE)
    assert widget("--proto-path", str(protos))["body"] == user_types.WIDGET_JSON


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["show", SOTW, "--protoset", "/nonexistent.protoset"], "cannot read protoset"),
        (["export", SOTW, "--decode", "--proto-path", "/nonexistent"], "not a directory"),
        (["show", SOTW, "--protoset", SOTW], "is not a FileDescriptorSet"),
        (["proxy", "--upstream", "127.0.0.1:1", "--protoset", "/nonexistent"], "cannot read protoset"),
        (["export", SOTW, "--no-redact", "--protoset", "x"], "are for --decode"),
    ],
)
def test_bad_schemas_give_one_line_and_exit_2(args: list[str], error: str) -> None:
    done = _xdsspy(*args)
    assert done.returncode == 2 and error in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    if args[0] != "export" or "--decode" in args:
        assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ((), "nothing to forward"),
        (("--rest-listen", "127.0.0.1:1"), "nothing to forward"),
        (
            ("--upstream", "127.0.0.1:1", "--rest-listen", "127.0.0.1:2"),
            "--rest-listen needs --rest-upstream",
        ),
        (("--rest-upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:2"), "--listen is for gRPC"),
        (("--rest-upstream", "http://127.0.0.1:1", "--rest-ca", "/etc/hostname"), "https://"),
        (("--rest-upstream", "https://127.0.0.1:1", "--rest-ca", "/nonexistent.pem"), "no such file"),
        (("--rest-upstream", "127.0.0.1:1"), "must start with http:// or https://"),
    ],
)
def test_capture_arguments_are_checked_before_anything_starts(args: tuple[str, ...], complaint: str) -> None:
    for command in ("record", "proxy"):
        done = subprocess.run(processes.xdsspy_command(command, *args), capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert complaint in done.stderr and "Traceback" not in done.stderr


def test_a_crashing_front_end_never_stops_forwarding(upstream: int, tmp_path: pathlib.Path) -> None:
    """The proxy's front end fails on its first event: Envoy's streams and the recording go on."""
    listen = processes.free_port()
    path = tmp_path / "crash.xdsspy"
    wrapper = (
        "import sys\n"
        "from xdsspy import cli\n"
        "from xdsspy.frontends import headless\n"
        "def broken(events, out, **kw):\n"
        "    next(iter(events))\n"
        "    raise RuntimeError('renderer bug')\n"
        "headless.print_events = broken\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    proxy = subprocess.Popen(
        [sys.executable, "-c", wrapper, *_capture_args("proxy", listen, upstream, path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        processes.wait_for_port(listen, proxy)  # type: ignore[arg-type]
        time.sleep(0.5)  # the front end has read the first event and failed by now

        async def call() -> bytes:
            async with raw_peers_channel(listen) as channel:
                return await channel.unary_unary("/x.Y/Z")(b"still here", timeout=10)  # type: ignore[no-any-return]

        assert asyncio.run(call()) == b"still here"
        assert proxy.poll() is None
    finally:
        processes.stop(proxy, signal.SIGINT)  # type: ignore[arg-type]
    _, err = proxy.communicate()
    assert "renderer bug" in err and "forwarding and recording" in err
    events = list(reader.iter_events(path))
    assert any(isinstance(e, model.MessageSeen) and e.raw == b"still here" for e in events)
    assert isinstance(events[-1], model.CaptureStopped)


@pytest.mark.parametrize("flag", ["--listen", "--rest-listen"])
def test_listening_where_other_machines_reach_needs_allow_remote(flag: str) -> None:
    upstream = (
        ["--upstream", "127.0.0.1:1"] if flag == "--listen" else ["--rest-upstream", "http://127.0.0.1:1"]
    )
    done = subprocess.run(
        processes.xdsspy_command("record", flag, "0.0.0.0:0", *upstream),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (
        done.returncode == 2
        and "reachable from other machines" in done.stderr
        and "--allow-remote" in done.stderr
    )


def test_allow_remote_is_passed_on_to_the_capture_process() -> None:
    from xdsspy import session

    args = cli.build_parser().parse_args(
        ["proxy", "--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:1", "--allow-remote"]
    )
    assert "--allow-remote" in session.CaptureOptions.from_namespace(args).argv()


def test_upstream_tls_flags_are_checked_and_passed_on(tmp_path: pathlib.Path) -> None:
    from xdsspy import session

    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    parser = cli.build_parser()
    base = ["proxy", "--upstream", "istiod.istio-system.svc:15012"]
    args = parser.parse_args(
        [*base, "--upstream-tls", "--upstream-ca", str(ca), "--upstream-server-name", "istiod"]
    )
    argv = session.CaptureOptions.from_namespace(args).argv()
    assert "--upstream-tls" in argv and str(ca) in argv and "istiod" in argv
    for bad, message in (
        (["--upstream-ca", str(ca)], "need --upstream-tls"),
        (["--upstream-tls", "--upstream-ca", str(tmp_path / "nope.pem")], "no such file"),
    ):
        done = subprocess.run(
            processes.xdsspy_command("record", *base[1:], *bad), capture_output=True, text=True
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr


@pytest.fixture
def small_tmpfs(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 2 MB tmpfs: a real filesystem that fills up (needs root to mount; skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_filesystem_keeps_forwarding_and_the_recording_says_what_is_missing(
    upstream: int, small_tmpfs: pathlib.Path
) -> None:
    """Issue 14, point 3, on a real full filesystem: every response still reaches the client, xdsspy
    says loudly that it drops records, and once space is back a Gap record says exactly what is missing."""
    filler = small_tmpfs / "filler"
    filler.write_bytes(b"\0" * (1984 << 10))  # leave about 64 kB for the recording
    path = small_tmpfs / "full.xdsspy"
    listen = processes.free_port()
    capture = _record_in_background(listen, upstream, path)
    said: list[str] = []
    listening = threading.Thread(target=lambda: said.extend(iter(capture.stderr.readline, "")), daemon=True)
    listening.start()
    try:
        processes.wait_for_port(listen, capture)

        async def push() -> int:
            received = 0
            async with raw_peers_channel(listen) as channel:
                call = channel.stream_stream("/bench.Bench/Push")()
                await call.write(b"400,100000")  # 40 MB of pushes: about 230 kB on disk, far past 64 kB
                await call.done_writing()
                async for _ in call:
                    received += 1
            return received

        assert asyncio.run(push()) == 400  # forwarding never waited for the disk
        # The writer may not have written yet: free the space only once it has found the disk full.
        _wait_for_line(said, "No space left on device", capture)
        filler.unlink()  # space again: the writer's next retry reports the gap
        time.sleep(1.5)
        capture.send_signal(signal.SIGINT)
        capture.wait(30)
    finally:
        processes.stop(capture, signal.SIGKILL)
        listening.join(10)
    err = "".join(said)
    assert "DROPPED" in err and "No space left on device" in err, err
    gaps = [e for e in reader.iter_events(path) if isinstance(e, model.Gap)]
    assert gaps and sum(g.records_lost for g in gaps) > 0
    assert all("No space left on device" in g.reason for g in gaps)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_stream_closes_the_stream_and_finishes_the_recording(
    upstream: int, tmp_path: pathlib.Path, signum: int
) -> None:
    """Issue 14, point 3: an open bidi stream when the signal comes is closed with the cause recorded,
    the recording ends with CaptureStopped, and the exit status is 0."""
    import grpc.aio  # as raw_peers_channel does: this module's other tests need no grpc

    listen = processes.free_port()
    path = tmp_path / "signal.xdsspy"
    capture = _record_in_background(listen, upstream, path)
    try:
        processes.wait_for_port(listen, capture)

        async def open_stream_then_signal() -> str:
            async with raw_peers_channel(listen) as channel:
                call = channel.stream_stream("/test.Echo/Chat")()
                await call.write(b"hello")
                await call.read()  # the stream is open both ways, and recorded
                for _ in range(100):
                    if path.exists() and any(
                        isinstance(e, model.MessageSeen) for e in reader.iter_events(path)
                    ):
                        break
                    await asyncio.sleep(0.05)
                capture.send_signal(signum)
                try:
                    await call.read()
                except grpc.aio.AioRpcError as e:
                    return e.code().name
                return "ended"

        ended = asyncio.run(open_stream_then_signal())
        code = capture.wait(timeout=30)
        err = capture.stderr.read() if capture.stderr else ""
    finally:
        processes.stop(capture, signal.SIGKILL)
    assert code == 0, err
    assert ended in ("UNAVAILABLE", "CANCELLED", "ended", "INTERNAL"), ended
    events = list(reader.iter_events(path))
    closed = [e for e in events if isinstance(e, model.StreamClosed)]
    assert closed and closed[-1].cause == model.CloseCause.PROXY_SHUTDOWN
    assert isinstance(events[-1], model.CaptureStopped)
