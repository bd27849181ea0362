"""Envelope helpers: the lazy digest, the version shortcut and the JSON summary."""

from __future__ import annotations

import hashlib
import json

from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.decode import methods


def test_digest_is_blake2b_of_the_raw_bytes_computed_once() -> None:
    entry = envelope.ResourceEntry(0, "t", "n", b"abc")
    assert entry.digest == hashlib.blake2b(b"abc", digest_size=16).hexdigest()
    assert entry._digest == entry.digest
    assert envelope.ResourceEntry(1, "t", "other", b"abc").digest == entry.digest


def test_summary_is_json_and_omits_what_is_empty() -> None:
    info = methods.classify("/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources")
    env = envelope.Envelope(
        kind=envelope.Kind.DELTA_RESPONSE,
        method=info,
        direction=model.Direction.RESPONSE,
        size=10,
        type_url="t",
        system_version_info="v1",
        nonce="n",
        removed_resources=("gone",),
        resources=(
            envelope.ResourceEntry(0, "t", "a", b"x", version="1", ttl_seconds=2.0),
            envelope.ResourceEntry(1, "t", "b", b"", heartbeat=True, wrapped=True),
        ),
        resource_errors=(envelope.ResourceError("c", envelope.ErrorDetail(3, "bad")),),
    )
    summary = json.loads(json.dumps(env.summary()))
    assert summary["kind"] == "delta_response" and summary["system_version_info"] == "v1"
    assert "version_info" not in summary and "node" not in summary
    assert summary["removed_resources"] == ["gone"]
    assert summary["resources"][0]["digest"] and summary["resources"][1]["heartbeat"] is True
    assert summary["resource_errors"] == [
        {"name": "c", "code": 3, "code_name": "INVALID_ARGUMENT", "message": "bad"}
    ]
    assert env.version == "v1" and not env.is_request and env.is_discovery
