"""`export --decode` on real Envoy traffic: envelopes, verdicts with their rules, /config_dump bodies."""

from __future__ import annotations

import io
import json
import pathlib
from typing import Any

import pytest

from xdsspy.export import decoded
from xdsspy.export import jsonl
from xdsspy.record import reader
from xdsspy.testing import factories as f

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def _rows(name: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    jsonl.write(reader.iter_events(RECORDINGS / name), out, decoded.Annotator().fields)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("name", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_nack_carries_its_verdict_rule_error_and_the_rejected_response(name: str) -> None:
    rows = _rows(name)
    nack = next(r for r in rows if r.get("verdict", {}).get("kind") == "nack")
    assert nack["type_url"] == CDS and nack["response_nonce"] and nack["node"]["id"].startswith("sample-")
    assert nack["verdict"]["rule"] == "error_detail present"
    assert "Invalid duration" in nack["error_detail"]["message"] and nack["error_detail"]["code"] == 13
    assert "Invalid duration" in nack["verdict"]["error"] and nack["verdict"]["latency_ms"] >= 0
    rejected = next(r for r in rows if r["seq"] == nack["verdict"]["answers_seq"])
    assert rejected["verdict"]["kind"] == "push" and rejected["nonce"] == nack["response_nonce"]
    bodies = {r["name"]: r["body"] for r in rejected["resources"]}
    assert bodies["static-svc"]["connect_timeout"] == "-1s", "the value Envoy refused"


@pytest.mark.parametrize("name", ["sotw-nack.xdsspy", "delta-nack.xdsspy"])
def test_pushes_carry_decoded_cluster_bodies(name: str) -> None:
    rows = _rows(name)
    first = next(r for r in rows if r.get("type_url") == CDS and r.get("direction") == "response")
    assert first["version_info" if "version_info" in first else "system_version_info"] == "1"
    assert first["verdict"] == {
        "kind": "push",
        "rule": first["verdict"]["rule"],
        "added": ["backend", "static-svc"],
    }
    by_name = {r["name"]: r for r in first["resources"]}
    static = by_name["static-svc"]
    assert static["status"] == "typed" and static["message_type"] == "envoy.config.cluster.v3.Cluster"
    assert static["body"]["@type"] == CDS and static["body"]["connect_timeout"] == "1s"
    assert static["body"]["type"] == "STATIC" and len(static["digest"]) == 32
    assert "notes" not in static, "fully typed: nothing to note"


def test_requests_carry_subscriptions_and_every_message_keeps_its_raw_fields() -> None:
    rows = _rows("delta-nack.xdsspy")
    subscribe = next(r for r in rows if r.get("verdict", {}).get("kind") == "subscription_change")
    assert subscribe["subscribe"] == ["payments"] and subscribe["kind"] == "delta_request"
    for row in rows:
        if row["event"] == "message":
            assert {"raw", "size", "direction", "kind", "verdict"} <= row.keys()
        else:
            assert "verdict" not in row and "kind" not in row


def test_non_discovery_messages_are_decoded_whole() -> None:
    lrs = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"
    annotator = decoded.Annotator()
    assert annotator.fields(f.topen(seq=1, method=lrs)) == {}
    fields = annotator.fields(f.tmessage(b"\x0a\x04\x0a\x02n1", seq=2, method=lrs))  # node { id: "n1" }
    assert fields["kind"] == "other" and fields["node"]["id"] == "n1"
    assert fields["verdict"]["kind"] == "other"
    assert fields["message"]["message_type"] == "envoy.service.load_stats.v3.LoadStatsRequest"
    assert fields["message"]["body"]["node"] == {"id": "n1"}
