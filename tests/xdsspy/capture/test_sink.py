"""The seam between forwarding and its consumers: stamps in order, ids shared, failures contained."""

from __future__ import annotations

import itertools

from xdsspy import model
from xdsspy.capture import sink
from xdsspy.testing import factories as f


def test_stamps_are_dense_and_ordered() -> None:
    stamper = sink.Stamper()
    stamps = [stamper.stamp() for _ in range(5)]
    assert [s["seq"] for s in stamps] == [1, 2, 3, 4, 5]
    assert all(a["monotonic_ns"] <= b["monotonic_ns"] for a, b in itertools.pairwise(stamps))


def test_ids_are_shared_by_every_proxy_of_a_capture() -> None:
    ids = sink.Ids()
    assert [ids.new_stream(), ids.new_stream()] == [1, 2]
    assert [ids.new_connection(), ids.new_connection()] == [1, 2]


def test_fan_out_keeps_going_when_one_consumer_fails() -> None:
    seen: list[model.Event] = []

    class Broken:
        def publish(self, event: model.Event) -> None:
            raise RuntimeError("consumer bug")

    class Keeps:
        def publish(self, event: model.Event) -> None:
            seen.append(event)

    fan = sink.FanOut(Broken(), Keeps(), sink.NullSink())
    event = f.tmessage(seq=1)
    fan.publish(event)
    assert seen == [event]


def test_a_connection_context_draws_stream_ids_from_the_shared_counter() -> None:
    ids = sink.Ids()
    first = sink.ConnectionContext(1, "ipv4:127.0.0.1:1", sink.NullSink(), sink.Stamper(), ids, 10)
    second = sink.ConnectionContext(2, "ipv4:127.0.0.1:2", sink.NullSink(), sink.Stamper(), ids, 10)
    assert [first.new_stream(), second.new_stream()] == [
        {"connection": 1, "stream": 1},
        {"connection": 2, "stream": 2},
    ]


def test_how_open_streams_end_with_their_connection() -> None:
    context = sink.ConnectionContext(1, "p", sink.NullSink(), sink.Stamper(), sink.Ids(), 10)
    assert context.ending(model.CloseCause.DOWNSTREAM, "gone") == (1, model.CloseCause.DOWNSTREAM, "gone")
    assert context.ending(model.CloseCause.UPSTREAM, "cp left") == (14, model.CloseCause.UPSTREAM, "cp left")
    context.unreachable = "control plane cp:1 unreachable: Connection refused"
    assert context.ending(model.CloseCause.DOWNSTREAM, "gone") == (
        14,
        model.CloseCause.UPSTREAM_UNAVAILABLE,
        "control plane cp:1 unreachable: Connection refused",
    )
