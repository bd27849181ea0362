"""A row's detail: NACKs beside the push they reject, resources with field changes, events in words."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Sequence

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.load_stats.v3 import lrs_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2

from xdsspy import configdiff
from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.record import format as fmt
from xdsspy.record import writer
from xdsspy.testing import factories as f
from xdsspy.viewmodel import detail
from xdsspy.viewmodel import index
from xdsspy.viewmodel import rows

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
DELTA_ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
LRS = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"
C = detail.Change
REQUEST, RESPONSE = model.Direction.REQUEST, model.Direction.RESPONSE


def indexed(path: pathlib.Path) -> index.RecordingIndex:
    ix = index.RecordingIndex(path)
    ix.run()
    assert ix.error == "" and ix.problems == []
    return ix


def message_row(ix: index.RecordingIndex, seq: int) -> rows.Row:
    position = ix.row_of_seq(seq)
    assert position is not None
    return ix.rows[position]


def by_name(shown: detail.MessageDetail) -> dict[str, detail.ResourceDetail]:
    return {r.name: r for r in shown.resources}


def changes_text(resource: detail.ResourceDetail) -> list[str]:
    assert resource.field_changes is not None, resource
    return [configdiff.format_change(c) for c in resource.field_changes]


def cluster(name: str, timeout_s: float = 1.0, *, lb: int = 0) -> cluster_pb2.Cluster:
    made: cluster_pb2.Cluster = res.eds_cluster(name, connect_timeout_s=timeout_s)
    made.lb_policy = lb
    return made


class Conversation:
    """One Envoy's ADS stream (SotW or Delta) written to a recording by hand, then indexed."""

    def __init__(self, path: pathlib.Path, method: str = f.ADS) -> None:
        self.path = path
        self.method = method
        self.writer = writer.RecordingWriter(path, linger_s=0.001)
        self.seq = 0
        self.event(lambda seq: f.topen(method=method, seq=seq))

    def event(self, make: object) -> int:
        self.seq += 1
        self.writer.publish(make(self.seq))  # type: ignore[operator]
        return self.seq

    def send(self, message: object, direction: model.Direction) -> int:
        raw = message.SerializeToString()  # type: ignore[attr-defined]
        return self.event(lambda seq: f.tmessage(raw, direction, seq=seq, method=self.method))

    def request(
        self, type_url: str = res.CLUSTER, *, version: str = "", nonce: str = "", error: str = ""
    ) -> int:
        req = discovery_pb2.DiscoveryRequest(type_url=type_url, version_info=version, response_nonce=nonce)
        req.node.id = "envoy-1"
        if error:
            req.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        return self.send(req, REQUEST)

    def push(self, items: Sequence[object], version: str, type_url: str = res.CLUSTER) -> int:
        packed = []
        for item in items:
            wrapped = any_pb2.Any()
            wrapped.Pack(item)  # type: ignore[arg-type]
            packed.append(wrapped)
        response = discovery_pb2.DiscoveryResponse(
            type_url=type_url, version_info=version, nonce=f"n{version}", resources=packed
        )
        return self.send(response, RESPONSE)

    def pushed_and_acked(self, items: Sequence[object], version: str) -> int:
        seq = self.push(items, version)
        self.request(version=version, nonce=f"n{version}")
        return seq

    def delta_request(self, *, nonce: str = "", subscribe: Sequence[str] = ()) -> int:
        req = discovery_pb2.DeltaDiscoveryRequest(
            type_url=res.CLUSTER, response_nonce=nonce, resource_names_subscribe=list(subscribe)
        )
        req.node.id = "envoy-1"
        return self.send(req, REQUEST)

    def delta_push(
        self,
        items: Sequence[cluster_pb2.Cluster],
        version: str,
        removed: Sequence[str] = (),
        heartbeats: Sequence[str] = (),
    ) -> int:
        response = discovery_pb2.DeltaDiscoveryResponse(
            type_url=res.CLUSTER, system_version_info=version, nonce=f"n{version}", removed_resources=removed
        )
        for item in items:
            resource = response.resources.add(name=item.name, version=version)
            resource.resource.Pack(item)
        for name in heartbeats:  # a Resource without a body: a TTL refresh
            response.resources.add(name=name, version=version).ttl.FromSeconds(30)
        return self.send(response, RESPONSE)

    def done(self) -> index.RecordingIndex:
        self.event(lambda seq: f.tstop(seq=seq))
        self.writer.close()
        return indexed(self.path)


