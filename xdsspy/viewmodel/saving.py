"""What the UI's save key writes: one message, one resource or one Envoy's state, redacted, mode 0600.

Three documents, all JSON-ready dicts with an "xdsspy" part saying where they
come from: `message_document` (a message as `xdsspy export --decode` shows
it: envelope, verdict, decoded resources), `resource_document` (one resource's
accepted and rejected versions) and `state_document` (one Envoy at one moment,
shaped like Envoy's own /config_dump, so tools that read a config dump read
it). `render` prints a document as JSON or YAML in its own key order, and
`save` masks its secrets (`redact.Redactor`), then writes it with mode 0600,
never through a symlink.

In a state document each accepted resource is a dynamic entry with Envoy's
field names (`version_info`, `last_updated` from the recording's wall clock);
a NACKED version beside it is its `error_state` (`UpdateFailureState`), and a
listener rejected before it was ever accepted is an entry of its own with only
`name` and `error_state`, as Envoy's listener manager prints it. Every NACKED
resource is also listed in `xdsspy.rejected`; types /config_dump has no
section for (VHDS, SRDS, runtime, unknown types) are in `xdsspy.other_resources`.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import re
from typing import Any

import yaml

from xdsspy import errors
from xdsspy import redact as redact_mod
from xdsspy import timefmt
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources as decoded_resources
from xdsspy.export import decoded as export_decoded
from xdsspy.snapshot import files
from xdsspy.state import tracker
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import refs
from xdsspy.viewmodel import rows as rows_mod
from xdsspy.viewmodel import words

Document = dict[str, Any]
_ADMIN = "type.googleapis.com/envoy.admin.v3."
_RESPONSES = (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE)


class Format(enum.StrEnum):
    JSON = "json"
    YAML = "yaml"


@dataclasses.dataclass(frozen=True, slots=True)
class SaveResult:
    """What `save` wrote. When `redacted` is False the UI must show `warning` loudly."""

    path: str
    bytes_written: int
    masked: int  # secrets masked (values Envoy had already redacted included)
    redacted: bool

    @property
    def warning(self) -> str:
        return "" if self.redacted else redact_mod.NOT_REDACTED_WARNING


@dataclasses.dataclass(frozen=True, slots=True)
class _Section:
    """One /config_dump section: its message, its list of dynamic entries, the field holding the body."""

    type_url: str
    dump: str
    entries: str
    body: str
    named: bool = False  # the entry carries `name` beside the body (secrets)
    optional: bool = False  # left out when empty


_SECTIONS = (
    _Section(refs.CLUSTER, "ClustersConfigDump", "dynamic_active_clusters", "cluster"),
    _Section(refs.EXTENSION, "EcdsConfigDump", "ecds_filters", "ecds_filter", optional=True),
    _Section(refs.LISTENER, "ListenersConfigDump", "dynamic_listeners", "listener"),
    _Section(refs.ROUTE, "RoutesConfigDump", "dynamic_route_configs", "route_config"),
    _Section(refs.SECRET, "SecretsConfigDump", "dynamic_active_secrets", "secret", named=True),
    _Section(refs.ENDPOINT, "EndpointsConfigDump", "dynamic_endpoint_configs", "endpoint_config"),
)
"""In Envoy's order (ECDS only when present; endpoints last, as `?include_eds` adds them)."""


# -- documents ------------------------------------------------------------------------------------


