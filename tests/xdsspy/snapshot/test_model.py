"""The snapshot model: what is accepted, how items are keyed, how types are named and ordered."""

from __future__ import annotations

from xdsspy.snapshot import model


def test_accepted_states_and_rejected_ones_on_request() -> None:
    items = tuple(model.Item(model.CLUSTER, s.value, {}, state=s) for s in model.State)
    snap = model.Snapshot("s", model.SourceKind.CONFIG_DUMP, items)
    assert [i.name for i in snap.selected()] == ["static", "active", "warming"]
    assert [i.name for i in snap.selected(with_rejected=True)] == ["static", "active", "warming", "rejected"]


def test_a_rejected_version_has_a_key_of_its_own() -> None:
    accepted = model.Item(model.CLUSTER, "a", {})
    rejected = model.Item(model.CLUSTER, "a", {}, state=model.State.REJECTED)
    assert accepted.key != rejected.key


def test_types_are_named_and_ordered_as_envoy_depends_on_them() -> None:
    assert (
        model.plural(model.CLUSTER) == "clusters"
        and model.plural("type.googleapis.com/x.y.MyConfig") == "MyConfig"
    )
    assert sorted([model.ENDPOINT, model.CLUSTER, model.LISTENER], key=model.type_order) == [
        model.LISTENER,
        model.CLUSTER,
        model.ENDPOINT,
    ]


def test_with_items_keeps_the_rest_and_adds_notes() -> None:
    snap = model.Snapshot("s", model.SourceKind.RECORDING, (), node="n", notes=("one",))
    again = snap.with_items([model.Item(model.CLUSTER, "a", {})], "two")
    assert again.node == "n" and again.notes == ("one", "two") and len(again.items) == 1
