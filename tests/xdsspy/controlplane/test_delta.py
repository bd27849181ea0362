"""Delta protocol rules without sockets: subscriptions, per-resource versions, removals, reconnects."""

from __future__ import annotations

from typing import Any

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import delta
from xdsspy.controlplane import protocol
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import store as store_mod

Kind = protocol.RequestKind


def new_stream(type_url: str, names: list[str] | None) -> tuple[store_mod.Store, delta.DeltaStream]:
    store = store_mod.Store()
    if names is not None:
        store.set(type_url, [(n, n.encode()) for n in names])
    counter = iter(range(1, 1000))
    return store, delta.DeltaStream(store, lambda: f"n{next(counter)}")


def request(type_url: str, sub: tuple[str, ...] = (), unsub: tuple[str, ...] = (), **kw: Any) -> Any:
    return discovery_pb2.DeltaDiscoveryRequest(
        type_url=type_url, resource_names_subscribe=list(sub), resource_names_unsubscribe=list(unsub), **kw
    )


def sent(outcome: protocol.Outcome) -> list[tuple[list[str], list[str]]]:
    return [([r.name for r in resp.resources], list(resp.removed_resources)) for resp in outcome.responses]


def test_wildcard_sends_everything_with_versions_from_content() -> None:
    _, stream = new_stream(res.CLUSTER, ["a", "b"])
    outcome = stream.on_request(request(res.CLUSTER))
    (response,) = outcome.responses
    assert [(r.name, r.version) for r in response.resources] == [
        ("a", store_mod.resource_version(b"a")),
        ("b", store_mod.resource_version(b"b")),
    ]
    assert response.system_version_info == "1"


def test_ack_nack_and_stale_are_told_by_nonce_and_error_detail() -> None:
    _, stream = new_stream(res.CLUSTER, ["a"])
    stream.on_request(request(res.CLUSTER))
    ack = stream.on_request(request(res.CLUSTER, response_nonce="n1"))
    assert ack.verdict is not None and (ack.verdict.kind, ack.verdict.version) == (Kind.ACK, "1")
    again = stream.on_request(request(res.CLUSTER, response_nonce="n1"))
    assert again.verdict is not None and again.verdict.kind == Kind.STALE
    _, other = new_stream(res.CLUSTER, ["a"])
    other.on_request(request(res.CLUSTER))
    nack = other.on_request(
        request(res.CLUSTER, response_nonce="n1", error_detail={"code": 3, "message": "m"})
    )
    assert nack.verdict is not None and (nack.verdict.kind, nack.verdict.version) == (Kind.NACK, "1")
    assert nack.responses == ()  # the rejected bytes are not sent again


def test_explicit_star_and_unsubscribing_it() -> None:
    store, stream = new_stream(res.ENDPOINT, ["a", "b"])
    assert sent(stream.on_request(request(res.ENDPOINT, sub=("*",)))) == [(["a", "b"], [])]
    stream.on_request(request(res.ENDPOINT, unsub=("*",)))
    store.set(res.ENDPOINT, [("a", b"a2")])
    assert stream.on_push(res.ENDPOINT).responses == ()  # nothing is subscribed any more


def test_unsubscribing_a_name_still_covered_by_the_wildcard_resends_it() -> None:
    _, stream = new_stream(res.CLUSTER, ["a", "b"])
    stream.on_request(request(res.CLUSTER))
    assert sent(stream.on_request(request(res.CLUSTER, unsub=("a",)))) == [(["a"], [])]


def test_subscription_changes_count_whatever_the_nonce() -> None:
    _, stream = new_stream(res.ENDPOINT, ["a", "b"])
    stream.on_request(request(res.ENDPOINT, sub=("a",)))
    outcome = stream.on_request(request(res.ENDPOINT, sub=("b",), response_nonce="unknown"))
    assert outcome.verdict is not None and outcome.verdict.kind == Kind.STALE
    assert sent(outcome) == [(["b"], [])]


def test_missing_names_are_told_once_and_sent_when_they_appear() -> None:
    store, stream = new_stream(res.ENDPOINT, ["a"])
    assert sent(stream.on_request(request(res.ENDPOINT, sub=("a", "x")))) == [(["a"], ["x"])]
    store.set(res.ENDPOINT, [("a", b"a")])
    assert stream.on_push(res.ENDPOINT).responses == ()
    store.set(res.ENDPOINT, [("a", b"a"), ("x", b"x")])
    assert sent(stream.on_push(res.ENDPOINT)) == [(["x"], [])]


def test_deleted_resources_are_removed() -> None:
    store, stream = new_stream(res.LISTENER, ["a", "b"])
    stream.on_request(request(res.LISTENER))
    store.set(res.LISTENER, [("b", b"b")])
    assert sent(stream.on_push(res.LISTENER)) == [([], ["a"])]


def test_reconnect_with_everything_current_gets_one_empty_response() -> None:
    _, stream = new_stream(res.CLUSTER, ["a"])
    held = {"a": store_mod.resource_version(b"a")}
    assert sent(stream.on_request(request(res.CLUSTER, initial_resource_versions=held))) == [([], [])]


def test_nothing_is_sent_before_the_type_is_set_then_everything() -> None:
    store, stream = new_stream(res.CLUSTER, None)
    assert stream.on_request(request(res.CLUSTER)).responses == ()
    store.set(res.CLUSTER, [])
    assert sent(stream.on_push(res.CLUSTER)) == [([], [])]  # the first answer is due even when empty
