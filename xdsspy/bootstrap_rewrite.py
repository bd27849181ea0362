"""Points an existing Envoy bootstrap's xDS cluster at xdsspy and keeps everything else as it was.

The xDS clusters are the ones `dynamic_resources` names: ADS's
`ads_config.grpc_services[].envoy_grpc.cluster_name`, and the
`api_config_source` of `cds_config`/`lds_config` (gRPC services, or REST
`cluster_names`). Each must be defined in `static_resources.clusters` (Envoy
requires it). Its endpoints (`load_assignment`, or v2's `hosts`) become the one
address given; the first endpoint keeps its other fields, and the cluster's
type follows the address (STATIC for an IP or a unix socket, a DNS type for a
name). A TLS `transport_socket` stays unless `plaintext` is asked for, with a
note saying what that means for xdsspy. `rewrite` is pure (dict in, dict out);
`rewrite_text` reads and writes the file's text through docsplice, so only the
cluster's changed values differ from the input.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from xdsspy import addresses
from xdsspy import docsplice
from xdsspy import envoy_bootstrap
from xdsspy import errors

_DNS_TYPES = ("STRICT_DNS", "LOGICAL_DNS")
_TLS_KEYS = ("transport_socket", "transport_socket_matches", "tls_context")  # tls_context: v2


@dataclasses.dataclass(frozen=True, slots=True)
class XdsCluster:
    """One rewritten cluster: where the bootstrap names it and what it pointed at before."""

    name: str
    uses: tuple[str, ...]  # e.g. ("ads_config", "cds_config")
    rest: bool  # named as a REST api_config_source's cluster: xdsspy's --rest-listen, not --listen
    old_addresses: tuple[str, ...]  # HOST:PORT, [IPv6]:PORT or unix:PATH, as xdsspy's options take them
    tls: bool  # it encrypted its connection (a transport socket other than raw_buffer)
    tls_dropped: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Rewritten:
    document: dict[str, Any]
    clusters: tuple[XdsCluster, ...]
    notes: tuple[str, ...]  # what the user should know: TLS kept, endpoints dropped, targets left alone

    def run_hints(self, address: addresses.Address) -> list[str]:
        """The xdsspy command that serves the rewritten Envoy, with its old control plane as upstream."""
        hints = []
        for cluster in self.clusters:
            if not cluster.old_addresses:
                continue
            old = cluster.old_addresses[0]
            if cluster.rest:
                scheme = "https" if cluster.tls else "http"
                hints.append(f"run: xdsspy proxy --rest-listen {address} --rest-upstream {scheme}://{old}")
            else:
                hints.append(f"run: xdsspy proxy --listen {address} --upstream {old}")
                if cluster.tls:
                    hints.append(
                        f"but {old} was reached over TLS, and xdsspy's --upstream connects in plaintext: "
                        "give it a plaintext xDS port of the same control plane (istiod serves one on 15010)"
                    )
        return list(dict.fromkeys(hints))


@dataclasses.dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    rewritten: Rewritten
    syntax: docsplice.Syntax
    layout_kept: bool  # only the changed values' text differs from the input
    strict_json: bool  # Envoy can read it as a .json file


def xds_cluster_names(document: dict[str, Any]) -> dict[str, list[tuple[str, bool]]]:
    """Cluster name -> [(where it is named, whether as a REST cluster)], in the bootstrap's order."""
    found: dict[str, list[tuple[str, bool]]] = {}
    dynamic = document.get("dynamic_resources")
    if not isinstance(dynamic, dict):
        return found
    for key in ("ads_config", "cds_config", "lds_config"):
        section = dynamic.get(key)
        if not isinstance(section, dict):
            continue
        source = section if key == "ads_config" else section.get("api_config_source")
        if not isinstance(source, dict):
            continue
        for name, rest in _named_clusters(source):
            found.setdefault(name, [])
            if (key, rest) not in found[name]:
                found[name].append((key, rest))
    return found


