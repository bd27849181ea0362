"""Everything about one timeline row, for a detail view: the message decoded again, its resources and diffs.

`explain(index, row)` reads the row's message back from the recording,
decodes its envelope and resource bodies, and says for each resource of a
response what it changes for this Envoy: ADDED, UPDATED (with the field
changes against the version the Envoy had accepted just before, from the
timeline's state), UNCHANGED, REMOVED (with the body it had) or HEARTBEAT.
A NACK's detail holds the whole error and the rejected push explained the
same way, its culprits diffed first. Rows that are not messages (opens,
closes, gaps, notes, capture start and stop, runs of 304 polls) get their
facts in plain text. It may take a second on a 10k-cluster push, so a front
end calls it off its UI thread; it never raises: what cannot be read or
decoded is said in `problem`. Free of rich and textual (a second front end
uses it too); `to_json` gives the whole detail JSON-ready.

Change words are relative to what the Envoy had accepted, so after a
reconnect a push the stream verdict calls "+2" may show two UNCHANGED.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from xdsspy import configdiff
from xdsspy import errors
from xdsspy import grpc_status
from xdsspy import model
from xdsspy import timefmt
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.export import decoded as decoded_export
from xdsspy.state import protocol
from xdsspy.state import tracker
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import rows
from xdsspy.viewmodel import words

V = protocol.VerdictKind


class Change(enum.StrEnum):
    """What a response does to one resource, compared with what its Envoy had accepted before it."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    HEARTBEAT = "heartbeat"  # a TTL refresh: a Resource wrapper without a body


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceDetail:
    """One resource of a response. `body` is `export.decoded.resource_json` (status, message_type, body,
    notes): of this version, or of the previous one for REMOVED. `field_changes` is () unless UPDATED;
    for UPDATED it is None when not computed (past max_diffs: see `diff_of`) or not computable
    (`problem` says why). `previous_seq`/`previous_index` locate the version the Envoy had accepted."""

    name: str
    type_url: str
    change: Change
    body: Mapping[str, Any] | None
    field_changes: tuple[configdiff.FieldChange, ...] | None = ()
    previous_seq: int | None = None
    previous_index: int | None = None
    version: str = ""
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Subscriptions:
    """What a request subscribed to and dropped, and its wildcard kind ("explicit", "legacy" or "")."""

    subscribed: tuple[str, ...] = ()
    unsubscribed: tuple[str, ...] = ()
    wildcard: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """The response an ACK, NACK or STALE answers, and how long Envoy took."""

    seq: int
    latency_ms: float | None
    version: str = ""  # of that response, when its step is known
    nonce: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class NackDetail:
    """A NACK: whole error, its culprits, and the push it rejected (explained, with no nack of its own)."""

    error: str
    code: int | None  # error_detail's gRPC code; None without error_detail (REST, version fallback)
    rejected_seq: int | None
    named: tuple[str, ...]  # the resources the error names
    culprits: tuple[str, ...]  # what the NACK is about (see `words.rejected_names`)
    push: MessageDetail | None


@dataclasses.dataclass(frozen=True, slots=True)
class MessageDetail:
    """Everything about one row; fields that do not apply stay empty. `envelope` is None for rows that are
    not messages and for messages that cannot be read back; `facts` are (label, text) pairs."""

    row: rows.Row
    summary: str
    envelope: Mapping[str, Any] | None = None
    verdict: Mapping[str, Any] | None = None
    rule: str = ""
    problem: str = ""
    resources: tuple[ResourceDetail, ...] = ()
    nack: NackDetail | None = None
    subscriptions: Subscriptions | None = None
    answers: Answer | None = None
    body: Mapping[str, Any] | None = None  # a non-xDS message (LRS, CSDS, HDS...) decoded
    facts: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # an open's metadata, a close's trailers


# -- entry points ---------------------------------------------------------------------------------


