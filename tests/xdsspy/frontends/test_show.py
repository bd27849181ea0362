"""`show` on real Envoy traffic (the sample recordings): verdicts on every line, NACKs named, filters."""

from __future__ import annotations

import io
import pathlib
import re

import pytest
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from xdsspy import model
from xdsspy.frontends import render
from xdsspy.frontends import show
from xdsspy.testing import factories as f
from xdsspy.viewmodel import words

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
SAMPLES = ["sotw-nack.xdsspy", "delta-nack.xdsspy"]
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LRS = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"
MESSAGE_LINE = re.compile(r"^#(\d+) .* [→←] ")


def _show(name: str, flt: show.Filter | None = None) -> tuple[list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    assert show.show_file(str(RECORDINGS / name), show.Show(flt), out=out, err=err) == 0
    return out.getvalue().splitlines(), err.getvalue()


def _seqs(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := MESSAGE_LINE.match(line))]


@pytest.mark.parametrize("name", SAMPLES)
def test_nack_line_names_the_error_and_the_rejected_cluster(name: str) -> None:
    lines, err = _show(name)
    assert err == ""
    nacks = [line for line in lines if " NACK " in line]
    assert len(nacks) == 1
    nack = nacks[0]
    assert "Cluster" in nack and "Invalid duration: Expected positive duration" in nack
    assert "rejected: static-svc" in nack, "the cluster the rejected push changed"
    assert re.search(r"of #\d+ in [\d.]+ ms", nack), "the response it answers, and the latency"
    assert re.search(r"duration: goo\.gle/\S+ seconds: -1 — ", nack), "Envoy's newlines are flattened"


@pytest.mark.parametrize("name", SAMPLES)
def test_every_message_gets_one_line_with_a_verdict(name: str) -> None:
    lines, _ = _show(name)
    messages = [line for line in lines if MESSAGE_LINE.match(line)]
    assert len(messages) == len(_seqs(lines)) > 15
    labels = {label for label in words.VERDICT_LABELS.values() if label}
    for line in messages:
        assert any(f" {label} " in line or line.endswith(f" {label}") for label in labels), line
    first_push = next(line for line in messages if " PUSH " in line)
    assert "Cluster" in first_push and "+2 ~0 -0" in first_push and "+backend, +static-svc" in first_push
    assert any(" ACK " in line and re.search(r"of #\d+ in", line) for line in messages)
    assert lines[1].split()[3:5] == ["open", "ADS"] and "close ADS" in lines[-2]
    assert "capture started" in lines[0] and "capture stopped" in lines[-1]


def test_nacks_shows_only_the_nack_with_the_response_it_rejected() -> None:
    lines, _ = _show("sotw-nack.xdsspy", show.Filter(nacks=True))
    assert len(lines) == 2, lines
    assert " NACK " in lines[0] and "static-svc" in lines[0]
    detail = lines[1]
    assert detail.startswith(" ") and "rejected #22 Cluster version '3'" in detail
    assert "3 resource(s) backend, static-svc, payments" in detail and "changed: ~static-svc" in detail


@pytest.mark.parametrize(
    "wanted",
    [
        "Cluster",
        "cluster",
        "envoy.config.cluster.v3.Cluster",
        "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "CDS",
    ],
)
def test_type_filter_takes_short_full_url_and_service_names(wanted: str) -> None:
    everything, _ = _show("sotw-nack.xdsspy")
    expected = [int(line.split()[0][1:]) for line in everything if re.search(r" [→←] Cluster ", line)]
    lines, err = _show("sotw-nack.xdsspy", show.Filter(type=wanted))
    assert len(expected) == 7 and _seqs(lines) == expected and err == ""
    assert not any("ClusterLoadAssignment" in line or "Listener" in line for line in lines)
    assert "open ADS" in lines[0] and "close ADS" in lines[-1], "the stream's open/close frame its lines"


def test_node_filter_with_wildcards_and_a_clear_word_when_nothing_matches() -> None:
    everything, _ = _show("delta-nack.xdsspy")
    for node in ("sample-delta", "sample-*"):
        lines, _ = _show("delta-nack.xdsspy", show.Filter(node=node))
        assert _seqs(lines) == _seqs(everything)
        assert "capture started" not in lines[0], "a filtered view holds only the node's streams"
    lines, err = _show("delta-nack.xdsspy", show.Filter(node="other"))
    assert lines == []
    assert "no message from node 'other' (nodes seen: sample-delta)" in err
    _, err = _show("delta-nack.xdsspy", show.Filter(type="Clustr"))
    assert "no message of type 'Clustr'" in err and "ClusterLoadAssignment" in err


def test_the_open_line_waits_for_the_node_to_be_known() -> None:
    view = show.Show(show.Filter(node="n1"))
    request = discovery_pb2.DiscoveryRequest(type_url=EDS, node={"id": "n1"}, resource_names=["a"])
    assert view.feed(f.topen(seq=1)) == []
    lines = view.feed(f.tmessage(request.SerializeToString(), seq=2, method=f.ADS))
    assert lines[0].plain.split()[3:5] == ["n1", "open"], "held back, then shown with the node"
    assert lines[1].plain.split()[3:5] == ["n1", "→"]
    assert view.feed(f.tclose(seq=3))[0].plain.split()[3:5] == ["n1", "close"]


