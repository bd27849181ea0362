"""`xdsspy bootstrap`: an Envoy bootstrap whose xDS goes through xdsspy, new or rewritten from the user's.

`build(Options)` is the bootstrap users start from: node, admin, and either
ADS (api_type GRPC or DELTA_GRPC) from a static HTTP/2 cluster `xds-grpc`, or
CDS and LDS polled over REST from a static HTTP/1.1 cluster `xds-rest`, the
cluster pointing at xdsspy's listen address. Pure: options in, dict out; the
harness builds its test bootstraps on it. `--rewrite FILE` hands the user's
own bootstrap to bootstrap_rewrite. YAML by default (quoted where YAML would
misread a string such as a node id `on`); JSON for `--format json` or `-o *.json`,
since Envoy picks its parser by the file's extension.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import ipaddress
import json
import os
import stat
import sys
from typing import TYPE_CHECKING
from typing import Any
from typing import TextIO

from xdsspy import addresses
from xdsspy import errors

if TYPE_CHECKING:  # the parser is built for every command: the rewrite and YAML load when they run
    from xdsspy import bootstrap_rewrite

ADS_CLUSTER = "xds-grpc"
REST_CLUSTER = "xds-rest"
DEFAULT_NODE_ID = "xdsspy-envoy"
DEFAULT_NODE_CLUSTER = "xdsspy"
DEFAULT_ADMIN_PORT = 15000
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


class Api(enum.StrEnum):
    """How Envoy fetches its configuration: the ADS stream (SotW or Delta), or REST polling per type."""

    GRPC = "GRPC"
    DELTA_GRPC = "DELTA_GRPC"
    REST = "REST"


class Format(enum.StrEnum):
    YAML = "yaml"
    JSON = "json"


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    xds: addresses.Address  # where Envoy connects: xdsspy's --listen (ADS) or --rest-listen (REST)
    node_id: str = DEFAULT_NODE_ID
    node_cluster: str = DEFAULT_NODE_CLUSTER
    api: Api = Api.GRPC
    admin_host: str = "127.0.0.1"
    admin_port: int = DEFAULT_ADMIN_PORT  # 0: Envoy picks one (see its --admin-address-path)
    refresh_delay_s: float = 1.0  # REST: time between two polls of a type
    request_timeout_s: float = 1.0  # REST: how long one poll may take


def duration(seconds: float) -> str:
    """A protobuf JSON Duration, as the harness has always written them ("1.000s")."""
    return f"{seconds:.3f}s"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def endpoint_address(address: addresses.Address) -> dict[str, Any]:
    """An envoy.config.core.v3.Address: a pipe for unix:PATH, else a socket address."""
    if address.is_unix:
        return {"pipe": {"path": address.unix_path}}
    return {"socket_address": {"address": address.host, "port_value": address.port}}


def discovery_type(address: addresses.Address) -> str:
    """STATIC for an IP or a unix socket (a DNS cluster takes no pipe), else STRICT_DNS."""
    return "STATIC" if address.is_unix or is_ip(address.host) else "STRICT_DNS"


def http2_protocol_options() -> dict[str, Any]:
    """A cluster's typed_extension_protocol_options that make it speak HTTP/2 (gRPC, or h2c REST)."""
    return {
        HTTP_OPTIONS: {
            "@type": f"type.googleapis.com/{HTTP_OPTIONS}",
            "explicit_http_config": {"http2_protocol_options": {}},
        }
    }


def static_cluster(name: str, address: addresses.Address, *, http2: bool) -> dict[str, Any]:
    """A cluster of one endpoint, defined in the bootstrap as Envoy requires of an xDS cluster."""
    kind = discovery_type(address)
    cluster: dict[str, Any] = {"name": name, "type": kind, "connect_timeout": "1s"}
    if kind == "STRICT_DNS":
        cluster["dns_lookup_family"] = (
            "V4_PREFERRED"  # `localhost` is ::1 first, and xdsspy listens on 127.0.0.1
        )
    cluster["load_assignment"] = {
        "cluster_name": name,
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": endpoint_address(address)}}]}],
    }
    if http2:
        cluster["typed_extension_protocol_options"] = http2_protocol_options()
    return cluster