def explain(index: index_mod.RecordingIndex, row: rows.Row, *, max_diffs: int = 200) -> MessageDetail:
    """The detail of one row of `index`; field changes for at most `max_diffs` UPDATED resources."""
    if row.kind == rows.RowKind.MESSAGE:
        return _message(_Messages(index), row, max_diffs, with_nack=True)
    return _event(row)


def diff_of(index: index_mod.RecordingIndex, detail: MessageDetail, name: str) -> ResourceDetail | None:
    """Resource `name` of detail (or of its NACK's push) with its field changes computed; None if absent."""
    found = _find(detail, name)
    if found is None:
        return None
    resource, body = found
    if resource.change != Change.UPDATED or resource.field_changes is not None:
        return resource
    return _with_diff(_Messages(index), resource, body)


def _find(detail: MessageDetail, name: str) -> tuple[ResourceDetail, Any] | None:
    pushes = [detail] + ([detail.nack.push] if detail.nack is not None and detail.nack.push else [])
    for shown in pushes:
        for resource in shown.resources:
            if resource.name == name:
                return resource, (resource.body or {}).get("body")
    return None


# -- reading messages back ------------------------------------------------------------------------


def _read(index: index_mod.RecordingIndex, row: rows.Row) -> tuple[model.MessageSeen | None, str]:
    """The row's message with its bytes, or None and why not."""
    try:
        message = index.message(row)
    except (errors.RecordingReadError, OSError) as e:
        return None, f"the message cannot be read back from the recording: {e}"
    if message is None:
        where = f"block at byte {row.block}" if row.block >= 0 else "no block (not indexed from a file)"
        return None, f"message #{row.seq} is not in the recording ({where})"
    return message, ""


class _Messages:
    """Responses read back and decoded during one explain() (many resources share one previous response).

    A detail view asks for one row at a time, so the cache lives as long as one call, not the index."""

    def __init__(self, index: index_mod.RecordingIndex) -> None:
        self.index = index
        self._envelopes: dict[int, tuple[envelope.Envelope | None, str]] = {}

    def envelope(self, seq: int) -> tuple[envelope.Envelope | None, str]:
        cached = self._envelopes.get(seq)
        if cached is None:
            position = self.index.row_of_seq(seq)
            if position is None:
                cached = None, f"response #{seq} has no row in this index"
            else:
                message, problem = _read(self.index, self.index.rows[position])
                cached = (_decode(message), "") if message is not None else (None, problem)
            self._envelopes[seq] = cached
        return cached

    def previous(self, seq: int, position: int, name: str) -> tuple[resources.DecodedResource | None, str]:
        """The body of an accepted version of `name`: entry `position` of response `seq`."""
        env, problem = self.envelope(seq)
        if env is None:
            return None, f"the previous version (#{seq}): {problem}"
        entries = env.resources
        entry = entries[position] if 0 <= position < len(entries) else None
        if entry is None or entry.name != name:
            entry = next((e for e in entries if e.name == name), None)
        if entry is None:
            return None, f"the previous version (#{seq}) does not hold {name!r}"
        return resources.decode_entry(entry), ""


def _decode(message: model.MessageSeen) -> envelope.Envelope:
    return discovery.decode(message.method, message.direction, bytes(message.raw))


# -- messages -------------------------------------------------------------------------------------


