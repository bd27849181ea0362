"""Comparing a recording with the control plane's own log, stream by stream and direction by direction."""

from __future__ import annotations

from xdsspy import model
from xdsspy.controlplane import journal
from xdsspy.harness import fidelity

M = "/svc/Method"
Q, R = model.Direction.REQUEST, model.Direction.RESPONSE


def logged(stream: int, *messages: tuple[model.Direction, bytes]) -> list[journal.LoggedMessage]:
    return [journal.LoggedMessage(i, stream, M, d, raw) for i, (d, raw) in enumerate(messages)]


def recorded(stream: int, *messages: tuple[model.Direction, bytes]) -> list[model.Event]:
    events: list[model.Event] = [
        model.StreamOpened(
            seq=0,
            wall_ns=0,
            monotonic_ns=0,
            connection=1,
            stream=stream,
            transport=model.Transport.GRPC,
            method=M,
            peer="p",
        )
    ]
    events += [
        model.MessageSeen(seq=0, wall_ns=0, monotonic_ns=0, connection=1, stream=stream, direction=d, raw=raw)
        for d, raw in messages
    ]
    return events


def test_identical_streams_match_even_if_directions_interleave_differently() -> None:
    cp = fidelity.from_control_plane(logged(7, (Q, b"q1"), (R, b"r1"), (Q, b"q2")))
    rec = fidelity.from_recording(recorded(1, (Q, b"q1"), (Q, b"q2"), (R, b"r1")) + recorded(2))
    report = fidelity.compare(cp, rec)
    assert report.ok
    assert [r.label for r in report.recorded_only] == ["recorded stream 2 (connection 1)"]
    assert "1 streams identical" in str(report)


def test_a_changed_byte_is_found_and_located() -> None:
    cp = fidelity.from_control_plane(logged(7, (Q, b"q1"), (R, b"r1")))
    rec = fidelity.from_recording(recorded(1, (Q, b"q1"), (R, b"r1!")))
    report = fidelity.compare(cp, rec)
    assert not report.ok
    assert "closest is recorded stream 1 (connection 1): response #1 differs" in report.missing[0]


def test_prefix_ok_accepts_a_stream_cut_short() -> None:
    cp = fidelity.from_control_plane(logged(7, (Q, b"q1"), (R, b"r1")))
    rec = fidelity.from_recording(recorded(1, (Q, b"q1"), (R, b"r1"), (Q, b"ack never delivered")))
    assert not fidelity.compare(cp, rec).ok
    assert fidelity.compare(cp, rec, prefix_ok=True).ok