# -- NACKs beside the push they reject ------------------------------------------------------------


@pytest.mark.parametrize(("sample", "push_seq"), [("sotw-nack", 22), ("delta-nack", 20)])
def test_a_nack_holds_its_whole_error_and_the_push_it_rejected_with_the_culprit_diffed(
    sample: str, push_seq: int
) -> None:
    ix = indexed(RECORDINGS / f"{sample}.xdsspy")
    (position,) = ix.nack_rows
    shown = detail.explain(ix, ix.rows[position])
    nack = shown.nack
    assert nack is not None and nack.push is not None
    assert nack.error.startswith("Invalid duration") and "\nseconds: -1" in nack.error  # whole, not one line
    assert nack.code == 13 and nack.rejected_seq == push_seq and nack.culprits == ("static-svc",)
    assert "NACK" in shown.summary and "Invalid duration" in shown.summary and "static-svc" in shown.summary
    assert shown.answers is not None and shown.answers.seq == push_seq
    assert (
        shown.verdict is not None
        and shown.verdict["verdict"] == "nack"
        and shown.rule == "error_detail present"
    )
    push = nack.push
    assert push.row.seq == push_seq and push.nack is None and push.problem == ""
    static = by_name(push)["static-svc"]
    assert static.change == C.UPDATED and static.previous_seq == 4
    assert changes_text(static) == ['connect_timeout: "1s" → "-1s"']
    assert static.body is not None and static.body["body"]["connect_timeout"] == "-1s"
    assert (
        static.body["status"] == "typed" and static.body["message_type"] == "envoy.config.cluster.v3.Cluster"
    )
    assert shown.envelope is not None and shown.envelope["error_detail"]["message"] == nack.error
    ix.close()


def test_a_rest_push_rejected_by_the_next_poll_shows_what_it_added_and_removed() -> None:
    ix = indexed(RECORDINGS / "rest-reject.xdsspy")
    (position,) = ix.nack_rows
    nack = detail.explain(ix, ix.rows[position]).nack
    assert nack is not None and nack.push is not None
    assert (nack.error, nack.code, nack.rejected_seq, nack.culprits) == ("", None, 50, ("rest-bad",))
    pushed = by_name(nack.push)
    assert {n: r.change for n, r in pushed.items()} == {
        "rest-a": C.UNCHANGED,
        "rest-bad": C.ADDED,
        "rest-b": C.REMOVED,
    }
    bad = pushed["rest-bad"].body
    assert bad is not None and bad["body"]["connect_timeout"].startswith("-")
    gone = pushed["rest-b"]
    assert gone.previous_seq == 30 and gone.body is not None and gone.body["body"]["name"] == "rest-b"
    assert pushed["rest-a"].previous_seq == 5 and pushed["rest-a"].field_changes == ()
    ix.close()


# -- resources and their field changes ------------------------------------------------------------


