"""The journal: ordered entries, copies out, bounded waits that say what they saw."""

from __future__ import annotations

import threading
import time

import pytest

from xdsspy import model
from xdsspy.controlplane import journal as journal_mod


def test_entries_are_ordered_and_carry_stream_and_node() -> None:
    journal = journal_mod.Journal()
    stream = journal.open_stream("/m", "peer")
    journal.message(stream, model.Direction.REQUEST, b"q")
    journal.set_node(stream, "node-1")
    journal.ack(stream, "t", "1", "n1")
    journal.nack(stream, "t", "2", "n2", error_code=13, error_message="bad", last_good_version="1")
    journal.end_stream(stream, journal_mod.StreamEnd.CANCELLED)
    (message,) = journal.messages()
    assert (message.seq, message.method, message.raw) == (2, "/m", b"q")
    assert message.sha256 == "8e35c2cd3bf6641bdb0e2050b76932cbb2e6034a0ddacc1d9bea82a6ba57f7cf"
    assert journal.acks() == [journal_mod.Ack(3, stream, "node-1", "t", "1", "n1")]
    assert journal.nacks()[0].error_message == "bad"
    assert journal.stream(stream).end == journal_mod.StreamEnd.CANCELLED
    assert journal.mark() == 5


def test_acks_after_a_mark_and_when_each_came() -> None:
    journal = journal_mod.Journal()
    stream = journal.open_stream("/m", "peer")
    before = time.monotonic()
    journal.ack(stream, "t", "1", "n1")
    mark = journal.mark()
    journal.message(stream, model.Direction.REQUEST, b"q")
    journal.ack(stream, "t", "2", "n2")
    journal.ack(stream, "t", "3", "n3")
    assert [a.version for a in journal.acks()] == ["1", "2", "3"]
    assert [a.version for a in journal.acks(mark)] == ["2", "3"]
    assert journal.acks(journal.mark()) == []
    came = [a.at for a in journal.acks()]
    assert before <= came[0] <= came[1] <= came[2] <= time.monotonic()


def test_wait_wakes_on_change() -> None:
    journal = journal_mod.Journal()
    stream = journal.open_stream("/m", "peer")
    timer = threading.Timer(0.05, journal.ack, (stream, "t", "1", "n"))
    timer.start()
    try:
        assert journal.wait(lambda: next(iter(journal.acks()), None), 10.0, "an ACK").nonce == "n"
    finally:
        timer.cancel()


def test_wait_timeout_summarises() -> None:
    journal = journal_mod.Journal()
    journal.open_stream("/svc/Method", "peer")
    with pytest.raises(TimeoutError, match=r"no thing within 0.01 s; streams: \[1 Method node=None open\]"):
        journal.wait(lambda: None, 0.01, "thing")