def _message(
    messages: _Messages,
    row: rows.Row,
    max_diffs: int,
    *,
    with_nack: bool,
    priority: frozenset[str] = frozenset(),
) -> MessageDetail:
    """A message row's detail; a response diffs the resources in `priority` first."""
    step = row.step
    verdict = step.verdict
    answered = messages.index.answered(row)
    detail = MessageDetail(
        row,
        _summary(step, answered),
        verdict=verdict.to_json() if verdict is not None else None,
        rule=verdict.rule if verdict is not None else "",
        facts=_message_facts(step),
    )
    if verdict is not None and step.direction == model.Direction.REQUEST:
        detail = dataclasses.replace(
            detail, subscriptions=_subscriptions(verdict), answers=_answer(verdict, answered)
        )
    if with_nack and verdict is not None and verdict.kind == V.NACK:
        detail = _with_nack(messages, detail, verdict, max_diffs)
    message, problem = _read(messages.index, row)
    if message is None:
        return dataclasses.replace(detail, problem=_join(problem, detail.problem))
    env = _decode(message)
    if env.node is None and step.envelope is not None and step.envelope.node is not None:
        env = dataclasses.replace(env, node=step.envelope.node, node_from_stream=True)
    detail = dataclasses.replace(detail, envelope=env.summary(), problem=_join(env.problem, detail.problem))
    if env.kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
        return dataclasses.replace(detail, resources=_resources(messages, row, env, max_diffs, priority))
    if not env.is_discovery and env.message_type and not env.method.rest:
        body = resources.decode_message(env.message_type, bytes(message.raw))
        return dataclasses.replace(detail, body=decoded_export.resource_json(body))
    return detail


def _join(*problems: str) -> str:
    return "; ".join(p for p in problems if p)


def _subscriptions(verdict: protocol.Verdict) -> Subscriptions | None:
    if not (verdict.subscribed or verdict.unsubscribed or verdict.wildcard):
        return None
    return Subscriptions(verdict.subscribed, verdict.unsubscribed, verdict.wildcard)


def _answer(verdict: protocol.Verdict, answered: tracker.Step | None) -> Answer | None:
    if verdict.answers_seq is None:
        return None
    env = answered.envelope if answered is not None else None
    return Answer(
        verdict.answers_seq, verdict.latency_ms, env.version if env else "", env.nonce if env else ""
    )


def _with_nack(
    messages: _Messages, detail: MessageDetail, verdict: protocol.Verdict, max_diffs: int
) -> MessageDetail:
    """Add the NACK's error and the push it rejected, explained (without a nack of its own)."""
    row = detail.row
    error = row.step.envelope.error_detail if row.step.envelope is not None else None
    push_row = _push_row(messages.index, verdict)
    named = words.rejected_names(verdict, push_row.step.verdict if push_row is not None else None)
    problem = ""
    push = None
    if push_row is not None:
        push = _message(messages, push_row, max_diffs, with_nack=False, priority=frozenset(named))
    elif verdict.answers_seq is not None:
        problem = f"the rejected response #{verdict.answers_seq} is not in this index"
    nack = NackDetail(
        error=error.message if error is not None else verdict.error,
        code=error.code if error is not None else None,
        rejected_seq=verdict.answers_seq,
        named=verdict.nacked_names,
        culprits=named,
        push=push,
    )
    return dataclasses.replace(detail, nack=nack, problem=problem)


def _push_row(index: index_mod.RecordingIndex, verdict: protocol.Verdict) -> rows.Row | None:
    if verdict.answers_seq is None:
        return None
    position = index.row_of_seq(verdict.answers_seq)
    return index.rows[position] if position is not None else None


# -- resources ------------------------------------------------------------------------------------


def _resources(
    messages: _Messages,
    row: rows.Row,
    env: envelope.Envelope,
    max_diffs: int,
    priority: frozenset[str],
) -> tuple[ResourceDetail, ...]:
    """Each resource with what it changes for this Envoy; the first max_diffs UPDATED ones diffed
    (those in `priority` first), then the removed ones with the bodies they had."""
    verdict = row.step.verdict
    type_url = verdict.type_url if verdict is not None and verdict.type_url else env.type_url
    state = messages.index.timeline.state_after_index(row.position - 1)
    held = state.accepted.get(row.step.node, {}).get(type_url, {})
    bodies = resources.decode_entries(env.resources)
    out = [
        _resource(entry, decoded, held.get(entry.name), env)
        for entry, decoded in zip(env.resources, bodies, strict=True)
    ]
    order = sorted(range(len(out)), key=lambda i: out[i].name not in priority)
    budget = max(max_diffs, 0)
    for i in order:
        if out[i].change == Change.UPDATED and budget > 0:
            budget -= 1
            out[i] = _with_diff(messages, out[i], bodies[i].body)
    removed = verdict.removed if verdict is not None else env.removed_resources
    out.extend(_removed(messages, name, type_url, held.get(name)) for name in removed)
    return tuple(out)


