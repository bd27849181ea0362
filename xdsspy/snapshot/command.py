"""`xdsspy snapshot`, `xdsspy diff` and `xdsspy bundle`: their flags, and what they print and write.

Secrets are masked unless `--no-redact` (then a loud warning on stderr).
`diff` exits like diff(1): 0 the same, 1 different, 2 trouble. Files are
written with mode 0600 and never through a symlink.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from xdsspy import errors

if TYPE_CHECKING:
    from xdsspy.snapshot import model

SNAPSHOT_HELP = (
    "SOURCE: a recording at a point (FILE, FILE@N, FILE@2026-11-25T10:00:03Z, FILE@last, FILE@nack:K), "
    "an Envoy /config_dump (with or without ?include_eds), istiod's /debug/config_dump?proxyID=… output, "
    "or a file `xdsspy snapshot` wrote"
)


def _add_source_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--node", metavar="ID", help="the Envoy, where a recording has several: id, POD.NS or glob"
    )
    p.add_argument(
        "--with-rejected",
        action="store_true",
        help="also the resources Envoy rejected (NACKED), beside the accepted ones",
    )
    p.add_argument(
        "--dump-kind",
        choices=["envoy", "istiod"],
        help="read a config dump as Envoy's /config_dump or istiod's /debug/config_dump (default: guessed)",
    )
    add_no_redact(p)


def add_no_redact(p: argparse.ArgumentParser) -> None:
    """--no-redact, the same for every command that writes something to share."""
    p.add_argument(
        "--no-redact",
        action="store_true",
        help="keep secrets (private keys, tokens, passwords, authorization headers) as they are: "
        "NOT for sharing",
    )


def add_snapshot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help=SNAPSHOT_HELP)
    p.add_argument("-o", "--output", metavar="FILE", help="write here (mode 0600) instead of stdout")
    p.add_argument(
        "--format",
        choices=["yaml", "json", "config_dump"],
        default="yaml",
        help="yaml or json: xdsspy's snapshot file; config_dump: the shape of Envoy's /config_dump "
        "(default yaml)",
    )
    _add_source_arguments(p)


def add_diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="the snapshot before; " + SNAPSHOT_HELP)
    p.add_argument("b", metavar="B", help="the snapshot after (same forms)")
    p.add_argument("--type", metavar="T", help="only this type: clusters, CDS, Cluster or a type URL")
    p.add_argument("--name", metavar="REGEX", help="only resources whose name this regular expression finds")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument(
        "--context",
        metavar="N",
        type=int,
        help="also a unified diff of each changed resource's YAML with N lines of context "
        "(markdown: 3 by default, folded)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here (mode 0600) instead of stdout")
    _add_source_arguments(p)


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "bundle":
        if args.after < 0:
            parser.error("--after: N must be 0 or more")
        if args.around:
            from xdsspy.snapshot import problems
            from xdsspy.snapshot import recorded

            try:
                recorded.parse_point(args.around)
            except problems.SnapshotError as e:
                parser.error(f"--around: {e}")
    if args.command == "diff":
        if args.context is not None and args.context < 0:
            parser.error("--context: N must be 0 or more")
        if args.name is not None:
            try:
                re.compile(args.name)
            except re.error as e:
                parser.error(f"--name {args.name!r}: not a regular expression: {e}")


def _kind(args: argparse.Namespace) -> model.SourceKind | None:
    from xdsspy.snapshot import model

    return {"envoy": model.SourceKind.CONFIG_DUMP, "istiod": model.SourceKind.ISTIOD}.get(
        args.dump_kind or ""
    )


def _warn_unredacted(args: argparse.Namespace) -> None:
    from xdsspy import redact

    if args.no_redact:
        print(f"xdsspy: {redact.NOT_REDACTED_WARNING}", file=sys.stderr, flush=True)


def _emit(text: str, output: str | None, what: str) -> None:
    if output:
        from xdsspy.snapshot import files

        files.write(text, output)
        print(f"xdsspy: wrote {what} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def snapshot_main(args: argparse.Namespace) -> int:
    from xdsspy.decode import resources

    with resources.paused_gc():  # millions of acyclic containers: the collector would triple the time
        return _snapshot(args)


def _snapshot(args: argparse.Namespace) -> int:
    from xdsspy import redact
    from xdsspy.snapshot import configdump
    from xdsspy.snapshot import files
    from xdsspy.snapshot import masked
    from xdsspy.snapshot import sources
    from xdsspy.viewmodel import saving

    snap = sources.load(args.source, node=args.node, kind=_kind(args))
    if not args.with_rejected:
        snap = snap.with_items(snap.selected())
    _warn_unredacted(args)
    count = 0
    if not args.no_redact:
        snap, count = masked.masked(snap, redact.Redactor())
    for note in snap.notes:
        print(f"xdsspy: note: {note}", file=sys.stderr)
    if args.format == "config_dump":
        document = configdump.dump(snap)
    else:
        document = files.to_document(snap)
    text = saving.render(document, "yaml" if args.format == "yaml" else "json")
    masked_note = f", {count} secret value(s) masked" if count else ""
    _emit(text, args.output, f"{len(snap.items)} resources{masked_note}")
    return 0


def type_test(text: str) -> Callable[[str], bool]:
    """--type: a plural (clusters), a service (CDS), a message's short or full name, or a type URL."""
    from xdsspy.snapshot import model
    from xdsspy.viewmodel import filters

    by_plural = {plural: t for t, plural in model.PLURALS.items()}
    if text.strip().lower() in by_plural:
        wanted = by_plural[text.strip().lower()]
        return lambda type_url: type_url == wanted
    return filters.type_matcher(text)