def message_document(ix: index_mod.RecordingIndex, row: rows_mod.Row) -> Document:
    """One row's message as `xdsspy export --decode` shows it; other rows as their one-line text."""
    step = row.step
    head: Document = {"recording": ix.path, "seq": step.seq, "time": _time(step.wall_ns)}
    if row.node:
        head["node"] = row.node
    head.update(connection=step.connection, stream=step.stream, kind=str(row.kind))
    if step.method:
        head["method"] = step.method
    if row.kind != rows_mod.RowKind.MESSAGE:
        return {"xdsspy": {**head, "text": step.text}}
    head["direction"] = str(step.direction)
    try:
        message = ix.message(row)
    except (errors.XdsspyError, OSError) as exc:
        return {"xdsspy": head, "problem": f"the message cannot be read back: {exc}"}
    if message is None:
        return {"xdsspy": head, "problem": "the message cannot be read back from the recording"}
    raw = bytes(message.raw)
    full = discovery.decode(message.method, message.direction, raw)
    env = step.envelope if step.envelope is not None else full  # the step's knows its stream's node
    if env.kind in _RESPONSES:
        env = dataclasses.replace(env, resources=full.resources)
    out: Document = {"xdsspy": head, **env.summary()}
    if step.verdict is not None:
        verdict = step.verdict.to_json()
        out["verdict"] = {"kind": verdict.pop("verdict"), **verdict}
    if env.resources:
        bodies = decoded_resources.decode_entries(env.resources)
        for item, decoded in zip(out["resources"], bodies, strict=True):
            item.update(export_decoded.resource_json(decoded))
    elif not env.is_discovery and env.message_type and not env.method.rest:
        out["message"] = export_decoded.resource_json(decoded_resources.decode_message(env.message_type, raw))
    if env.kind == envelope.Kind.UNKNOWN or env.problem:  # what did not decode is kept, as bytes
        out["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return out


def resource_document(config: envoy_config.EnvoyConfig, type_url: str, name: str) -> Document:
    """One resource as the Envoy held it (`active`) and rejected it (`rejected`). KeyError if neither."""
    versions = config.versions(type_url, name)
    if not versions:
        raise KeyError(f"{config.node} holds no {refs.canonical_type(type_url)} named {name!r}")
    head = {**_head(config), "type_url": refs.canonical_type(type_url), "name": name}
    out: Document = {"xdsspy": head}
    for held in versions:
        entry: Document = {"status": held.status.name, "version_info": held.version}
        if held.wall_ns:
            entry["last_updated" if held.status == tracker.Status.ACKED else "last_update_attempt"] = _time(
                held.wall_ns
            )
        if held.error:
            entry["error"] = held.error
        _add_body(entry, "resource", held)
        out["active" if held.status == tracker.Status.ACKED else "rejected"] = entry
    return out


def state_document(config: envoy_config.EnvoyConfig) -> Document:
    """One Envoy's resources at one moment, shaped like its /config_dump (see the module docstring)."""
    configs = [_section(config, section) for section in _SECTIONS]
    configs = [c for c, section in zip(configs, _SECTIONS, strict=True) if len(c) > 1 or not section.optional]
    head = _head(config)
    rejected = [
        _rejected_json(r)
        for kind in config.types
        for r in config.resources[kind]
        if r.status == tracker.Status.NACKED
    ]
    if rejected:
        head["rejected"] = rejected
    dumped = {section.type_url for section in _SECTIONS}
    other = [_other_json(r) for kind in config.types if kind not in dumped for r in config.resources[kind]]
    if other:
        head["other_resources"] = other
    if config.problems:
        head["problems"] = config.problems
    return {"configs": configs, "xdsspy": head}


def _head(config: envoy_config.EnvoyConfig) -> Document:
    return {
        "recording": config.recording,
        "node": config.node,
        "seq": config.seq,
        "time": _time(config.wall_ns),
    }


def _section(config: envoy_config.EnvoyConfig, section: _Section) -> Document:
    """One /config_dump section: an entry per accepted resource, and listeners only ever rejected."""
    entries = []
    for r in config.resources.get(section.type_url, ()):
        rejected = config.rejected(r.type_url, r.name)
        if r.status == tracker.Status.ACKED:
            entries.append(_entry(section, r, rejected))
        elif section.type_url == refs.LISTENER and config.accepted(r.type_url, r.name) is None:
            entries.append({"name": r.name, "error_state": _error_state(r)})
    out: Document = {"@type": _ADMIN + section.dump}
    if entries:
        out[section.entries] = entries
    return out


def _entry(section: _Section, r: envoy_config.Resource, rejected: envoy_config.Resource | None) -> Document:
    state: Document = {"version_info": r.version}
    _add_body(state, section.body, r)
    if r.wall_ns:
        state["last_updated"] = _time(r.wall_ns)
    if section.type_url == refs.LISTENER:
        entry: Document = {"name": r.name, "active_state": state}
    elif section.named:
        entry = {"name": r.name, **state}
    else:
        entry = state
    if rejected is not None:
        entry["error_state"] = _error_state(rejected)
    return entry


def _error_state(r: envoy_config.Resource) -> Document:
    """Envoy's UpdateFailureState for a rejected version."""
    out: Document = {}
    _add_body(out, "failed_configuration", r)
    if r.wall_ns:
        out["last_update_attempt"] = _time(r.wall_ns)
    out["details"] = r.error
    out["version_info"] = r.version
    return out


def _rejected_json(r: envoy_config.Resource) -> Document:
    out: Document = {"type_url": r.type_url, "name": r.name, "version_info": r.version, "error": r.error}
    if r.wall_ns:
        out["last_update_attempt"] = _time(r.wall_ns)
    out["seq"] = r.seq
    _add_body(out, "resource", r)
    return out


def _other_json(r: envoy_config.Resource) -> Document:
    out: Document = {
        "type_url": r.type_url,
        "name": r.name,
        "status": r.status.name,
        "version_info": r.version,
    }
    if r.wall_ns:
        out["last_updated"] = _time(r.wall_ns)
    if r.error:
        out["error"] = r.error
    _add_body(out, "resource", r)
    return out


def _add_body(out: Document, key: str, r: envoy_config.Resource) -> None:
    """The body under `key` (with the decoder's notes), or the problem that kept it out."""
    if r.body is not None:
        out[key] = r.body
    if r.notes:
        out["xdsspy_notes"] = list(r.notes)
    if r.problem:
        out["xdsspy_problem"] = r.problem


def _time(wall_ns: int) -> str:
    return timefmt.rfc3339(wall_ns) if wall_ns else ""


# -- files ------------------------------------------------------------------------------------


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Safe YAML without anchors: the decoder shares equal sub-bodies, which must print in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)
_Dumper.add_multi_representer(str, lambda dumper, text: dumper.represent_str(str.__str__(text)))


