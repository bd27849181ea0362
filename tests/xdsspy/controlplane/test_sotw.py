"""SotW protocol rules without sockets: wildcards, subscription changes, stale nonces, NACKs, pushes."""

from __future__ import annotations

from typing import Any

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import protocol
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import sotw
from xdsspy.controlplane import store as store_mod

Kind = protocol.RequestKind


def new_stream(**types: list[str]) -> tuple[store_mod.Store, sotw.SotwStream]:
    store = store_mod.Store()
    for type_url, names in ((res.CLUSTER, types.get("clusters")), (res.ENDPOINT, types.get("endpoints"))):
        if names is not None:
            store.set(type_url, [(n, n.encode()) for n in names])
    counter = iter(range(1, 1000))
    return store, sotw.SotwStream(store, lambda: f"n{next(counter)}")


def request(type_url: str, *names: str, nonce: str = "", version: str = "", **kw: Any) -> Any:
    return discovery_pb2.DiscoveryRequest(
        type_url=type_url, resource_names=list(names), response_nonce=nonce, version_info=version, **kw
    )


def served(outcome: protocol.Outcome) -> list[list[bytes]]:
    return [[a.value for a in r.resources] for r in outcome.responses]


def test_legacy_wildcard_ends_once_a_name_is_asked_for() -> None:
    _, stream = new_stream(clusters=["a", "b"])
    first = stream.on_request(request(res.CLUSTER))
    assert first.verdict is not None and first.verdict.kind == Kind.INITIAL
    assert served(first) == [[b"a", b"b"]]
    named = stream.on_request(request(res.CLUSTER, "b", nonce="n1"))
    assert served(named) == [[b"b"]]
    emptied = stream.on_request(request(res.CLUSTER, nonce="n2"))  # now means "none", not "all"
    assert served(emptied) == [[]]
    star = stream.on_request(request(res.CLUSTER, "*", nonce="n3"))
    assert served(star) == [[b"a", b"b"]]


def test_named_types_have_no_legacy_wildcard() -> None:
    _, stream = new_stream(endpoints=["a"])
    assert served(stream.on_request(request(res.ENDPOINT))) == [[]]


def test_ack_without_change_is_not_answered() -> None:
    _, stream = new_stream(clusters=["a"])
    stream.on_request(request(res.CLUSTER))
    ack = stream.on_request(request(res.CLUSTER, nonce="n1", version="1"))
    assert ack.verdict == protocol.Verdict(Kind.ACK, res.CLUSTER, "n1", version="1", request_version="1")
    assert ack.responses == ()


def test_nack_names_the_rejected_version_and_keeps_the_last_good_one() -> None:
    store, stream = new_stream(clusters=["a"])
    stream.on_request(request(res.CLUSTER))
    store.set(res.CLUSTER, [("bad", b"x")])
    stream.on_push(res.CLUSTER)
    nack = stream.on_request(
        request(res.CLUSTER, nonce="n2", version="1", error_detail={"code": 13, "message": "bad"})
    )
    assert nack.responses == ()
    assert nack.verdict is not None
    assert (nack.verdict.kind, nack.verdict.version, nack.verdict.request_version) == (Kind.NACK, "2", "1")
    assert (nack.verdict.error_code, nack.verdict.error_message) == (13, "bad")


def test_stale_nonce_changes_nothing() -> None:
    store, stream = new_stream(endpoints=["a", "b"])
    stream.on_request(request(res.ENDPOINT, "a"))
    store.set(res.ENDPOINT, [("a", b"a2"), ("b", b"b2")])
    stream.on_push(res.ENDPOINT)
    stale = stream.on_request(request(res.ENDPOINT, "a", "b", nonce="n1"))
    assert stale.verdict is not None and stale.verdict.kind == Kind.STALE
    assert stale.responses == ()
    store.set(res.ENDPOINT, [("a", b"a3"), ("b", b"b3")])
    assert served(stream.on_push(res.ENDPOINT)) == [[b"a3"]]  # "b" was never subscribed


def test_unknown_nonce_on_a_new_stream_is_an_initial_request() -> None:
    _, stream = new_stream(clusters=["a"])
    outcome = stream.on_request(request(res.CLUSTER, nonce="from-before-a-restart", version="7"))
    assert outcome.verdict is not None and outcome.verdict.kind == Kind.INITIAL
    assert served(outcome) == [[b"a"]]


def test_pushes_go_only_to_subscribed_types_and_only_once_per_version() -> None:
    store, stream = new_stream(clusters=["a"], endpoints=["e"])
    assert stream.on_push(res.CLUSTER).responses == ()  # never asked for
    stream.on_request(request(res.CLUSTER))
    store.set(res.CLUSTER, [("a", b"a2")])
    assert served(stream.on_push(res.CLUSTER)) == [[b"a2"]]
    assert stream.on_push(res.CLUSTER).responses == ()  # a second queued push for the same version


def test_first_node_is_kept() -> None:
    _, stream = new_stream(clusters=[])
    stream.on_request(request(res.CLUSTER, node={"id": "one"}))
    stream.on_request(request(res.LISTENER, node={"id": "two"}))
    assert stream.node_id == "one"