def diff_main(args: argparse.Namespace) -> int:
    from xdsspy.decode import resources

    with resources.paused_gc():  # millions of acyclic containers: the collector would triple the time
        return _diff(args)


def _diff(args: argparse.Namespace) -> int:
    from xdsspy import redact
    from xdsspy.snapshot import compare
    from xdsspy.snapshot import model
    from xdsspy.snapshot import report
    from xdsspy.snapshot import sources

    kind = _kind(args)
    a = sources.load(args.a, node=args.node, kind=kind)
    b = sources.load(args.b, node=args.node, kind=kind)
    types = type_test(args.type) if args.type else None
    if types is not None and not any(types(t) for t in {*a.types(), *b.types()}):
        seen = ", ".join(sorted({model.plural(t) for t in {*a.types(), *b.types()}})) or "none"
        raise errors.XdsspyError(f"--type {args.type}: neither side holds that type (types: {seen})")
    _warn_unredacted(args)
    comparison = compare.compare(
        a,
        b,
        types=types,
        name=re.compile(args.name) if args.name else None,
        with_rejected=args.with_rejected,
        redactor=None if args.no_redact else redact.Redactor(),
    )
    for note in (*a.notes, *b.notes):
        print(f"xdsspy: note: {note}", file=sys.stderr)
    if args.format == "json":
        text = report.as_json(comparison)
    elif args.format == "markdown":
        text = report.markdown(comparison, context=args.context)
    else:
        text = report.text(comparison, context=args.context)
    _emit(text, args.output, "the diff")
    return 0 if comparison.same else 1


def add_bundle_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a recording")
    p.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="the archive to write (.tar.gz, mode 0600)"
    )
    p.add_argument(
        "--node", metavar="ID", help="the Envoy, where the recording has several: id, POD.NS or glob"
    )
    p.add_argument(
        "--around",
        metavar="POINT",
        help="the point the report is about: nack:K, an event number, a time or last "
        "(default: the first NACK, else the end)",
    )
    p.add_argument(
        "--after",
        metavar="N",
        type=int,
        default=20,
        help="events of that Envoy kept past the point (default 20)",
    )
    add_no_redact(p)


def bundle_main(args: argparse.Namespace) -> int:
    from xdsspy import redact
    from xdsspy.snapshot import bundle
    from xdsspy.snapshot import recorded

    around = recorded.parse_point(args.around) if args.around else None
    _warn_unredacted(args)
    done = bundle.build(
        args.file,
        args.output,
        around=around,
        node=args.node,
        after=args.after,
        redactor=None if args.no_redact else redact.Redactor(),
    )
    masked_note = f", {done.masked} secret value(s) masked" if done.redacted else ", NOT redacted"
    print(
        f"xdsspy: wrote {done.path}: {done.node} around event {done.seq}, {done.events} events{masked_note}",
        file=sys.stderr,
    )
    return 0


def main(args: argparse.Namespace) -> int:
    if args.command == "snapshot":
        return snapshot_main(args)
    if args.command == "diff":
        return diff_main(args)
    return bundle_main(args)
