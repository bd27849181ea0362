"""Masking a snapshot: bodies, NACK errors and notes, with one marker per secret."""

from __future__ import annotations

from xdsspy import redact
from xdsspy.snapshot import masked
from xdsspy.snapshot import model

PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"


def test_secrets_become_markers_and_are_counted() -> None:
    body = {"@type": model.SECRET, "name": "s", "tls_certificate": {"private_key": {"inline_string": PEM}}}
    items = (
        model.Item(model.SECRET, "s", body),
        model.Item(model.CLUSTER, "c", {"name": "c"}, state=model.State.REJECTED, error=f"bad key {PEM}"),
    )
    snap = model.Snapshot("s", model.SourceKind.RECORDING, items, notes=(f"note {PEM}",))
    redactor = redact.Redactor(salt=b"fixed")
    out, count = masked.masked(snap, redactor)
    assert count == 1
    text = repr(out)
    assert "MIGHAgEA" not in text and redactor.marker(PEM) in text
    assert (
        out.items[1].body == {"name": "c"}
        and snap.items[0].body["tls_certificate"]["private_key"]["inline_string"] == PEM
    )
