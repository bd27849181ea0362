"""Masks secrets inside recorded events, so a shared recording stays a valid recording.

Headers and trailers go through `Redactor.headers`, free text (close details,
notes, reasons) through `Redactor.text`, and a query string in a method's path
through `Redactor.headers` too, as name=value pairs. A message is masked where
it is encoded (`redact_wire`): each resource of a response on its own, so a
resource without a secret keeps its bytes, then the rest (node metadata, NACK
text, delta Resource metadata). A REST body is JSON and is masked as such
(one that is not JSON is taken for protobuf, as gRPC messages are).

What cannot be judged may hold secrets and is dropped rather than kept: a body
that does not parse, or whose method names no message type, is emptied (b"",
a valid, empty message); a resource or nested Any of a type no schema defines
keeps its type URL and loses its value; fields no schema defines are dropped.
The counters say how much, for a "N secrets masked in M messages" line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.parse
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

from google.protobuf import message as pb_message

from xdsspy import model
from xdsspy import redact as redaction  # the module; `redact` below is this one's shortcut
from xdsspy import redact_wire
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import methods
from xdsspy.decode import schemas

MAX_PROBLEMS = 100
"""Problems kept for the report; more are only counted."""
MEMO_ENTRIES = 200_000
"""Resources remembered by digest: a SotW push resends the unchanged ones, which then cost a lookup."""

_Outcome = tuple[bytes, redact_wire.Tally] | None


class _Unreadable(Exception):
    """A body that cannot be judged, and why."""


class EventRedactor:
    """Masks events with one `redaction.Redactor` (so markers match its snapshots and diffs) and counts."""

    def __init__(self, redactor: redaction.Redactor, registry: schemas.Registry | None = None) -> None:
        self.redactor = redactor
        self.registry = registry or schemas.default()
        self.wire = redact_wire.WireRedactor(redactor, self.registry)
        self.masked = 0
        """Values masked, parts dropped included."""
        self.events_changed = 0
        self.messages = 0
        self.messages_rewritten = 0
        """Messages whose body was re-encoded with secrets masked."""
        self.bodies_dropped = 0
        """Messages whose body could not be judged and was emptied."""
        self.parts_dropped = 0
        """Resources, nested Anys and unknown fields dropped inside bodies that were kept."""
        self.problems: list[str] = []
        """Why bodies were emptied, "seq N: ...", the first MAX_PROBLEMS."""
        self._memo: dict[tuple[str, bytes], _Outcome] = {}
        self._rest_memo: dict[bytes, _Outcome] = {}
        self._methods: dict[str, tuple[str, int]] = {}

    @property
    def messages_changed(self) -> int:
        return self.messages_rewritten + self.bodies_dropped

    def summary(self) -> str:
        """One line for the user: what was masked, where, and what had to be dropped."""
        line = f"{self.masked} secret(s) masked in {self.events_changed} event(s)"
        line += f" ({self.messages_changed} of {self.messages} message(s))"
        if self.bodies_dropped:
            line += f"; {self.bodies_dropped} message body(ies) emptied: they could not be decoded"
        if self.parts_dropped:
            line += f"; {self.parts_dropped} part(s) without a schema dropped"
        return line

    def events(self, events: Iterable[model.Event]) -> Iterator[model.Event]:
        """Each of `events` through `event`, lazily: a long recording streams through."""
        for event in events:
            yield self.event(event)

    def event(self, event: model.Event) -> model.Event:
        """`event` itself when nothing in it is secret, else a masked copy."""
        changes: dict[str, Any] = {}
        if isinstance(event, model.MessageSeen):
            self.messages += 1
            raw = self._raw(event)
            if raw is not None:
                changes["raw"] = raw
        elif isinstance(event, model.StreamOpened | model.ResponseHeadersSeen):
            self._headers(changes, "metadata", event.metadata)
        elif isinstance(event, model.StreamClosed):
            self._headers(changes, "trailers", event.trailers)
            self._text(changes, "details", event.details)
        elif isinstance(event, model.Note):
            self._text(changes, "text", event.text)
        elif isinstance(event, model.Gap | model.CaptureStopped):
            self._text(changes, "reason", event.reason)
        method = getattr(event, "method", "")
        if "?" in method:
            masked_method, count = self._method(method)
            if count:
                changes["method"] = masked_method
                self.masked += count
        if not changes:
            return event
        self.events_changed += 1
        return dataclasses.replace(event, **changes)

    # -- messages --------------------------------------------------------------------------------

    def _raw(self, event: model.MessageSeen) -> bytes | None:
        raw = bytes(event.raw)
        if not raw:
            return None
        info = methods.classify(event.method)
        try:
            outcome = self._body(info, event.direction, raw)
        except _Unreadable as exc:
            self.bodies_dropped += 1
            self.masked += 1
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append(f"seq {event.seq}: body emptied: {exc}")
            return b""
        if outcome is None:
            return None
        body, tally = outcome
        self.messages_rewritten += 1
        self.masked += tally.masked
        self.parts_dropped += tally.dropped
        return body

    def _body(self, info: methods.MethodInfo, direction: model.Direction, raw: bytes) -> _Outcome:
        looks_like_json = raw.lstrip()[:1] in (b"{", b"[") or not raw.strip()
        if looks_like_json and (info.rest or info.family == methods.Family.UNKNOWN):
            return self._json_body(raw)  # REST bodies are JSON; one that is not is tried as protobuf
        type_name = info.request_type if direction == model.Direction.REQUEST else info.response_type
        if not type_name and info.family == methods.Family.UNKNOWN:
            type_name = discovery.decode(info, direction, raw, registry=self.registry).message_type
        cls = self.wire.message_class(type_name) if type_name else None
        if cls is None:
            raise _Unreadable(f"no message type is known for {info.method or 'a message without method'}")
        try:
            message = cls.FromString(raw)
        except pb_message.DecodeError as exc:
            raise _Unreadable(f"does not parse as {type_name}: {exc}") from exc
        try:
            return self._discovery(message, discovery.kind_of(info, direction))
        except redact_wire.UNDECODABLE as exc:
            raise _Unreadable(f"{type_name} could not be masked: {type(exc).__name__}: {exc}") from exc

    def _discovery(self, message: Any, kind: envelope.Kind) -> _Outcome:
        """Each resource on its own (bytes kept unless masked), then everything else."""
        resources = message.DESCRIPTOR.fields_by_name.get("resources")
        masked = dropped = 0
        changed = False
        skip: tuple[Any, ...] = ()
        payloads: list[Any] = []
        if kind == envelope.Kind.SOTW_RESPONSE and resources is not None:
            skip, payloads = (resources,), list(message.resources)
        elif kind == envelope.Kind.DELTA_RESPONSE and resources is not None:
            skip = (resources.message_type.fields_by_name["resource"],)
            payloads = [wrapper.resource for wrapper in message.resources if wrapper.HasField("resource")]
        for packed in payloads:
            outcome = self._payload(packed.type_url, packed.value)
            if outcome is not None:
                packed.value = outcome[0]
                masked += outcome[1].masked
                dropped += outcome[1].dropped
                changed = True
        tally = self.wire.fields(message, skip)
        if tally is not None:
            masked += tally.masked
            dropped += tally.dropped
            changed = True
        if not changed:
            return None
        return message.SerializeToString(), redact_wire.Tally(masked, dropped)

    def _payload(self, type_url: str, data: bytes) -> _Outcome:
        key = (type_url, hashlib.blake2b(data, digest_size=16).digest())
        try:
            return self._memo[key]
        except KeyError:
            pass
        outcome = self.wire.payload(type_url, data)
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = outcome
        return outcome

    def _json_body(self, raw: bytes) -> _Outcome:
        """A REST body: its JSON masked and written again (compact) when something changed."""
        if not raw.strip():
            return None
        key = hashlib.blake2b(raw, digest_size=16).digest()
        if key in self._rest_memo:
            return self._rest_memo[key]
        try:
            document = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise _Unreadable(f"not JSON: {exc}") from exc
        done = self.redactor.json(document)
        outcome: _Outcome = None
        if done.paths and done.value != document:
            text = json.dumps(done.value, separators=(",", ":"), ensure_ascii=False)
            outcome = text.encode("utf-8"), redact_wire.Tally(len(done.paths), 0)
        if len(self._rest_memo) >= MEMO_ENTRIES // 100:  # polls repeat one body, the latest ones matter
            self._rest_memo.clear()
        self._rest_memo[key] = outcome
        return outcome

    # -- headers and text ------------------------------------------------------------------------

    def _headers(self, changes: dict[str, Any], name: str, pairs: model.Metadata) -> None:
        masked = self.redactor.headers(pairs)
        count = sum(before != after for before, after in zip(pairs, masked, strict=True))
        if count:
            changes[name] = masked
            self.masked += count

    def _text(self, changes: dict[str, Any], name: str, text: str) -> None:
        masked = self.redactor.text(text)
        if masked != text:
            changes[name] = masked
            self.masked += max(1, masked.count("[redacted:") - text.count("[redacted:"))

    def _method(self, method: str) -> tuple[str, int]:
        """A path whose query string's secret parameters (token=, api_key=...) are masked as headers are,
        and how many were."""
        known = self._methods.get(method)
        if known is not None:
            return known
        path, _, query = method.partition("?")
        pairs = [(key, value.encode("utf-8")) for key, value in urllib.parse.parse_qsl(query, True)]
        masked = self.redactor.headers(pairs)
        count = sum(before != after for before, after in zip(pairs, masked, strict=True))
        out = method
        if count:
            out = path + "?" + urllib.parse.urlencode([(key, value.decode("utf-8")) for key, value in masked])
        if len(self._methods) >= 10_000:
            self._methods.clear()
        self._methods[method] = out, count
        return out, count


def redact(events: Iterable[model.Event], redactor: redaction.Redactor) -> Iterator[model.Event]:
    """`events` with their secrets masked (EventRedactor(redactor).events, when no counts are wanted)."""
    return EventRedactor(redactor).events(events)
