"""Supervises one capture: runs `xdsspy record` as a child process and hands its growing recording over.

Every front end of `xdsspy proxy` (the line printer, the terminal UI) is a
follower of the recording the capture process writes, never a part of it:
`start()` launches the capture (in a session of its own, so a signal meant
for the front end's terminal cannot reach it), waits until the recording's
header is on disk, forwards SIGINT and SIGTERM to it as a clean stop, and on
exit stops it and removes a temporary recording unless asked to keep it.
`CaptureOptions` is the one mapping of the capture flags: the command line
builds it (`from_namespace`), and it gives the child its command line back
(`argv`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import IO
from typing import TYPE_CHECKING

from xdsspy import addresses
from xdsspy import errors
from xdsspy import model
from xdsspy.capture import tlsconfig

if TYPE_CHECKING:
    from xdsspy.record import reader as reader_mod

DEFAULT_LISTEN = "127.0.0.1:15010"
DEFAULT_REST_LISTEN = "127.0.0.1:15011"
DEFAULT_MAX_MESSAGE_BYTES = 1 << 30
"""= capture.grpc_proxy.DEFAULT_MAX_MESSAGE_BYTES (tested): the front end loads no capture code."""
DEFAULT_COMPRESSION_LEVEL = 2
"""record.writer.DEFAULT_COMPRESSION_LEVEL, likewise."""
DEFAULT_MAX_BUFFER_BYTES = 1 << 30
HEADER_TIMEOUT_S = 30.0
"""How long a file at the recording's path may stay without a complete header before it is not ours."""


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What to forward: gRPC (listen -> upstream), REST (rest_listen -> rest_upstream), or both."""

    listen: tuple[addresses.Address, ...]
    upstream: addresses.Address | None  # None: no gRPC proxy
    record: str | None = None
    rest_listen: tuple[addresses.Address, ...] = ()
    rest_upstream: str | None = None  # http:// or https:// URL; None: no REST proxy
    rest_ca: str | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    recorder: str = "thread"  # or "process": see docs/performance.md
    allow_remote: bool = False  # listening where other machines reach it was asked for explicitly
    upstream_tls: tlsconfig.ClientTls | None = None  # TLS (or mTLS) to the gRPC control plane
    listen_tls: tlsconfig.ServerTls | None = None  # Envoy dials xdsspy's gRPC listener over TLS (or mTLS)

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> CaptureOptions:
        """The options of parsed capture flags (cli._add_capture_arguments), defaults filled in."""
        listen: tuple[addresses.Address, ...] = ()
        if args.upstream is not None:
            listen = tuple(args.listen or [addresses.parse(DEFAULT_LISTEN)])
        rest_listen: tuple[addresses.Address, ...] = ()
        if args.rest_upstream is not None:
            rest_listen = tuple(args.rest_listen or [addresses.parse(DEFAULT_REST_LISTEN)])
        return cls(
            listen=listen,
            upstream=args.upstream,
            record=getattr(args, "record", None),
            rest_listen=rest_listen,
            rest_upstream=args.rest_upstream,
            rest_ca=args.rest_ca,
            max_message_bytes=args.max_message_bytes,
            compression_level=args.compression_level,
            max_buffer_bytes=args.max_buffer_bytes,
            recorder=args.recorder,
            allow_remote=getattr(args, "allow_remote", False),
            upstream_tls=_upstream_tls(args),
            listen_tls=(
                tlsconfig.ServerTls(args.tls_cert, args.tls_key, args.tls_client_ca)
                if getattr(args, "tls_cert", None)
                else None
            ),
        )

    def argv(self) -> list[str]:
        """The `xdsspy record` arguments that mean these options (paths made absolute)."""
        out = []
        if self.record is not None:
            out += ["--record", os.path.abspath(self.record)]
        if self.upstream is not None:
            out += ["--upstream", str(self.upstream)]
        if self.allow_remote:
            out.append("--allow-remote")
        if self.upstream_tls is not None:
            out.append("--upstream-tls")
            for flag, value in (
                ("--upstream-ca", self.upstream_tls.ca),
                ("--upstream-cert", self.upstream_tls.cert),
                ("--upstream-key", self.upstream_tls.key),
            ):
                if value:
                    out += [flag, os.path.abspath(value)]
            if self.upstream_tls.server_name:
                out += ["--upstream-server-name", self.upstream_tls.server_name]
        if self.listen_tls is not None:
            out += [
                "--tls-cert",
                os.path.abspath(self.listen_tls.cert),
                "--tls-key",
                os.path.abspath(self.listen_tls.key),
            ]
            if self.listen_tls.client_ca:
                out += ["--tls-client-ca", os.path.abspath(self.listen_tls.client_ca)]
        for address in self.listen:
            out += ["--listen", str(address)]
        if self.rest_upstream is not None:
            out += ["--rest-upstream", self.rest_upstream]
        for address in self.rest_listen:
            out += ["--rest-listen", str(address)]
        if self.rest_ca is not None:
            out += ["--rest-ca", os.path.abspath(self.rest_ca)]
        out += [
            "--max-message-bytes",
            str(self.max_message_bytes),
            "--compression-level",
            str(self.compression_level),
            "--max-buffer-bytes",
            str(self.max_buffer_bytes),
            "--recorder",
            self.recorder,
        ]
        return out


def _upstream_tls(args: argparse.Namespace) -> tlsconfig.ClientTls | None:
    if not getattr(args, "upstream_tls", False):
        return None
    return tlsconfig.ClientTls(
        ca=args.upstream_ca,
        cert=args.upstream_cert,
        key=args.upstream_key,
        server_name=args.upstream_server_name,
    )


class CaptureFailed(errors.XdsspyError):
    """The capture process ended before its recording had a header (it printed why)."""

    def __init__(self, returncode: int, log: str = "") -> None:
        self.returncode = returncode
        self.log = log
        super().__init__(log.strip() or f"the capture process exited with status {returncode}")


class Live:
    """A running capture and its recording; see `start()`."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        record: str,
        reader: reader_mod.RecordingReader,
        *,
        temporary: bool,
        log_path: str | None,
    ) -> None:
        self.process = process
        self.record = record
        self.reader = reader
        self.temporary = temporary
        self.log_path = log_path
        self.keep = not temporary  # a temporary recording is removed at the end unless this is set
        self.stop_requested = False
        self._events = reader.events(follow=True, should_stop=lambda: not self.running)
        self._early: list[model.Event] = []  # read while waiting for the capture to be ready
        self.started: model.CaptureStarted | None = None  # what the capture said when ready: bound addresses

    def _wait_until_ready(self) -> bool:
        """Read up to the CaptureStarted record (every address bound); False if the capture ended first."""
        for event in self._events:
            self._early.append(event)
            if isinstance(event, model.CaptureStarted):
                self.started = event
                return True
        return False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def events(self) -> Iterator[model.Event]:
        """Every event of the recording as it is written, until the capture stops (iterate once)."""
        early, self._early = self._early, []
        yield from early
        yield from self._events

    def stop(self) -> None:
        """Ask the capture to stop cleanly (it closes its streams and finishes the recording)."""
        self.stop_requested = True
        if self.running:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        """The capture's exit status, once it ends; Ctrl-C meanwhile only asks it to stop."""
        while True:
            try:
                return self.process.wait()
            except KeyboardInterrupt:
                self.stop()

    def log(self) -> str:
        """What the capture process printed, when its stderr goes to a file ("" otherwise)."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


@contextlib.contextmanager
def start(
    options: CaptureOptions,
    *,
    quiet: bool = False,
    on_signal: Callable[[], None] | None = None,
) -> Iterator[Live]:
    """Run the capture for the length of the `with` block.

    Without `options.record` the recording goes to a private temporary file
    (removed at the end unless `live.keep` is set). With `quiet`, the capture's
    stderr goes to a file (`live.log()`) instead of the terminal, where a full
    screen UI is drawing. SIGINT and SIGTERM stop the capture cleanly and then
    call `on_signal`. Raises CaptureFailed if the capture ends before its
    recording says it is forwarding (a port in use, an unreachable path...).
    """
    workdir = tempfile.mkdtemp(prefix="xdsspy-")  # mode 0700: the temporary recording and the log
    record = options.record
    temporary = record is None
    if record is None:
        record = os.path.join(workdir, "live.xdsspy")
        options = dataclasses.replace(options, record=record)
    elif os.path.isfile(record):
        # The capture truncates it anyway; removing it first means the wait for the header below
        # cannot mistake an earlier session's recording for this one.
        os.remove(record)
    log_path = os.path.join(workdir, "capture.log") if quiet else None
    log_file: IO[bytes] | None = open(log_path, "wb") if log_path else None
    process = subprocess.Popen(
        [sys.executable, "-m", "xdsspy", "record", *options.argv()],
        stdin=subprocess.DEVNULL,
        stderr=log_file,
        start_new_session=True,  # terminal signals go to the front end, which forwards a clean stop
    )
    if log_file is not None:
        log_file.close()
    live: Live | None = None
    previous = {}

    def forward(signum: int, frame: object) -> None:
        if live is not None:
            live.stop()
        elif process.poll() is None:
            process.send_signal(signal.SIGTERM)
        if on_signal is not None:
            on_signal()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, forward)
    try:
        reader = _open_when_written(record, process)
        if reader is None:
            code = process.wait()
            raise CaptureFailed(code, _read(log_path))
        with reader:
            live = Live(process, record, reader, temporary=temporary, log_path=log_path)
            if not live._wait_until_ready():
                code = process.wait()
                raise CaptureFailed(code, _read(log_path))
            yield live
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        keep = live is not None and live.keep
        _clean(workdir, record if keep and temporary else None)


def _read(path: str | None) -> str:
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _clean(workdir: str, kept: str | None) -> None:
    """Remove the session's private directory, or all of it but the recording to keep."""
    if kept is None:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if path != kept:
            with contextlib.suppress(OSError):
                os.remove(path)


def _open_when_written(path: str, process: subprocess.Popen[bytes]) -> reader_mod.RecordingReader | None:
    """The recording's reader once the capture has written its header; None if the capture died first."""
    from xdsspy.record import reader as reader_mod

    deadline = time.monotonic() + HEADER_TIMEOUT_S
    while True:
        if os.path.exists(path):
            try:
                return reader_mod.RecordingReader(path)
            except errors.RecordingReadError:
                if time.monotonic() > deadline:
                    raise  # half a header for 30 s: something else is writing this file
        if process.poll() is not None:
            return None
        time.sleep(0.02)