def test_an_update_lists_exact_field_changes_against_what_the_envoy_accepted(tmp_path: pathlib.Path) -> None:
    c = Conversation(tmp_path / "update.xdsspy")
    c.request()
    first = c.pushed_and_acked([cluster("a"), cluster("b"), cluster("c")], "1")
    rejected = c.push([cluster("a", 5.0), cluster("b"), cluster("c")], "2")
    c.request(version="1", nonce="n2", error="no")
    second = c.pushed_and_acked([cluster("a", 2.0), cluster("b", lb=cluster_pb2.Cluster.RING_HASH)], "3")
    ix = c.done()
    shown = detail.explain(ix, message_row(ix, second))
    pushed = by_name(shown)
    assert [(r.name, r.change) for r in shown.resources] == [
        ("a", C.UPDATED),
        ("b", C.UPDATED),
        ("c", C.REMOVED),
    ]
    # Against the version the Envoy ACKed (1s), not the rejected 5s push in between.
    assert changes_text(pushed["a"]) == ['connect_timeout: "1s" → "2s"']
    assert pushed["a"].previous_seq == first and rejected not in {r.previous_seq for r in shown.resources}
    assert changes_text(pushed["b"]) == ['+ lb_policy: "RING_HASH"']
    removed = pushed["c"]
    assert removed.previous_seq == first and removed.body is not None and removed.body["body"]["name"] == "c"
    saved = detail.to_json(shown)
    assert saved["resources"][0]["field_changes"] == [
        {"path": "connect_timeout", "kind": "changed", "old": "1s", "new": "2s"}
    ]
    assert saved["resources"][1]["field_changes"] == [
        {"path": "lb_policy", "kind": "added", "new": "RING_HASH"}
    ]
    assert json.loads(json.dumps(saved)) == saved
    assert by_name(detail.explain(ix, message_row(ix, first)))["a"].change == C.ADDED


def test_a_delta_removal_shows_the_body_that_went(tmp_path: pathlib.Path) -> None:
    c = Conversation(tmp_path / "delta.xdsspy", DELTA_ADS)
    c.delta_request()
    first = c.delta_push([cluster("x"), cluster("y")], "1")
    c.delta_request(nonce="n1")
    second = c.delta_push([cluster("x", 3.0)], "2", removed=["y"])
    c.delta_request(nonce="n2")
    refresh = c.delta_push([], "3", heartbeats=["x"])
    ix = c.done()
    shown = detail.explain(ix, message_row(ix, second))
    x, y = shown.resources
    assert (x.name, x.change, x.version) == ("x", C.UPDATED, "2")
    assert changes_text(x) == ['connect_timeout: "1s" → "3s"']
    assert (y.name, y.change, y.previous_seq) == ("y", C.REMOVED, first)
    assert y.body is not None and y.body["body"]["name"] == "y" and y.field_changes == ()
    (ttl,) = detail.explain(ix, message_row(ix, refresh)).resources
    assert (ttl.name, ttl.change, ttl.previous_seq, ttl.field_changes) == ("x", C.HEARTBEAT, second, ())


def test_diffs_stop_at_max_diffs_culprits_first_and_diff_of_computes_one_later(
    tmp_path: pathlib.Path,
) -> None:
    names = [f"c{i}" for i in range(5)]
    c = Conversation(tmp_path / "many.xdsspy")
    c.request()
    c.pushed_and_acked([cluster(n) for n in names], "1")
    push = c.push([cluster(n, 2.0) for n in names], "2")
    c.request(version="1", nonce="n2", error="cluster c4: connect_timeout must be positive")
    ix = c.done()
    row = message_row(ix, push)
    full = by_name(detail.explain(ix, row))
    assert all(changes_text(r) == ['connect_timeout: "1s" → "2s"'] for r in full.values())
    capped = detail.explain(ix, row, max_diffs=2)
    assert [r.field_changes is not None for r in capped.resources] == [True, True, False, False, False]
    assert detail.to_json(capped)["resources"][4]["field_changes"] is None
    later = detail.diff_of(ix, capped, "c3")
    assert later is not None and later.field_changes == full["c3"].field_changes
    assert detail.diff_of(ix, capped, "nope") is None
    assert all(r.field_changes is None for r in detail.explain(ix, row, max_diffs=0).resources)
    # A NACK's push diffs what the error names first.
    nack = detail.explain(ix, message_row(ix, push + 1), max_diffs=1).nack
    assert nack is not None and nack.push is not None and nack.culprits == ("c4",)
    assert [r.name for r in nack.push.resources if r.field_changes is not None] == ["c4"]
    found = detail.diff_of(ix, detail.explain(ix, message_row(ix, push + 1), max_diffs=0), "c0")
    assert found is not None and changes_text(found) == ['connect_timeout: "1s" → "2s"']


