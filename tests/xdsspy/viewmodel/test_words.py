"""Plain-text names: short names that stay recognisable, sizes and latencies, a NACK's culprits."""

from __future__ import annotations

import dataclasses

from xdsspy.state import protocol
from xdsspy.viewmodel import words

V = protocol.VerdictKind
LRS = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"


def test_shorten_keeps_head_and_tail() -> None:
    assert words.shorten("0ebb34-1", 9) == "0ebb34-1"
    assert words.shorten("6f1c7a2e-3b9d-4f6a-9c1e-2d8b7a6f5e4d", 9) == "6f1c…5e4d"
    assert len(words.shorten("x" * 100, 16)) == 16
    assert words.shorten("abcdef", 2) == "ab", "too narrow for an ellipsis: the head only"


def test_short_names() -> None:
    assert words.short_type("type.googleapis.com/envoy.config.cluster.v3.Cluster") == "Cluster"
    assert words.short_type("type.googleapis.com/envoy.api.v2.Cluster") == "Cluster(v2)"
    assert words.type_name("type.googleapis.com/envoy.api.v2.Cluster") == "envoy.api.v2.Cluster"
    assert words.is_v2("envoy.api.v2.Cluster") and words.is_v2("envoy.config.filter.v2.X")
    assert not words.is_v2("envoy.config.cluster.v3.Cluster")
    assert words.short_node("sidecar~10.0.0.7~reviews-v1-abc.default~default.svc.cluster.local") == (
        "reviews-v1-abc.default"
    )
    assert words.short_node("sample-sotw") == "sample-sotw"
    assert words.method_label(LRS) == "LRS StreamLoadStats"
    assert words.method_label("/x.Y/Z") == "/x.Y/Z"
    assert words.size_text(61_234) == "61.2 kB" and words.latency_text(15_000) == "15.0 s"
    assert words.one_line("Invalid duration:    \nseconds: -1\n") == "Invalid duration: seconds: -1"


def test_rejected_names_prefer_the_error_then_what_the_push_changed() -> None:
    nack = protocol.Verdict(V.NACK, "r", rejected_names=("a", "b", "c"))
    push = protocol.Verdict(V.PUSH, "r", added=("c",), updated=("b",))
    assert words.rejected_names(dataclasses.replace(nack, nacked_names=("a",)), push) == ("a",)
    assert words.rejected_names(nack, push) == ("c", "b")
    assert words.rejected_names(nack, None) == ("a", "b", "c")


def test_names_text_stops_at_its_limit_and_shows_empty_names() -> None:
    assert words.names_text(["a", "", "c"]) == 'a, "", c'
    assert words.names_text([str(n) for n in range(8)], 3) == "0, 1, 2 … +5 more"
    assert words.names_text([str(n) for n in range(8)]).endswith("4 … +3 more"), "NAMES_SHOWN by default"


def test_every_verdict_has_a_label_and_clock_keeps_milliseconds() -> None:
    assert set(words.VERDICT_LABELS) == set(V)
    assert words.clock(1_700_000_000_123_456_789).endswith(".123")