def _resource(
    entry: envelope.ResourceEntry,
    decoded: resources.DecodedResource,
    previous: tracker.ResourceState | None,
    env: envelope.Envelope,
) -> ResourceDetail:
    if entry.heartbeat:
        change = Change.HEARTBEAT
    elif previous is None:
        change = Change.ADDED
    else:
        change = Change.UNCHANGED if previous.digest == entry.digest else Change.UPDATED
    return ResourceDetail(
        entry.name,
        entry.type_url or env.type_url,
        change,
        decoded_export.resource_json(decoded),
        None if change == Change.UPDATED else (),
        previous.seq if previous is not None else None,
        previous.index if previous is not None else None,
        entry.version or env.version,
        entry.problem,
    )


def _with_diff(messages: _Messages, resource: ResourceDetail, body: Any) -> ResourceDetail:
    """`resource` with its field changes against the version accepted before (or the problem reading it)."""
    if resource.previous_seq is None or resource.previous_index is None:
        return dataclasses.replace(
            resource, problem=_join(resource.problem, "no previous version to compare")
        )
    previous, problem = messages.previous(resource.previous_seq, resource.previous_index, resource.name)
    if previous is None:
        return dataclasses.replace(resource, problem=_join(resource.problem, problem))
    return dataclasses.replace(resource, field_changes=tuple(configdiff.diff(previous.body, body)))


def _removed(
    messages: _Messages, name: str, type_url: str, previous: tracker.ResourceState | None
) -> ResourceDetail:
    if previous is None:
        return ResourceDetail(name, type_url, Change.REMOVED, None, problem="no accepted version was held")
    decoded, problem = messages.previous(previous.seq, previous.index, name)
    return ResourceDetail(
        name,
        type_url,
        Change.REMOVED,
        decoded_export.resource_json(decoded) if decoded is not None else None,
        (),
        previous.seq,
        previous.index,
        previous.version,
        problem,
    )


# -- summaries ------------------------------------------------------------------------------------


def _summary(step: tracker.Step, answered: tracker.Step | None) -> str:
    """One line: type, direction, version, nonce, verdict and what it means."""
    verdict, env = step.verdict, step.envelope
    direction = "request" if step.direction == model.Direction.REQUEST else "response"
    if verdict is None or env is None or not env.is_discovery or (env.problem and not verdict.type_url):
        text = f"#{step.seq} {words.method_label(step.method)} {direction}, {words.size_text(step.size)}"
        return text + (
            f" (problem: {words.one_line(env.problem)})" if env is not None and env.problem else ""
        )
    nonce = env.nonce or env.response_nonce
    text = (
        f"#{step.seq} {words.short_type(verdict.type_url) or '?'} {direction}, version {env.version or '-'}, "
        f"nonce {nonce or '-'}: {words.VERDICT_LABELS[verdict.kind]}"
    )
    meaning = _verdict_words(verdict, answered)
    return f"{text} {meaning}" if meaning else text