def _named_clusters(source: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    for service in _dicts(source.get("grpc_services")):
        envoy_grpc = service.get("envoy_grpc")
        if isinstance(envoy_grpc, dict) and isinstance(envoy_grpc.get("cluster_name"), str):
            yield envoy_grpc["cluster_name"], False
    rest = source.get("api_type") == "REST"
    for name in source.get("cluster_names") or ():
        if isinstance(name, str):
            yield name, rest


def _google_grpc_targets(document: dict[str, Any]) -> list[str]:
    dynamic = document.get("dynamic_resources") or {}
    targets = []
    for key in ("ads_config", "cds_config", "lds_config"):
        section = dynamic.get(key) if isinstance(dynamic, dict) else None
        source = section if key == "ads_config" else (section or {}).get("api_config_source")
        if isinstance(source, dict):
            for service in _dicts(source.get("grpc_services")):
                google = service.get("google_grpc")
                if isinstance(google, dict):
                    targets.append(f"{key}: {google.get('target_uri', '?')}")
    return targets


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def rewrite(document: dict[str, Any], address: addresses.Address, *, plaintext: bool = False) -> Rewritten:
    """A copy of `document` whose xDS clusters point at `address`; raises BootstrapError when it has none."""
    if address.port == 0 and not address.is_unix:
        raise errors.AddressError(f"the xDS address {address} needs a port")
    names = xds_cluster_names(document)
    google = _google_grpc_targets(document)
    if not names:
        if google:
            raise errors.BootstrapError(
                "its xDS is reached with google_grpc, not through a cluster ("
                + "; ".join(google)
                + f"): set that target_uri to {address} yourself"
            )
        raise errors.BootstrapError(
            "it names no xDS cluster: dynamic_resources has no ads_config, and no cds_config or lds_config "
            "with an api_config_source (a bootstrap with only static_resources has no xDS to watch)"
        )
    document = copy.deepcopy(document)
    static = document.get("static_resources")
    clusters = _dicts(static.get("clusters")) if isinstance(static, dict) else []
    notes: list[str] = []
    done = []
    for name, uses in names.items():
        matching = [c for c in clusters if c.get("name") == name]
        if not matching:
            where = " and ".join(f"dynamic_resources.{use}" for use, _ in uses)
            defined = ", ".join(repr(c.get("name")) for c in clusters) or "none"
            raise errors.BootstrapError(
                f"{where} names cluster {name!r}, but static_resources.clusters does not define it "
                f"(defined: {defined}); Envoy needs its xDS clusters there"
            )
        rest = any(is_rest for _, is_rest in uses)
        for cluster in matching:
            old = _point(cluster, name, address, notes)
            tls = any(_encrypts(key, cluster.get(key)) for key in _TLS_KEYS)
            dropped = tls and plaintext
            if dropped:
                for key in _TLS_KEYS:
                    cluster.pop(key, None)
            elif tls:
                notes.append(_tls_note(name, address, rest))
            uses_text = tuple(dict.fromkeys(use for use, _ in uses))
            done.append(XdsCluster(name, uses_text, rest, tuple(old), tls, dropped))
    if google:
        notes.append("left as they are (google_grpc targets, not clusters): " + "; ".join(google))
    return Rewritten(document, tuple(done), tuple(notes))


def _point(cluster: dict[str, Any], name: str, address: addresses.Address, notes: list[str]) -> list[str]:
    """Point one cluster at `address`, in place; its old addresses."""
    if "cluster_type" in cluster:
        kind = (cluster["cluster_type"] or {}).get("name", "?")
        raise errors.BootstrapError(
            f"cluster {name!r} is a custom cluster ({kind}): point it at {address} yourself"
        )
    kind = cluster.get("type", "STATIC")
    if kind not in ("STATIC", *_DNS_TYPES):
        raise errors.BootstrapError(
            f"cluster {name!r} is of type {kind}: only a cluster with fixed endpoints "
            "(STATIC, STRICT_DNS, LOGICAL_DNS) can be pointed at an address"
        )
    new_address = envoy_bootstrap.endpoint_address(address)
    old: list[str] = []
    if "hosts" in cluster:  # v2
        old += [_show(a) for a in _dicts(cluster["hosts"])]
        cluster["hosts"] = [new_address]
    if "load_assignment" in cluster or "hosts" not in cluster:
        assignment = cluster.setdefault("load_assignment", {"cluster_name": name})
        localities = _dicts(assignment.get("endpoints"))
        lb_endpoints = [lb for locality in localities for lb in _dicts(locality.get("lb_endpoints"))]
        old += [_show(lb.get("endpoint", {}).get("address")) for lb in lb_endpoints]
        locality = localities[0] if localities else {}
        first = _dicts(locality.get("lb_endpoints"))[:1] or [{}]
        endpoint = dict(first[0].get("endpoint") or {})
        endpoint["address"] = new_address
        assignment["endpoints"] = [{**locality, "lb_endpoints": [{**first[0], "endpoint": endpoint}]}]
    if len(old) > 1:
        notes.append(f"cluster {name!r} had {len(old)} endpoints; it now has one, {address}")
    wanted = envoy_bootstrap.discovery_type(address)
    if wanted != kind and not (wanted == "STRICT_DNS" and kind in _DNS_TYPES):
        cluster["type"] = wanted  # in its place, or after the last field when the default was meant
        if wanted == "STRICT_DNS" and "dns_lookup_family" not in cluster:
            cluster["dns_lookup_family"] = "V4_PREFERRED"
        notes.append(f"cluster {name!r} is now {wanted} (it was {kind}), as {address} needs")
    return [a for a in old if a]


def _show(address: Any) -> str:
    """An Address as xdsspy's options take it, or "" when it is not one."""
    if not isinstance(address, dict):
        return ""
    pipe = address.get("pipe")
    if isinstance(pipe, dict) and pipe.get("path"):
        return f"unix:{pipe['path']}"
    socket = address.get("socket_address")
    if isinstance(socket, dict) and socket.get("address"):
        host = str(socket["address"])
        port = socket.get("port_value", socket.get("named_port", 0))
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ""


def _encrypts(key: str, value: Any) -> bool:
    """A TLS (or other non-plaintext) transport socket; raw_buffer is plaintext."""
    if not value:
        return False
    if key == "transport_socket" and isinstance(value, dict):
        return value.get("name") not in ("envoy.transport_sockets.raw_buffer", "raw_buffer")
    return True


def _tls_note(name: str, address: addresses.Address, rest: bool) -> str:
    listen = "--rest-listen" if rest else "--listen"
    return (
        f"cluster {name!r} keeps its TLS transport_socket, so Envoy will start a TLS handshake with "
        f"{address}, and xdsspy's {listen} speaks plaintext: the stream would fail. Rerun with "
        f"--plaintext (Envoy then talks to xdsspy in the clear: keep {address} on loopback or a unix "
        "socket), or put a TLS terminator in front of xdsspy"
    )


def rewrite_text(
    text: str, address: addresses.Address, *, plaintext: bool = False, source: str = "the bootstrap"
) -> TextResult:
    """The bootstrap in `text` rewritten: same syntax, and only the changed values' text differs."""
    try:
        document, syntax = docsplice.load(text)
    except docsplice.NotADocument as e:
        raise errors.BootstrapError(f"{source} is neither YAML nor JSON: {e}") from e
    if not isinstance(document, dict):
        what = "empty" if document is None else f"a {type(document).__name__}, not a mapping of fields"
        raise errors.BootstrapError(f"{source} is not an Envoy bootstrap: it is {what}")
    try:
        rewritten = rewrite(document, address, plaintext=plaintext)
    except errors.BootstrapError as e:
        raise errors.BootstrapError(f"{source}: {e}") from e
    spliced = docsplice.splice(text, document, rewritten.document, syntax)
    return TextResult(spliced.text, rewritten, syntax, spliced.layout_kept, _strict_json(spliced.text))


def _strict_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
