"""Command line: parse arguments, then hand over to the capture process or a front end."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from xdsspy import __version__
from xdsspy import addresses
from xdsspy import errors

DEFAULT_LISTEN = "127.0.0.1:15010"


def _address(text: str) -> addresses.Address:
    try:
        return addresses.parse(text)
    except errors.AddressError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        return int(float(number) * factor)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 1G, 512M, 1048576)") from e


def _add_capture_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        type=_address,
        action="append",
        help=f"where Envoy connects: HOST:PORT, [IPv6]:PORT or unix:PATH (default {DEFAULT_LISTEN});"
        " repeatable",
    )
    p.add_argument("--upstream", type=_address, required=True, help="the real control plane (same forms)")
    p.add_argument(
        "--max-message-bytes",
        type=_size,
        default=1 << 30,
        help="largest gRPC message passed in either direction (default 1G)",
    )
    p.add_argument(
        "--compression-level", type=int, default=3, help="zstd level of recording blocks (default 3)"
    )
    p.add_argument(
        "--recorder",
        choices=["process", "thread"],
        default="process",
        help="write the recording from a process of its own (default) or a thread of the capture process",
    )
    p.add_argument(
        "--max-buffer-bytes",
        type=_size,
        default=1 << 30,
        help="memory the recorder may hold while the disk lags before it drops records (default 1G)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xdsspy", description="See and record the xDS conversation between Envoy and its control plane."
    )
    parser.add_argument("--version", action="version", version=f"xdsspy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    proxy = sub.add_parser("proxy", help="forward Envoy's xDS streams to the control plane and show them")
    _add_capture_arguments(proxy)
    proxy.add_argument("--record", metavar="FILE", help="keep the recording in FILE (mode 0600)")
    proxy.add_argument(
        "--headless", action="store_true", help="print one line per message instead of the live UI"
    )

    record = sub.add_parser(
        "record", help="forward and record only: no output but errors (the capture process)"
    )
    _add_capture_arguments(record)
    record.add_argument("--record", metavar="FILE", help="write the recording to FILE (mode 0600)")

    export = sub.add_parser("export", help="write a recording as JSON lines")
    export.add_argument("file", help="a recording")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    export.add_argument("--follow", action="store_true", help="keep reading as the recording grows")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "record":
            return _record(args)
        if args.command == "proxy":
            return _proxy(args)
        if args.command == "export":
            return _export(args)
    except errors.XdsspyError as e:
        print(f"xdsspy: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    raise AssertionError(args.command)


def _listen(args: argparse.Namespace) -> tuple[addresses.Address, ...]:
    return tuple(args.listen or [addresses.parse(DEFAULT_LISTEN)])


def _record(args: argparse.Namespace) -> int:
    from xdsspy import runner

    return runner.main(
        runner.CaptureOptions(
            listen=_listen(args),
            upstream=args.upstream,
            record=args.record,
            max_message_bytes=args.max_message_bytes,
            compression_level=args.compression_level,
            max_buffer_bytes=args.max_buffer_bytes,
            recorder=args.recorder,
        )
    )


def _capture_command(args: argparse.Namespace, record: str) -> list[str]:
    command = [sys.executable, "-m", "xdsspy", "record", "--upstream", str(args.upstream), "--record", record]
    for address in _listen(args):
        command += ["--listen", str(address)]
    command += [
        "--max-message-bytes",
        str(args.max_message_bytes),
        "--compression-level",
        str(args.compression_level),
        "--max-buffer-bytes",
        str(args.max_buffer_bytes),
        "--recorder",
        args.recorder,
    ]
    return command


def _proxy(args: argparse.Namespace) -> int:
    """Run the capture process and follow its recording in this one.

    Without --record the recording goes to a private temporary file that is
    removed at the end: the front end always reads what the capture wrote, so
    live and recorded sessions take the same path.
    """
    from xdsspy.frontends import headless
    from xdsspy.record import reader as reader_mod

    if not args.headless:
        print("xdsspy: the live UI is not built yet; running --headless", file=sys.stderr)
    tmpdir = None
    record = args.record
    if record is None:
        tmpdir = tempfile.mkdtemp(prefix="xdsspy-")  # mode 0700
        record = os.path.join(tmpdir, "live.xdsspy")
    capture = subprocess.Popen(_capture_command(args, record))
    stopping = False

    def forward_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if capture.poll() is None:
            capture.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward_stop)
    signal.signal(signal.SIGTERM, forward_stop)
    try:
        while not os.path.exists(record) or os.path.getsize(record) == 0:
            if capture.poll() is not None:
                return capture.returncode or 2
            time.sleep(0.02)
        time.sleep(0.02)  # the header is written in one call right after creation
        with reader_mod.RecordingReader(record) as reader:
            headless.print_events(
                reader.events(follow=True, should_stop=lambda: capture.poll() is not None), sys.stdout
            )
            for problem in reader.problems:
                print(f"xdsspy: {record}: {problem}", file=sys.stderr)
        return capture.wait()
    finally:
        if capture.poll() is None:
            capture.send_signal(signal.SIGTERM)
            capture.wait()
        if tmpdir is not None:
            with contextlib.suppress(OSError):
                os.remove(record)
                os.rmdir(tmpdir)


def _export(args: argparse.Namespace) -> int:
    from xdsspy.export import jsonl
    from xdsspy.record import reader as reader_mod

    with reader_mod.RecordingReader(args.file) as reader:
        events = reader.events(follow=args.follow)
        if args.output:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as out:
                count = jsonl.write(events, out)
        else:
            count = jsonl.write(events, sys.stdout)
        for problem in reader.problems:
            print(f"xdsspy: {args.file}: {problem}", file=sys.stderr)
    if args.output:
        print(f"xdsspy: wrote {count} events to {args.output}", file=sys.stderr)
    return 0
