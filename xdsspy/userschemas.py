"""Loads the schemas a user names on the command line (--protoset, --proto-path) into the decoding registry.

Done once at start-up, before any message is read, by every command that
decodes, so a mistake stops the command with one clear line instead of
surfacing as "schema-less" resources later. Types that come with Envoy's API
(xds-protos) stay as they are: a user file of the same name is skipped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from xdsspy.decode import schemas

PROTOS_EXTRA = "pip install 'xdsspy[protos]'"


def _one_line(text: str) -> str:
    """protoc reports one problem per line; the CLI prints one line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _checked(report: schemas.LoadReport, what: str) -> schemas.LoadReport:
    if report.failed:
        name, reason = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        raise schemas.SchemaError(f"{what}: cannot add {name}: {_one_line(reason)}{more}")
    if not report.added and not report.skipped:
        raise schemas.SchemaError(f"{what}: holds no .proto file descriptors")
    return report


def load(
    proto_paths: Sequence[str] = (),
    protosets: Sequence[str] = (),
    registry: schemas.Registry | None = None,
) -> list[schemas.LoadReport]:
    """Add the protosets, then compile and add the .proto directories (which may import the protosets).

    Raises `schemas.SchemaError` (an XdsspyError: the CLI prints it and exits 2) for a missing or
    unreadable file or directory, a file that is not a FileDescriptorSet, a protoc error, a file that
    does not fit the types already loaded, or --proto-path without grpcio-tools.
    """
    registry = registry if registry is not None else schemas.default()
    reports = []
    if protosets:
        schemas.load_envoy_api()  # user files may import Envoy's: they must be in the pool first
    for path in protosets:
        try:
            report = registry.add_protoset(path)
        except schemas.SchemaError as e:
            raise schemas.SchemaError(f"--protoset: {_one_line(str(e))}") from e
        reports.append(_checked(report, f"--protoset {path}"))
    if proto_paths:
        if importlib.util.find_spec("grpc_tools") is None:
            raise schemas.SchemaError(
                "--proto-path compiles .proto files with grpcio-tools, which is not installed: "
                + PROTOS_EXTRA
            )
        what = f"--proto-path {', '.join(proto_paths)}"
        try:
            report = registry.add_proto_dirs(proto_paths)
        except schemas.SchemaError as e:
            message = _one_line(str(e))
            raise schemas.SchemaError(message if message.startswith("--") else f"{what}: {message}") from e
        reports.append(_checked(report, what))
    return reports
