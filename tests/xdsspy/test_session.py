"""The capture supervisor: one mapping of the flags, a real capture child, its recording handed over."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import socket
import sys

import pytest

from xdsspy import addresses
from xdsspy import cli
from xdsspy import model
from xdsspy import session
from xdsspy.capture import grpc_proxy
from xdsspy.record import writer
from xdsspy.testing import processes
from xdsspy.testing import raw_peers


@pytest.fixture
def upstream() -> object:
    port = processes.free_port()
    with processes.started([sys.executable, "-m", "xdsspy.testing.raw_peers", str(port)], port):
        yield port


def _options(listen: int, upstream: int, record: str | None = None) -> session.CaptureOptions:
    return session.CaptureOptions(
        listen=(addresses.parse(f"127.0.0.1:{listen}"),),
        upstream=addresses.parse(f"127.0.0.1:{upstream}"),
        record=record,
    )


def _call(port: int, payload: bytes) -> bytes:
    async def call() -> bytes:
        import grpc.aio

        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=raw_peers.OPTIONS) as channel:
            return await channel.unary_unary("/x.Y/Z")(payload, timeout=10)  # type: ignore[no-any-return]

    return asyncio.run(call())


def test_defaults_are_the_capture_code_s_own() -> None:
    assert session.DEFAULT_MAX_MESSAGE_BYTES == grpc_proxy.DEFAULT_MAX_MESSAGE_BYTES
    assert session.DEFAULT_COMPRESSION_LEVEL == writer.DEFAULT_COMPRESSION_LEVEL
    assert session.DEFAULT_LISTEN == cli.DEFAULT_LISTEN
    assert session.DEFAULT_REST_LISTEN == cli.DEFAULT_REST_LISTEN


@pytest.mark.parametrize(
    "flags",
    [
        ["--upstream", "127.0.0.1:1"],
        ["--upstream", "[::1]:2", "--listen", "unix:/tmp/x.sock", "--listen", "127.0.0.1:3", "--record", "r"],
        ["--rest-upstream", "https://cp.example:8443", "--rest-ca", __file__, "--recorder", "process"],
        ["--upstream", "127.0.0.1:1", "--rest-upstream", "http://127.0.0.1:2", "--max-message-bytes", "5M"],
        ["--upstream", "127.0.0.1:1", "--compression-level", "7", "--max-buffer-bytes", "1k"],
    ],
)
def test_options_round_trip_through_the_child_s_command_line(flags: list[str]) -> None:
    parser = cli.build_parser()
    options = session.CaptureOptions.from_namespace(parser.parse_args(["record", *flags]))
    again = session.CaptureOptions.from_namespace(parser.parse_args(["record", *options.argv()]))
    if options.record is not None:
        assert again.record == os.path.abspath(options.record)
        again = again.__class__(**{**_fields(again), "record": options.record})
    if options.rest_ca is not None:
        assert again.rest_ca == os.path.abspath(options.rest_ca)
    assert _fields(again) == {**_fields(options), "rest_ca": again.rest_ca}


def _fields(options: session.CaptureOptions) -> dict[str, object]:
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


def test_defaults_fill_listen_addresses_only_for_what_is_forwarded() -> None:
    parser = cli.build_parser()
    grpc_only = session.CaptureOptions.from_namespace(parser.parse_args(["record", "--upstream", "h:1"]))
    assert [str(a) for a in grpc_only.listen] == [session.DEFAULT_LISTEN] and grpc_only.rest_listen == ()
    rest_only = session.CaptureOptions.from_namespace(
        parser.parse_args(["record", "--rest-upstream", "http://h:1"])
    )
    assert rest_only.listen == () and [str(a) for a in rest_only.rest_listen] == [session.DEFAULT_REST_LISTEN]


def test_a_temporary_recording_follows_the_capture_and_is_removed_at_the_end(upstream: int) -> None:
    listen = processes.free_port()
    with session.start(_options(listen, upstream), quiet=True) as live:
        assert live.temporary and live.running
        assert live.record.endswith(".xdsspy") and os.path.isfile(live.record)
        assert oct(os.stat(os.path.dirname(live.record)).st_mode & 0o777) == "0o700"
        processes.wait_for_port(listen)
        assert _call(listen, b"through the supervised capture") == b"through the supervised capture"
        live.stop()
        events = list(live.events())
        assert live.wait() == 0
        assert "forwarding" in live.log() and "stopping" in live.log()
        record = live.record
    assert any(
        isinstance(e, model.MessageSeen) and e.raw == b"through the supervised capture" for e in events
    )
    assert isinstance(events[-1], model.CaptureStopped)
    assert not os.path.exists(record) and not os.path.exists(os.path.dirname(record))


def test_a_temporary_recording_is_kept_when_asked(upstream: int) -> None:
    with session.start(_options(processes.free_port(), upstream), quiet=True) as live:
        live.keep = True
        record = live.record
    try:
        assert os.path.isfile(record)
        assert os.listdir(os.path.dirname(record)) == ["live.xdsspy"]  # the log went, the recording stayed
    finally:
        os.remove(record)
        os.rmdir(os.path.dirname(record))


def test_a_named_recording_stays_and_an_old_one_is_replaced(upstream: int, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "named.xdsspy"
    path.write_bytes(b"an earlier session's file")
    with session.start(_options(processes.free_port(), upstream, str(path)), quiet=True) as live:
        assert not live.temporary
        assert live.reader.header.format_version >= 1
    assert path.read_bytes().startswith(b"\x89XDS")


def test_a_capture_that_cannot_listen_fails_with_its_own_words(upstream: int, tmp_path: pathlib.Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(session.CaptureFailed) as failed:
            with session.start(_options(port, upstream, str(tmp_path / "x.xdsspy")), quiet=True):
                pass
    assert failed.value.returncode == 2
    assert f"127.0.0.1:{port}" in str(failed.value)


def test_sigterm_to_the_front_end_stops_the_capture_cleanly(upstream: int) -> None:
    told = []
    before = signal.getsignal(signal.SIGTERM)
    with session.start(
        _options(processes.free_port(), upstream), quiet=True, on_signal=lambda: told.append(1)
    ) as live:
        os.kill(os.getpid(), signal.SIGTERM)
        events = list(live.events())
        assert live.wait() == 0
    assert told == [1] and live.stop_requested
    assert isinstance(events[-1], model.CaptureStopped)
    assert signal.getsignal(signal.SIGTERM) == before  # the front end's own handler is back


def test_the_capture_runs_in_a_session_of_its_own(upstream: int) -> None:
    """Signals the terminal sends the front end's process group (Ctrl-C, Ctrl-Z) never reach the capture."""
    with session.start(_options(processes.free_port(), upstream), quiet=True) as live:
        assert os.getsid(live.process.pid) == live.process.pid != os.getsid(0)
