"""The payload memo stores on the second sighting, hands out independent copies and stays bounded."""

from __future__ import annotations

from xdsspy.decode import memo


def test_second_sighting_is_stored_and_copies_are_independent() -> None:
    store: memo.PayloadMemo[str] = memo.PayloadMemo()
    key = ("t", b"payload")
    assert store.get(key) is None and not store.should_store(key)
    assert store.should_store(key)
    out = {"@type": "t", "inner": {"x": [1, 2]}}
    store.store(key, out, [(out["inner"], "note about inner")])
    hit = store.get(key)
    assert hit is not None
    copy, notes = hit
    assert copy == out and copy is not out
    assert notes == [(copy["inner"], "note about inner")] and notes[0][0] is copy["inner"]
    copy["inner"]["x"].append(3)
    again = store.get(key)
    assert again is not None and again[0]["inner"]["x"] == [1, 2]
    assert store.hits == 2 and len(store) == 1


def test_notes_about_nodes_outside_the_payload_are_not_stored() -> None:
    store: memo.PayloadMemo[str] = memo.PayloadMemo()
    store.store(("t", b"x"), {"a": 1}, [({"elsewhere": True}, "n")])
    assert len(store) == 0


def test_bounded() -> None:
    store: memo.PayloadMemo[str] = memo.PayloadMemo(max_entries=2)
    for index in range(5):
        store.store(("t", bytes([index])), {"i": index}, [])
    assert len(store) <= 2
    store.clear()
    assert len(store) == 0