def _verdict_words(verdict: protocol.Verdict, answered: tracker.Step | None) -> str:
    kind = verdict.kind
    parts: list[str] = []
    if kind == V.PUSH:
        counts = f"+{len(verdict.added)} ~{len(verdict.updated)} -{len(verdict.removed)}"
        counts += f" ={verdict.unchanged}" if verdict.unchanged else ""
        changed = [f"+{n}" for n in verdict.added] + [f"~{n}" for n in verdict.updated]
        changed += [f"-{n}" for n in verdict.removed]
        parts.append(f"{counts} ({words.names_text(changed)})" if changed else counts)
    elif kind == V.HEARTBEAT:
        parts.append(f"{len(verdict.heartbeats)} TTL refresh(es)")
    elif kind in (V.NOT_MODIFIED, V.HTTP_ERROR):
        parts.append(verdict.rule)
    elif kind == V.UNKNOWN_NONCE:
        parts.append("its nonce was never sent on this stream")
    if verdict.answers_seq is not None:
        latency = f" in {words.latency_text(verdict.latency_ms)}" if verdict.latency_ms is not None else ""
        parts.append(f"of #{verdict.answers_seq}{latency}")
    if kind == V.NACK:
        error = words.nack_error(verdict)
        parts.append(f"error: {words.shorten(error, words.ERROR_WIDTH)}")
        named = words.rejected_names(verdict, answered.verdict if answered is not None else None)
        if named:
            parts.append(f"rejected: {words.names_text(named)}")
    if verdict.wildcard and kind in (V.INITIAL, V.RECONNECT, V.SUBSCRIPTION):
        parts.append(f"wildcard ({verdict.wildcard})")
    if verdict.subscribed and verdict.subscribed != ("*",):
        parts.append(f"subscribe {words.names_text(verdict.subscribed)}")
    if verdict.unsubscribed:
        parts.append(f"unsubscribe {words.names_text(verdict.unsubscribed)}")
    return "; ".join(parts)


def _message_facts(step: tracker.Step) -> tuple[tuple[str, str], ...]:
    arrow = "Envoy → control plane" if step.direction == model.Direction.REQUEST else "control plane → Envoy"
    return (
        ("seq", f"#{step.seq}"),
        ("time", timefmt.rfc3339(step.wall_ns)),
        ("stream", f"c{step.connection}/s{step.stream}"),
        ("node", step.node),
        ("method", step.method),
        ("direction", f"{step.direction} ({arrow})"),
        ("size", words.size_text(step.size)),
    )


# -- rows that are not messages -------------------------------------------------------------------


def header_text(name: str, value: bytes | str) -> str:
    """A header value as text: "-bin" headers in hex, others as UTF-8 with undecodable bytes escaped."""
    if isinstance(value, str):
        return value
    if name.endswith("-bin"):
        return value.hex()
    return value.decode("utf-8", errors="backslashreplace")


def _pairs(metadata: model.Metadata) -> tuple[tuple[str, str], ...]:
    return tuple((name, header_text(name, value)) for name, value in metadata)


_NOT_FACTS = frozenset(("wall_ns", "monotonic_ns", "metadata", "trailers"))


def _event(row: rows.Row) -> MessageDetail:
    event = row.event
    if row.kind == rows.RowKind.QUIET_POLLS and row.quiet is not None:
        return _quiet(row)
    if event is None:
        return MessageDetail(row, f"{row.kind}: {row.step.text}".rstrip(": "))
    facts = [("time", timefmt.rfc3339(event.wall_ns))]
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name not in _NOT_FACTS and value not in ("", ()):
            text = ", ".join(value) if isinstance(value, tuple) else str(value)
            facts.append(
                (field.name, f"{grpc_status.name(value)} ({value})" if field.name == "code" else text)
            )
    headers: model.Metadata = ()
    if isinstance(event, (model.StreamOpened, model.ResponseHeadersSeen)):
        headers = event.metadata
    elif isinstance(event, model.StreamClosed):
        headers = event.trailers
    return MessageDetail(row, _event_summary(event), facts=tuple(facts), headers=_pairs(headers))


def _event_summary(event: model.Event) -> str:
    """What a row that is not a message stands for, in one line."""
    if isinstance(event, model.StreamOpened):
        return f"open {words.method_label(event.method)} from {event.peer}, {len(event.metadata)} header(s)"
    if isinstance(event, model.StreamClosed):
        details = f" {event.details!r}" if event.details else ""
        status = grpc_status.name(event.code)
        return f"close {words.method_label(event.method)}: {status}{details} ({event.cause})"
    if isinstance(event, model.ResponseHeadersSeen):
        return f"response headers ({f'HTTP {event.http_status}' if event.http_status else 'gRPC'})"
    if isinstance(event, model.Gap):
        return (
            f"GAP: {event.records_lost} records ({words.size_text(event.bytes_lost)}, seq {event.first_seq}-"
            f"{event.last_seq}) are missing from the recording: {event.reason}"
        )
    if isinstance(event, model.Note):
        return f"{event.level.upper()}: {event.text}"
    if isinstance(event, model.CaptureStarted):
        return f"capture started: {', '.join(event.listen)} -> {event.upstream} (pid {event.pid})"
    if isinstance(event, model.CaptureStopped):
        lost = f", {event.records_lost} LOST" if event.records_lost else ""
        reason = f" ({event.reason})" if event.reason else ""
        return f"capture stopped: {event.records_written} records written{lost}{reason}"
    return f"message #{event.seq}"


