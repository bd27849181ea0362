"""JSON Lines export: documented fields, exact bytes, binary metadata kept."""

from __future__ import annotations

import base64
import io
import json

from xdsspy import model
from xdsspy.export import jsonl
from xdsspy.testing import factories as f


def test_each_event_kind_has_its_documented_fields() -> None:
    opened = f.topen(seq=1)
    message = f.tmessage(b"\x00\xffraw", direction=model.Direction.RESPONSE, seq=2)
    closed = f.tclose(code=14, seq=3)
    gap = model.Gap(
        seq=0,
        wall_ns=1,
        monotonic_ns=1,
        first_seq=4,
        last_seq=9,
        records_lost=6,
        bytes_lost=99,
        reason="disk",
    )
    out = io.StringIO()
    assert jsonl.write([opened, message, closed, gap], out) == 4
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in rows] == ["open", "message", "close", "gap"]
    assert rows[0]["metadata"] == [["authorization", "Bearer t0ken"], ["x-id-bin", {"base64": "AP8="}]]
    assert rows[1]["direction"] == "response" and base64.b64decode(rows[1]["raw"]) == b"\x00\xffraw"
    assert rows[1]["size"] == 5
    assert rows[2]["status"] == {"code": 14, "name": "UNAVAILABLE", "details": "boom"}
    assert rows[2]["trailers"] == [["x-trailer", "t"]]
    assert rows[3]["records_lost"] == 6 and rows[3]["reason"] == "disk"
    assert rows[3]["time"] == "1970-01-01T00:00:00.000000001Z"


def test_non_utf8_text_metadata_is_base64() -> None:
    event = model.StreamOpened(
        seq=1,
        wall_ns=0,
        monotonic_ns=0,
        transport=model.Transport.GRPC,
        method="/a/b",
        peer="p",
        metadata=(("x-odd", b"\xff\xfe"),),
    )
    assert jsonl.to_json(event)["metadata"] == [["x-odd", {"base64": "//4="}]]


def test_annotations_add_fields_but_never_replace_recorded_ones() -> None:
    message = f.tmessage(b"abc", seq=7)
    plain = jsonl.to_json(message)
    out = io.StringIO()
    jsonl.write([message], out, lambda event: {"size": -1, "seq": 0, "verdict": {"kind": "x"}})
    row = json.loads(out.getvalue())
    assert row == {**plain, "verdict": {"kind": "x"}}
    out = io.StringIO()
    jsonl.write([message], out)
    assert json.loads(out.getvalue()) == plain, "without annotations the export is unchanged"
