"""How a comparison reads: full paths in text, a folded markdown for issues, JSON a script can apply."""

from __future__ import annotations

import json

from xdsspy import configdiff
from xdsspy import configpatch
from xdsspy.snapshot import compare
from xdsspy.snapshot import model
from xdsspy.snapshot import report


def snap(source: str, *items: model.Item) -> model.Snapshot:
    return model.Snapshot(source, model.SourceKind.RECORDING, items, node="n1", seq=3)


def cluster(name: str, **fields: object) -> model.Item:
    return model.Item(model.CLUSTER, name, {"@type": model.CLUSTER, "name": name, **fields}, version="v1")


def test_text_names_sides_counts_and_each_change() -> None:
    c = compare.compare(snap("a", cluster("x", lb_policy="RANDOM")), snap("b", cluster("x"), cluster("y")))
    text = report.text(c)
    assert text.splitlines()[:2] == ["A: a (recording, n1, event 3)", "B: b (recording, n1, event 3)"]
    assert "clusters: 1 changed, 1 added, 0 removed, 0 the same" in text
    assert '  - clusters[x].lb_policy: "RANDOM"' in text and "  + clusters[y] (version v1)" in text


def test_the_same_says_how_much_was_compared() -> None:
    assert "no differences (1 resource(s) compared)" in report.text(
        compare.compare(snap("a", cluster("x")), snap("b", cluster("x")))
    )
    assert "no resources on either side" in report.text(compare.compare(snap("a"), snap("b")))


def test_markdown_folds_a_long_list_and_escapes_backticks() -> None:
    old = [cluster(f"c{i}") for i in range(30)]
    new = [cluster(f"c{i}", lb_policy="RANDOM") for i in range(30)] + [cluster("odd`name")]
    md = report.markdown(compare.compare(snap("a", *old), snap("b", *new)), context=1)
    assert "| clusters | 30 | 1 | 0 | 0 |" in md
    assert "<details><summary>" in md and md.count("</details>") == 31  # the type's list, and 30 YAML diffs
    assert "``+ clusters[odd`name] (version v1)``" in md


def test_json_changes_rebuild_b_from_a() -> None:
    a = snap("a", cluster("x", circuit_breakers={"thresholds": [{"max_requests": 1}]}), cluster("gone"))
    b = snap(
        "b",
        cluster("x", circuit_breakers={"thresholds": [{"max_requests": 2}, {"priority": "HIGH"}]}),
        cluster("new"),
    )
    data = json.loads(report.as_json(compare.compare(a, b)))
    assert data["summary"] == {"clusters": {"changed": 1, "added": 1, "removed": 1, "same": 0}}
    by_path = {c["path"]: c for c in data["changes"]}
    assert by_path["clusters[x].circuit_breakers.thresholds[0].max_requests"]["new"] == 2
    assert by_path["clusters[gone]"]["kind"] == "removed" and by_path["clusters[new]"]["new"]["name"] == "new"
    # what a script does with it: apply each resource's field changes to A's body
    fields = [c for c in data["changes"] if c["name"] == "x"]
    changes = [
        configdiff.FieldChange(
            c["field"],
            configdiff.ChangeKind(c["kind"]),
            c.get("old", configdiff.MISSING),
            c.get("new", configdiff.MISSING),
            tuple(c["location"]),
            tuple(c["old_location"]),
        )
        for c in fields
    ]
    rebuilt = configpatch.apply(a.items[0].body, changes)
    assert rebuilt == b.items[0].body