def _quiet(row: rows.Row) -> MessageDetail:
    """A run of REST polls answered 304 (it may still grow: this is how it stood when explained)."""
    run = row.quiet
    assert run is not None
    summary = (
        f"{run.polls} more poll(s) of {run.node} for {words.short_type(run.type_url)}, {run.count} answered "
        f"304 Not Modified, {timefmt.clock(run.first_ns)} – {timefmt.clock(run.last_ns)} "
        f"(#{run.first_seq} – #{run.last_seq})"
    )
    facts = (
        ("node", run.node),
        ("type_url", run.type_url),
        ("not_modified", str(run.count)),
        ("polls", str(run.polls)),
        ("first", f"#{run.first_seq} {timefmt.rfc3339(run.first_ns)}"),
        ("last", f"#{run.last_seq} {timefmt.rfc3339(run.last_ns)}"),
    )
    return MessageDetail(row, summary, facts=facts)


# -- JSON -----------------------------------------------------------------------------------------


def to_json(detail: MessageDetail) -> dict[str, Any]:
    """The whole detail, JSON-ready (a UI's save, tests); empty fields are left out."""
    row = detail.row
    out: dict[str, Any] = {
        "row": {"kind": str(row.kind), "seq": row.seq, "position": row.position, "node": row.node},
        "summary": detail.summary,
    }
    if row.type_url:
        out["row"]["type_url"] = row.type_url
    for key in ("envelope", "verdict", "body"):
        value = getattr(detail, key)
        if value is not None:
            out[key] = dict(value)
    for key in ("rule", "problem"):
        if getattr(detail, key):
            out[key] = getattr(detail, key)
    if detail.facts:
        out["facts"] = dict(detail.facts)
    if detail.headers:
        out["headers"] = [list(pair) for pair in detail.headers]
    if detail.resources:
        out["resources"] = [resource_json(r) for r in detail.resources]
    if detail.nack is not None:
        nack = dataclasses.asdict(dataclasses.replace(detail.nack, push=None))
        nack["push"] = to_json(detail.nack.push) if detail.nack.push is not None else None
        out["nack"] = {k: list(v) if isinstance(v, tuple) else v for k, v in nack.items()}
    for key in ("subscriptions", "answers"):
        value = getattr(detail, key)
        if value is not None:
            out[key] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(value).items()
            }
    return out


def resource_json(resource: ResourceDetail) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": resource.name,
        "type_url": resource.type_url,
        "change": str(resource.change),
    }
    if resource.body is not None:
        out["body"] = dict(resource.body)
    if resource.change == Change.UPDATED:  # null: not computed
        changes = resource.field_changes
        out["field_changes"] = None if changes is None else [field_change_json(c) for c in changes]
    for key in ("previous_seq", "previous_index"):
        if getattr(resource, key) is not None:
            out[key] = getattr(resource, key)
    for key in ("version", "problem"):
        if getattr(resource, key):
            out[key] = getattr(resource, key)
    return out


def field_change_json(change: configdiff.FieldChange) -> dict[str, Any]:
    """{"path", "kind", "old", "new"}, leaving out the side that is configdiff.MISSING."""
    out: dict[str, Any] = {"path": change.path, "kind": str(change.kind)}
    if change.old is not configdiff.MISSING:
        out["old"] = change.old
    if change.new is not configdiff.MISSING:
        out["new"] = change.new
    return out
