"""The reproduction verdict: which pushes differ, what is not compared, the lines and the JSON."""

from __future__ import annotations

import json

from xdsspy.replay import engine
from xdsspy.replay import plan
from xdsspy.replay import report

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def push(number: int, original: plan.Answer) -> plan.Push:
    return plan.Push(number, number * 2, 0, 0, CDS, str(number), {"a": b"\x0a\x01a"}, (), original, "sotw")


def served(number: int, original: plan.Answer, fresh: plan.Answer, note: str = "") -> engine.Served:
    return engine.Served(push(number, original), str(number), fresh, note, number - 1)


ACK = plan.Answer("ack", seq=3)
NACK = plan.Answer("nack", "Invalid duration:\n  seconds: -1", seq=5)


def test_what_counts_as_a_difference() -> None:
    same_nack = plan.Answer("nack", "Invalid duration: seconds: -1")  # whitespace aside, the same words
    rows = [
        report.compare(served(1, ACK, plan.Answer("ack"))),
        report.compare(served(2, NACK, same_nack)),
        report.compare(served(3, NACK, plan.Answer("nack", "another reason"))),
        report.compare(served(4, ACK, plan.Answer("nack", "x"))),
        report.compare(
            served(5, ACK, plan.NO_ANSWER, "not sent: the fresh Envoy had asked for none of what changed")
        ),
        report.compare(served(6, ACK, plan.NO_ANSWER, "sent, and not answered within 30 s")),
        report.compare(served(7, plan.NO_ANSWER, plan.Answer("ack"))),
    ]
    assert [r.match for r in rows] == [
        report.Match.SAME,
        report.Match.SAME,
        report.Match.DIFFERENT,
        report.Match.DIFFERENT,
        report.Match.NOT_COMPARED,
        report.Match.DIFFERENT,
        report.Match.NOT_COMPARED,
    ]
    assert rows[2].why == "NACKed with another error"
    assert rows[3].why == "ACK when recorded, NACK here"


def test_the_report_says_whether_it_reproduced_and_why_not() -> None:
    recorded = plan.Plan(
        "sidecar~1~a.ns~ns", (push(1, ACK), push(2, NACK)), ("TTLs are not replayed",), "torn at 7"
    )
    good = report.build(
        recorded,
        [served(1, ACK, plan.Answer("ack")), served(2, NACK, plan.Answer("nack", NACK.error))],
        recording="r.xdsspy",
        fresh_node="fresh",
        mode="fast",
        reconnects=1,
    )
    assert good.reproduced
    text = "\n".join(report.lines(good))
    assert "reproduced: 2 push(es) answered as recorded" in text
    assert "note: TTLs are not replayed" in text and "damaged or torn (torn at 7)" in text
    assert "reconnected 1 time(s)" in text
    bad = report.build(
        recorded,
        [served(1, ACK, plan.Answer("nack", "boom")), served(2, NACK, plan.Answer("ack"))],
        recording="r.xdsspy",
        fresh_node="fresh",
        mode="fast",
        others=["second"],
    )
    assert not bad.reproduced and len(bad.differences) == 2
    text = "\n".join(report.lines(bad))
    assert (
        "NOT reproduced: 2 push(es) answered differently" in text
        and "also served (not compared): second" in text
    )
    assert report.line(bad.rows[0]).startswith("≠ push 1")
    nobody = report.build(recorded, [], recording="r", fresh_node="", mode="fast")
    assert not nobody.reproduced and "no Envoy connected" in "\n".join(report.lines(nobody))


def test_json_holds_every_push_with_both_answers() -> None:
    recorded = plan.Plan("n", (push(1, NACK),), ())
    result = report.build(
        recorded, [served(1, NACK, plan.Answer("nack", "other"))], recording="r", fresh_node="f", mode="step"
    )
    data = json.loads(json.dumps(report.to_json(result)))
    assert data["format"] == report.REPORT_FORMAT and data["reproduced"] is False
    (row,) = data["pushes"]
    assert row["recorded"] == {"answer": "nack", "error": NACK.error, "seq": 5}
    assert row["fresh"]["error"] == "other" and row["match"] == "different" and row["set"] == ["a"]


def test_lines_come_out_in_push_order_whatever_order_pushes_settle_in() -> None:
    out: list[str] = []
    ordered = report.InOrder(out.append)
    ordered.add(1, "second")
    ordered.add(2, "third")
    assert out == []
    ordered.add(0, "first")
    assert out == ["first", "second", "third"]
    ordered.add(4, "fifth")
    ordered.flush()
    assert out[-1] == "fifth"


def test_errors_compare_without_protobufs_random_debug_markers() -> None:
    one = "Invalid duration: Expected positive duration: goo.gle/debugproto  \nseconds: -1\n"
    two = "Invalid duration: Expected positive duration: goo.gle/debugstr seconds: -1"
    assert report.comparable_error(one) == report.comparable_error(two)
    row = report.compare(served(1, plan.Answer("nack", one), plan.Answer("nack", two)))
    assert row.match == report.Match.SAME