# -- requests, other messages, rows that are not messages ------------------------------------------


def test_requests_say_what_they_subscribe_to_and_which_response_they_answer() -> None:
    ix = indexed(RECORDINGS / "sotw-nack.xdsspy")
    first = detail.explain(ix, message_row(ix, 3))
    assert first.subscriptions == detail.Subscriptions(wildcard="legacy") and first.answers is None
    eds = detail.explain(ix, message_row(ix, 5))
    assert eds.subscriptions is not None and eds.subscriptions.subscribed == ("backend",)
    ack = detail.explain(ix, message_row(ix, 6))
    assert ack.answers is not None and (ack.answers.seq, ack.answers.version) == (4, "1")
    assert ack.answers.nonce == "9474e0-1" and ack.answers.latency_ms is not None
    assert ack.summary.startswith("#6 Cluster request, version 1, nonce 9474e0-1: ACK of #4")
    assert ack.envelope is not None and ack.envelope["node"]["id"] == "sample-sotw"
    assert ack.resources == () and ack.nack is None and ack.body is None and ack.problem == ""
    assert dict(ack.facts)["node"] == "sample-sotw"
    ix.close()


def test_a_message_that_is_not_xds_is_decoded_whole(tmp_path: pathlib.Path) -> None:
    c = Conversation(tmp_path / "lrs.xdsspy", LRS)
    report = lrs_pb2.LoadStatsRequest()
    report.node.id = "envoy-lrs"
    report.cluster_stats.add(cluster_name="backend", total_dropped_requests=7)
    seq = c.send(report, REQUEST)
    ix = c.done()
    shown = detail.explain(ix, message_row(ix, seq))
    assert shown.body is not None and shown.body["status"] == "typed"
    assert shown.body["body"]["cluster_stats"][0]["total_dropped_requests"] == "7"
    assert shown.verdict is not None and shown.verdict["verdict"] == "other" and shown.resources == ()
    assert "LRS StreamLoadStats request" in shown.summary


def test_rows_that_are_not_messages_say_what_they_stand_for(tmp_path: pathlib.Path) -> None:
    ix = index.RecordingIndex(tmp_path / "never-read.xdsspy")  # these rows need no bytes from a file
    opened = f.topen(seq=2)
    for event in (
        model.CaptureStarted(
            seq=1, wall_ns=1, monotonic_ns=1, listen=("127.0.0.1:15010",), upstream="127.0.0.1:15011", pid=42,
            max_message_bytes=1 << 30,
        ),
        dataclasses.replace(opened, metadata=(*opened.metadata, ("x-odd", b"caf\xe9"))),
        model.Note(seq=3, wall_ns=3, monotonic_ns=3, level=model.NoteLevel.WARNING, text="message left out"),
        model.Gap(
            seq=0, wall_ns=4, monotonic_ns=4, first_seq=4, last_seq=8, records_lost=5, bytes_lost=900,
            reason="disk full",
        ),
        dataclasses.replace(f.tclose(code=14, seq=9), method=f.ADS),  # as the reader fills it in
        model.CaptureStopped(
            seq=10, wall_ns=10, monotonic_ns=10, records_written=9, records_lost=5, reason="disk full"
        ),
    ):  # fmt: skip
        ix.add(event)
    shown = [detail.explain(ix, row) for row in ix.rows]
    assert [d.row.kind for d in shown] == ["capture_start", "open", "note", "gap", "close", "capture_stop"]
    start, opened_d, note, gap, close, stop = shown
    assert all(d.envelope is None and d.problem == "" for d in shown)
    assert start.summary == "capture started: 127.0.0.1:15010 -> 127.0.0.1:15011 (pid 42)"
    assert dict(start.facts)["max_message_bytes"] == str(1 << 30)
    assert opened_d.summary == "open ADS StreamAggregatedResources from ipv4:127.0.0.1:40000, 3 header(s)"
    assert opened_d.headers == (
        ("authorization", "Bearer t0ken"),
        ("x-id-bin", "00ff"),
        ("x-odd", "caf\\xe9"),
    )
    assert dict(opened_d.facts)["peer"] == "ipv4:127.0.0.1:40000"
    assert note.summary == "WARNING: message left out"
    assert gap.summary == "GAP: 5 records (900 B, seq 4-8) are missing from the recording: disk full"
    assert close.summary == "close ADS StreamAggregatedResources: UNAVAILABLE 'boom' (upstream)"
    assert dict(close.facts)["code"] == "UNAVAILABLE (14)" and close.headers == (("x-trailer", "t"),)
    assert stop.summary == "capture stopped: 9 records written, 5 LOST (disk full)"
    saved = detail.to_json(opened_d)
    assert saved["headers"][1] == ["x-id-bin", "00ff"] and "envelope" not in saved


