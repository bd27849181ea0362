"""Holdings: an ACK makes a push state, a NACK marks what it would have changed, snapshots do not move."""

from __future__ import annotations

from xdsspy.state import holdings
from xdsspy.state import protocol

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


def _push(
    seq: int,
    digests: dict[str, str],
    *,
    type_url: str = CDS,
    full: bool = True,
    removed: tuple[str, ...] = (),
) -> holdings.Pending:
    offer = protocol.Offer(tuple(digests), digests, (), {})
    return holdings.Pending(type_url, "n1", seq, f"v{seq}", offer, removed, full)


def test_accept_replace_all_then_reject_only_what_changed() -> None:
    h = holdings.Holdings()
    changes = h.apply(holdings.Fold(_push(1, {"a": "1", "b": "1"}), accept=True))
    assert sorted((c.name, c.table) for c in changes) == [("a", "accepted"), ("b", "accepted")]
    before, _ = h.snapshot()
    rejected = h.apply(holdings.Fold(_push(2, {"a": "1", "b": "2", "c": "1"}), accept=False, error="bad"))
    assert sorted(c.name for c in rejected) == ["b", "c"]  # a was resent unchanged: not rejected
    assert (
        h.rejected["n1"][CDS]["b"].status == holdings.Status.NACKED
        and h.rejected["n1"][CDS]["b"].error == "bad"
    )
    again = h.apply(holdings.Fold(_push(3, {"a": "1"}), accept=True))  # the fix: b and c withdrawn
    assert sorted((c.table, c.name, c.value is None) for c in again) == [
        ("accepted", "b", True),
        ("rejected", "b", True),
        ("rejected", "c", True),
    ]
    assert set(before["n1"][CDS]) == {"a", "b"}  # the snapshot did not move
    assert set(h.accepted["n1"][CDS]) == {"a"} and h.rejected["n1"][CDS] == {}


def test_a_resent_resource_keeps_the_version_and_position_that_brought_it() -> None:
    h = holdings.Holdings()
    h.apply(holdings.Fold(_push(1, {"x": "d1", "y": "d1"}, type_url=EDS, full=False), accept=True))
    h.apply(holdings.Fold(_push(5, {"y": "d2", "x": "d1"}, type_url=EDS, full=False), accept=True))
    x, y = h.accepted["n1"][EDS]["x"], h.accepted["n1"][EDS]["y"]
    assert (x.version, x.seq, x.index) == ("v1", 1, 0)
    assert (y.version, y.seq, y.index) == ("v5", 5, 0)  # its place in the push that brought it
    h.apply(holdings.Fold(_push(6, {}, type_url=EDS, full=False, removed=("x",)), accept=True))
    assert set(h.accepted["n1"][EDS]) == {"y"}
