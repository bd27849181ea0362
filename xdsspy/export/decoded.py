"""The fields `xdsspy export --decode` adds to each message's JSON line: envelope, verdict, resource bodies.

Built from the decoder's and the state tracker's own JSON forms
(`Envelope.summary()`, `Verdict.to_json()`, `resources.decode_entries`), so
the export says exactly what `show` and the TUI say, with resource bodies in
the JSON Envoy's /config_dump prints. Kept apart from `jsonl` so that a plain
export never imports the decoder. Given a `Redactor`, every field it adds goes
through it, as the events themselves go through `redact_events` first.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xdsspy import model
from xdsspy import redact
from xdsspy.decode import discovery
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.decode import schemas
from xdsspy.state import tracker

_RESPONSES = (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE)


def resource_json(decoded: resources.DecodedResource) -> dict[str, Any]:
    """A decoded resource's status, schema, body and notes (what was not fully typed, and where)."""
    out: dict[str, Any] = {"status": str(decoded.status)}
    if decoded.message_type:
        out["message_type"] = decoded.message_type
    if decoded.body is not None:
        out["body"] = decoded.body
    notes = []
    for note in decoded.notes:
        item: dict[str, Any] = {
            "path": note.path,
            "kind": str(note.kind),
            "type_url": note.type_url,
            "detail": note.detail,
        }
        if note.unknown_fields:
            item["unknown_fields"] = [dataclasses.asdict(field) for field in note.unknown_fields]
        notes.append(item)
    if notes:
        out["notes"] = notes
    return out


class Annotator:
    """Feed it every event in order (the verdicts depend on the stream's history); it returns the fields
    to add to that event's JSON object, empty for events that are not messages."""

    def __init__(
        self, registry: schemas.Registry | None = None, *, redactor: redact.Redactor | None = None
    ) -> None:
        self._registry = registry
        self._redactor = redactor
        self._tracker = tracker.Tracker()

    def fields(self, event: model.Event) -> dict[str, Any]:
        step, _ = self._tracker.apply(event)
        if not isinstance(event, model.MessageSeen) or step.envelope is None:
            return {}
        env = step.envelope
        if env.kind in _RESPONSES:
            # The tracker's steps drop resource entries (a timeline must not pin every push's bytes);
            # the envelope is re-read for them, which costs ~2% of decoding their bodies.
            full = discovery.decode(event.method, event.direction, bytes(event.raw), registry=self._registry)
            env = dataclasses.replace(env, resources=full.resources)
        out = env.summary()
        if step.verdict is not None:
            verdict = step.verdict.to_json()
            out["verdict"] = {"kind": verdict.pop("verdict"), **verdict}
        if env.resources:
            bodies = resources.decode_entries(env.resources, registry=self._registry)
            for item, decoded in zip(out["resources"], bodies, strict=True):
                item.update(resource_json(decoded))
        elif not env.is_discovery and env.message_type and not env.method.rest:
            # LRS, CSDS, HDS and known-typed unknown methods: the message itself, decoded.
            decoded = resources.decode_message(env.message_type, bytes(event.raw), registry=self._registry)
            out["message"] = resource_json(decoded)
        if self._redactor is not None:
            redacted: dict[str, Any] = self._redactor.json(out).value
            return redacted
        return out
