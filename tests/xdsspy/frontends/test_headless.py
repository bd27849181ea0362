"""The headless front end: one readable, decoded line per event that matters, printed as it arrives."""

from __future__ import annotations

import io
import pathlib

from xdsspy import model
from xdsspy.decode import discovery
from xdsspy.frontends import headless
from xdsspy.record import reader
from xdsspy.testing import factories as f

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"


def test_lines_name_direction_method_size_and_status() -> None:
    out = io.StringIO()
    headless.print_events(
        [
            f.topen(seq=1),
            f.tmessage(b"x" * 61_234, seq=2, method=f.ADS),
            f.tmessage(b"y" * 12, direction=model.Direction.RESPONSE, seq=3, method=f.ADS),
            f.tclose(code=14, seq=4),
        ],
        out,
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert "open ADS StreamAggregatedResources" in lines[0] and "ipv4:127.0.0.1:40000" in lines[0]
    assert " → ADS StreamAggregatedResources  61.2 kB" in lines[1]
    assert "⚠" in lines[1], "bytes that are not a DiscoveryRequest say so"
    assert " ← " in lines[2] and "12 B" in lines[2]
    assert "UNAVAILABLE 'boom'" in lines[3]


def test_messages_carry_type_version_nonce_and_verdict() -> None:
    out = io.StringIO()
    headless.print_events(reader.iter_events(RECORDINGS / "sotw-nack.xdsspy"), out)
    lines = out.getvalue().splitlines()
    first = next(
        e
        for e in reader.iter_events(RECORDINGS / "sotw-nack.xdsspy")
        if isinstance(e, model.MessageSeen) and e.direction == model.Direction.RESPONSE
    )
    nonce = discovery.decode(first.method, first.direction, first.raw).nonce
    push = next(line for line in lines if line.startswith(f"#{first.seq} "))
    assert "← Cluster" in push and " 1 " in push and nonce in push and " PUSH " in push
    ack = next(line for line in lines if f"of #{first.seq} " in line)
    assert "→ Cluster" in ack and " ACK " in ack
    nack = next(line for line in lines if " NACK " in line)
    assert "Invalid duration" in nack and "static-svc" in nack
    assert "capture stopped" in lines[-1]


def test_gap_is_impossible_to_miss() -> None:
    gap = model.Gap(
        seq=0,
        wall_ns=0,
        monotonic_ns=0,
        first_seq=3,
        last_seq=4,
        records_lost=2,
        bytes_lost=10,
        reason="disk full",
    )
    out = io.StringIO()
    headless.print_events([gap], out, force_terminal=True)
    assert "GAP at" in out.getvalue() and "2 records" in out.getvalue()
    assert "\x1b[1;37;41m" in out.getvalue(), "white on red"