def _ads_source() -> dict[str, Any]:
    return {"ads": {}, "resource_api_version": "V3"}


def _rest_source(options: Options) -> dict[str, Any]:
    return {
        "resource_api_version": "V3",
        "api_config_source": {
            "api_type": "REST",
            "transport_api_version": "V3",
            "cluster_names": [REST_CLUSTER],
            "refresh_delay": duration(options.refresh_delay_s),  # Envoy refuses a REST source without it
            "request_timeout": duration(options.request_timeout_s),
        },
    }


def build(options: Options) -> dict[str, Any]:
    """The bootstrap as a dict in Envoy's v3 proto3-JSON form, ready for yaml.safe_dump or json.dumps."""
    if options.xds.port == 0 and not options.xds.is_unix:
        raise errors.AddressError(f"the xDS address {options.xds} needs a port")
    admin = {"socket_address": {"address": options.admin_host, "port_value": options.admin_port}}
    document: dict[str, Any] = {
        "node": {"id": options.node_id, "cluster": options.node_cluster},
        "admin": {"address": admin},
    }
    if options.api is Api.REST:
        document["dynamic_resources"] = {
            "cds_config": _rest_source(options),
            "lds_config": _rest_source(options),
        }
        cluster = static_cluster(REST_CLUSTER, options.xds, http2=False)
    else:
        document["dynamic_resources"] = {
            "ads_config": {
                "api_type": options.api.value,
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": ADS_CLUSTER}}],
            },
            "cds_config": _ads_source(),
            "lds_config": _ads_source(),
        }
        cluster = static_cluster(ADS_CLUSTER, options.xds, http2=True)
    document["static_resources"] = {"clusters": [cluster]}
    return document


def dumps(document: dict[str, Any], fmt: Format = Format.YAML) -> str:
    """The bootstrap as text: YAML (strings YAML would misread are quoted) or indented JSON."""
    if fmt is Format.JSON:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    import yaml

    text: str = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text


# -- the command ----------------------------------------------------------------------------------


def _address(text: str) -> addresses.Address:
    try:
        return addresses.parse(text)
    except errors.AddressError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is a number from 0 to 65535")
    return int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--xds",
        metavar="ADDR",
        type=_address,
        required=True,
        help="where Envoy connects, i.e. xdsspy's --listen (or --rest-listen for --api REST): "
        "HOST:PORT, [IPv6]:PORT or unix:PATH",
    )
    p.add_argument("--node", metavar="ID", help=f"node.id (default {DEFAULT_NODE_ID})")
    p.add_argument("--cluster", metavar="NAME", help=f"node.cluster (default {DEFAULT_NODE_CLUSTER})")
    p.add_argument(
        "--api",
        type=str.upper,
        choices=[a.value for a in Api],
        help="GRPC: ADS, state of the world (default); DELTA_GRPC: Delta ADS; "
        "REST: CDS and LDS polled over HTTP/1.1",
    )
    p.add_argument(
        "--admin-port",
        metavar="P",
        type=_port,
        help=f"Envoy's admin on 127.0.0.1:P (default {DEFAULT_ADMIN_PORT})",
    )
    p.add_argument(
        "--format",
        choices=[f.value for f in Format],
        help="yaml (default) or json (the default for -o FILE.json: Envoy reads .json files as JSON)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument(
        "--rewrite",
        metavar="FILE",
        help="instead: point FILE's own xDS cluster at --xds and keep the rest of it (- reads stdin); "
        "JSON stays JSON, YAML stays YAML",
    )
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="--rewrite: drop the xDS cluster's TLS transport_socket (xdsspy listens in plaintext)",
    )