def test_a_run_of_304_polls_is_counted() -> None:
    ix = indexed(RECORDINGS / "rest-reject.xdsspy")
    (row,) = [r for r in ix.rows if r.kind == rows.RowKind.QUIET_POLLS]
    shown = detail.explain(ix, row)
    assert shown.summary.startswith("4 more poll(s) of sample-rest for Listener, 4 answered 304 Not Modified")
    assert dict(shown.facts)["polls"] == "4" and shown.envelope is None
    ix.close()


# -- what cannot be read ------------------------------------------------------------------------------


def test_a_block_damaged_since_indexing_gives_a_problem_not_an_exception(tmp_path: pathlib.Path) -> None:
    damaged = tmp_path / "damaged.xdsspy"
    shutil.copy(RECORDINGS / "sotw-nack.xdsspy", damaged)
    ix = indexed(damaged)
    row = ix.rows[ix.nack_rows[0]]
    with damaged.open("r+b") as file:
        file.seek(row.block + fmt.BLOCK_HEADER.size + 10)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0xFF]))
    shown = detail.explain(ix, row)
    assert "not intact" in shown.problem and shown.envelope is None
    assert shown.nack is not None and shown.nack.error.startswith("Invalid duration")  # from the index
    assert shown.nack.push is not None and "not intact" in shown.nack.push.problem
    assert "Invalid duration" in json.dumps(detail.to_json(shown))
    ix.close()


def test_bytes_that_do_not_decode_are_a_problem(tmp_path: pathlib.Path) -> None:
    c = Conversation(tmp_path / "garbage.xdsspy")
    seq = c.event(lambda seq: f.tmessage(b"\xff\xff\xff\xff", RESPONSE, seq=seq, method=f.ADS))
    ix = c.done()
    shown = detail.explain(ix, message_row(ix, seq))
    assert "did not parse" in shown.problem and shown.envelope is not None and shown.resources == ()


def test_every_row_of_the_samples_explains_to_json() -> None:
    for sample in ("sotw-nack", "delta-nack", "rest-reject"):
        ix = indexed(RECORDINGS / f"{sample}.xdsspy")
        for row in ix.rows:
            saved = detail.to_json(detail.explain(ix, row))
            assert json.loads(json.dumps(saved)) == saved and saved["summary"]
        ix.close()


def test_imports_no_ui_or_grpc() -> None:
    code = "import json, sys; from xdsspy.viewmodel import detail; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert [m for m in json.loads(out) if m.split(".")[0] in ("rich", "textual", "grpc")] == []