def render(document: Any, fmt: str) -> str:
    """The document as text in its own key order: "json" (indent 2) or "yaml"."""
    if fmt == Format.JSON:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == Format.YAML:
        text: str = yaml.dump(
            document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120
        )
        return text
    raise ValueError(f"unknown format {fmt!r}: use json or yaml")


def save(
    document: Any,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    redact: bool = True,
    redactor: redact_mod.Redactor | None = None,
) -> SaveResult:
    """Write the document to path (mode 0600, refusing a symlink there), its secrets masked unless told not.

    Raises OSError when the file cannot be written (ELOOP when path is a symlink).
    """
    masked = 0
    if redact:
        redacted = (redactor or redact_mod.Redactor()).json(document)
        document, masked = redacted.value, len(redacted.paths)
    data = render(document, fmt).encode("utf-8")
    files.write_bytes(data, path)
    return SaveResult(os.fspath(path), len(data), masked, redact)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_name(kind: str, node: str, seq: int, fmt: str) -> str:
    """`xdsspy-state-reviews-v1.default-at-1234.yaml`: safe characters only, the node shortened."""
    pieces = ["xdsspy", kind]
    short = _UNSAFE.sub("_", words.short_node(node)).strip("._-")[:80]
    if short:
        pieces.append(short)
    name = "-".join(pieces) + f"-at-{seq}"
    return f"{_UNSAFE.sub('_', name)}.{_UNSAFE.sub('_', fmt) or 'txt'}"