def _response(nonce: str, *resources: discovery_pb2.Resource) -> bytes:
    anys = []
    for resource in resources:
        packed = any_pb2.Any()
        packed.Pack(resource)
        anys.append(packed)
    return discovery_pb2.DiscoveryResponse(
        type_url=EDS, version_info="1", nonce=nonce, resources=anys
    ).SerializeToString()


def test_heartbeats_stale_nacks_and_problems_on_hand_made_traffic() -> None:
    view = show.Show()
    body = discovery_pb2.Resource(name="a", version="1")
    body.resource.Pack(endpoint_pb2.ClusterLoadAssignment(cluster_name="a"))
    events = [
        f.topen(seq=1),
        f.tmessage(discovery_pb2.DiscoveryRequest(type_url=EDS).SerializeToString(), seq=2, method=f.ADS),
        f.tmessage(_response("n1", body), model.Direction.RESPONSE, seq=3, method=f.ADS),
        f.tmessage(
            _response("n2", discovery_pb2.Resource(name="a")), model.Direction.RESPONSE, seq=4, method=f.ADS
        ),
        f.tmessage(b"\xff\xff", seq=5, method=f.ADS),
    ]
    lines = [line for event in events for line in view.feed(event)]
    by_seq = {line.plain.split()[0]: line for line in lines}
    assert " PUSH " in by_seq["#3"].plain and "+1 ~0 -0" in by_seq["#3"].plain
    assert " HEARTBEAT " in by_seq["#4"].plain and by_seq["#4"].style == "dim"
    assert "ADS StreamAggregatedResources" in by_seq["#5"].plain and "⚠" in by_seq["#5"].plain


def test_non_xds_methods_get_one_line_with_method_and_size() -> None:
    view = show.Show()
    lines = [
        line
        for event in (f.topen(seq=1, method=LRS), f.tmessage(b"\x0a\x00" * 6, seq=2, method=LRS))
        for line in view.feed(event)
    ]
    assert "LRS StreamLoadStats  12 B" in lines[1].plain
    assert show.Show(show.Filter(type="Cluster")).feed(f.tmessage(b"", seq=3, method=LRS)) == []


def test_gaps_survive_every_filter() -> None:
    gap = model.Gap(
        seq=0, wall_ns=0, monotonic_ns=0, first_seq=1, last_seq=2, records_lost=2, bytes_lost=9, reason="x"
    )
    assert "GAP" in show.Show(show.Filter(nacks=True, node="n")).feed(gap)[0].plain


def test_printer_batches_but_flushes_when_the_input_idles() -> None:
    out = io.StringIO()
    printer = show.Printer(show.console_for(out), batch=100, max_delay_s=60)
    printer.add([render.Text("one"), render.Text("two")])
    assert out.getvalue() == ""
    assert printer.idle() is False
    assert out.getvalue() == "one\ntwo\n"
    colour = io.StringIO()
    printer = show.Printer(show.console_for(colour, force_terminal=True), batch=1)
    printer.add([render.Text("NACK", "bold red")])
    assert "\x1b[" in colour.getvalue() and "NACK" in colour.getvalue()


def test_rest_polls_collapse_304_runs_and_show_the_inferred_rejection() -> None:
    lines, err = _show("rest-reject.xdsspy")
    assert err == ""
    assert not any(" open " in line or " close " in line for line in lines), "poll streams are not noise"
    summaries = [line for line in lines if "answered 304 Not Modified" in line]
    assert summaries and all(re.search(r"\d+ more poll\(s\)", line) for line in summaries)
    shown_304 = [line for line in lines if " 304 " in line and MESSAGE_LINE.match(line)]
    assert len(shown_304) < 10, "runs of 304 collapse to their first poll plus one summary line"
    nack = next(line for line in lines if " NACK " in line)
    assert "REST: the next poll kept the old version" in nack and "rejected: rest-bad" in nack


def test_an_expression_narrows_like_the_ui_s_filter_bar() -> None:
    nacks, _ = _show("delta-nack.xdsspy", show.Filter(expression="~nack"))
    assert len(_seqs(nacks)) == 1 and any(" NACK " in line for line in nacks)
    both, _ = _show("delta-nack.xdsspy", show.Filter(type="Cluster", expression="~resp"))
    messages = [line for line in both if MESSAGE_LINE.match(line)]
    assert messages and all(" ← " in line and "Cluster" in line for line in messages)
    assert show.Filter(expression="  ").active is False


def test_a_bad_expression_fails_before_anything_is_read() -> None:
    from xdsspy.viewmodel import filterexpr

    with pytest.raises(filterexpr.FilterError) as bad:
        show.Show(show.Filter(node="n", expression="~t cds &"))
    assert bad.value.position == 7  # a column of the user's own text, not of the combined expression