def main(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if args.rewrite is not None:
        return _rewrite(args, out, err)
    if args.plaintext:
        raise errors.BootstrapError("--plaintext goes with --rewrite: a new bootstrap has no TLS to drop")
    fmt = _output_format(args.format, args.output)
    options = Options(
        xds=args.xds,
        node_id=DEFAULT_NODE_ID if args.node is None else args.node,
        node_cluster=DEFAULT_NODE_CLUSTER if args.cluster is None else args.cluster,
        api=Api.GRPC if args.api is None else Api(args.api),
        admin_port=DEFAULT_ADMIN_PORT if args.admin_port is None else args.admin_port,
    )
    if not options.node_id or not options.node_cluster:
        raise errors.BootstrapError("--node and --cluster cannot be empty: Envoy needs both to fetch xDS")
    _write(dumps(build(options), fmt), args.output, out)
    if options.api is Api.REST:
        run = f"xdsspy proxy --rest-listen {options.xds} --rest-upstream http://CONTROL_PLANE:PORT"
    else:
        run = f"xdsspy proxy --listen {options.xds} --upstream CONTROL_PLANE:PORT"
    where = "" if args.output is None else f"wrote {args.output}; "
    print(f"xdsspy: {where}Envoy will connect to {options.xds}: run {run}", file=err)
    return 0


def _output_format(given: str | None, output: str | None) -> Format:
    as_json = output is not None and output.lower().endswith(".json")
    if given is None:
        return Format.JSON if as_json else Format.YAML
    if given == Format.YAML and as_json:
        raise errors.BootstrapError(
            f"-o {output}: Envoy reads a .json file as JSON; use --format json or name it .yaml"
        )
    return Format(given)


def _rewrite(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from xdsspy import bootstrap_rewrite

    given = [
        flag
        for flag, value in (
            ("--node", args.node),
            ("--cluster", args.cluster),
            ("--api", args.api),
            ("--admin-port", args.admin_port),
            ("--format", args.format),
        )
        if value is not None
    ]
    if given:
        raise errors.BootstrapError(
            f"{', '.join(given)}: --rewrite keeps the file's own settings and format; it changes only "
            "where its xDS cluster points"
        )
    source = "stdin" if args.rewrite == "-" else args.rewrite
    text = _read(args.rewrite)
    result = bootstrap_rewrite.rewrite_text(text, args.xds, plaintext=args.plaintext, source=source)
    _write(result.text, args.output, out, like=None if args.rewrite == "-" else args.rewrite)
    for line in _report(result, args):
        print(f"xdsspy: {line}", file=err)
    return 0


def _report(result: bootstrap_rewrite.TextResult, args: argparse.Namespace) -> list[str]:
    lines = [] if args.output is None else [f"wrote {args.output}"]
    for cluster in result.rewritten.clusters:
        was = ", ".join(cluster.old_addresses) or "no address"
        lines.append(
            f"cluster {cluster.name!r} ({', '.join(cluster.uses)}) now points at {args.xds} (was {was})"
        )
    lines.extend(result.rewritten.notes)
    if not result.layout_kept:
        lines.append(
            "the file could not be edited in place, so it was written out again in full (same content)"
        )
    if args.output is not None and args.output.lower().endswith(".json") and not result.strict_json:
        lines.append(f"{args.output} is YAML, but Envoy reads a .json file as JSON: name it .yaml")
    lines.extend(result.rewritten.run_hints(args.xds))
    return lines


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise errors.BootstrapError(f"{path} is not text (UTF-8): not a YAML or JSON bootstrap") from e
    except OSError as e:
        raise errors.BootstrapError(f"cannot read {path}: {e.strerror}") from e


def _write(text: str, path: str | None, out: TextIO, *, like: str | None = None) -> None:
    """To stdout, or to `path`; a new file gets the mode of `like` (a bootstrap may hold keys)."""
    if path is None:
        out.write(text)
        out.flush()
        return
    mode = 0o644
    if like is not None:
        try:
            mode = stat.S_IMODE(os.stat(like).st_mode)
        except OSError:
            pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise errors.BootstrapError(f"cannot write {path}: {e.strerror}") from e
