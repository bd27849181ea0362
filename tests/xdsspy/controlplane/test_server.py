"""ControlPlane over real gRPC with a plain client: nonces, ACK/NACK, stale nonces, deletion, delta."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy.controlplane import ads
from xdsspy.controlplane import client
from xdsspy.controlplane import journal
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server

Connect = Callable[..., client.AdsClient]
NODE = {"id": "test-node", "cluster": "test"}


def sotw_request(type_url: str, *names: str, version: str = "", nonce: str = "", **kw: Any) -> Any:
    return discovery_pb2.DiscoveryRequest(
        node=NODE,
        type_url=type_url,
        resource_names=list(names),
        version_info=version,
        response_nonce=nonce,
        **kw,
    )


def names_in(response: Any) -> list[str]:
    found = []
    for packed in response.resources:
        message = (
            endpoint_pb2.ClusterLoadAssignment() if packed.type_url == res.ENDPOINT else cluster_pb2.Cluster()
        )
        packed.Unpack(message)
        found.append(res.name_of(message))
    return found


def wait_received(cp: server.ControlPlane, count: int) -> None:
    """Wait until the control plane has taken in count requests (sending is asynchronous)."""

    def enough() -> bool | None:
        return len([m for m in cp.messages() if m.direction == model.Direction.REQUEST]) >= count or None

    cp.journal.wait(enough, 10.0, f"{count} requests")


def clusters(*names: str) -> list[Any]:
    return [res.eds_cluster(n) for n in names]


def endpoints(*names: str, port: int = 8080) -> list[Any]:
    return [res.load_assignment(n, [("127.0.0.1", port)]) for n in names]


# -- SotW ---------------------------------------------------------------------------------


def test_sotw_first_request_gets_full_state_version_and_nonce(
    cp: server.ControlPlane, connect: Connect
) -> None:
    version = cp.set_resources(res.CLUSTER, clusters("a", "b"))
    stream = connect(cp.address)
    stream.send(sotw_request(res.CLUSTER))
    response = stream.receive()
    assert (response.type_url, response.version_info) == (res.CLUSTER, version)
    assert response.nonce
    assert names_in(response) == ["a", "b"]


def test_nothing_is_served_before_a_type_is_set(cp: server.ControlPlane, connect: Connect) -> None:
    stream = connect(cp.address)
    stream.send(sotw_request(res.CLUSTER))
    stream.send(sotw_request(res.LISTENER))
    cp.set_resources(res.LISTENER, [])
    assert stream.receive().type_url == res.LISTENER  # the cluster request was not answered
    cp.set_resources(res.CLUSTER, clusters("a"))
    assert names_in(stream.receive()) == ["a"]


def test_every_response_has_a_fresh_nonce_and_per_type_versions(
    cp: server.ControlPlane, connect: Connect
) -> None:
    cp.set_resources(res.CLUSTER, clusters("a"))
    cp.set_resources(res.LISTENER, [])
    stream = connect(cp.address)
    stream.send(sotw_request(res.CLUSTER))
    stream.send(sotw_request(res.LISTENER))
    first = [stream.receive(), stream.receive()]
    pushed = []
    for _ in range(3):
        cp.set_resources(res.CLUSTER, clusters("a"))
        pushed.append(stream.receive())
    nonces = [r.nonce for r in first + pushed]
    assert len(set(nonces)) == len(nonces)
    assert [r.version_info for r in pushed] == ["2", "3", "4"]
    assert cp.version(res.LISTENER) == "1"


def test_ack_and_nack_are_told_apart_by_error_detail(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a"))
    cp.set_resources(res.LISTENER, [])
    stream = connect(cp.address)
    stream.send(sotw_request(res.CLUSTER))
    first = stream.receive()
    stream.send(sotw_request(res.CLUSTER, version=first.version_info, nonce=first.nonce))
    ack = cp.wait_for_ack(res.CLUSTER, "1")
    assert (ack.node_id, ack.nonce, ack.stream) == ("test-node", first.nonce, cp.streams[0].id)

    bad = cp.set_resources(res.CLUSTER, clusters("a", "b"))
    second = stream.receive()
    error = {"code": 13, "message": "Invalid duration"}
    stream.send(sotw_request(res.CLUSTER, version="1", nonce=second.nonce, error_detail=error))
    nack = cp.wait_for_nack(res.CLUSTER, bad)
    assert (nack.error_code, nack.error_message, nack.last_good_version) == (13, "Invalid duration", "1")
    assert cp.nacks == [nack]
    assert [a.version for a in cp.acks] == ["1"]
    # A NACK is not answered: the next response is the listener one asked for after it.
    stream.send(sotw_request(res.LISTENER))
    assert stream.receive().type_url == res.LISTENER


def test_stale_nonce_is_ignored(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.ENDPOINT, endpoints("a", "b"))
    cp.set_resources(res.LISTENER, [])
    stream = connect(cp.address)
    stream.send(sotw_request(res.ENDPOINT, "a"))
    old = stream.receive()
    cp.set_resources(res.ENDPOINT, endpoints("a", "b", port=9090))
    new = stream.receive()
    assert names_in(new) == ["a"]

    # Naming the older nonce: neither an ACK nor a subscription change, and no answer.
    stream.send(sotw_request(res.ENDPOINT, "a", "b", version=old.version_info, nonce=old.nonce))
    stream.send(sotw_request(res.LISTENER))
    assert stream.receive().type_url == res.LISTENER
    assert cp.acks == []

    # Naming the newest nonce with the new names is both an ACK and a change.
    stream.send(sotw_request(res.ENDPOINT, "a", "b", version=new.version_info, nonce=new.nonce))
    changed = stream.receive()
    assert names_in(changed) == ["a", "b"]
    assert cp.wait_for_ack(res.ENDPOINT, new.version_info).nonce == new.nonce


def test_sotw_deletion_is_absence_from_the_full_state(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a", "b", "c"))
    stream = connect(cp.address)
    stream.send(sotw_request(res.CLUSTER))
    assert names_in(stream.receive()) == ["a", "b", "c"]
    cp.set_resources(res.CLUSTER, clusters("a", "c"))
    assert names_in(stream.receive()) == ["a", "c"]
    cp.set_resources(res.CLUSTER, [])
    emptied = stream.receive()
    assert (emptied.version_info, names_in(emptied)) == ("3", [])


def test_sotw_named_types_get_only_what_was_asked_for(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.ENDPOINT, endpoints("a", "b", "c"))
    stream = connect(cp.address)
    stream.send(sotw_request(res.ENDPOINT, "c", "a"))
    response = stream.receive()
    assert names_in(response) == ["a", "c"]  # in the order they were set
    stream.send(sotw_request(res.ENDPOINT, "b", version=response.version_info, nonce=response.nonce))
    assert names_in(stream.receive()) == ["b"]


# -- Delta --------------------------------------------------------------------------------


def delta_request(
    type_url: str, *, subscribe: tuple[str, ...] = (), unsubscribe: tuple[str, ...] = (), **kw: Any
) -> Any:
    return discovery_pb2.DeltaDiscoveryRequest(
        node=NODE,
        type_url=type_url,
        resource_names_subscribe=list(subscribe),
        resource_names_unsubscribe=list(unsubscribe),
        **kw,
    )


def delta_names(response: Any) -> list[str]:
    return [r.name for r in response.resources]


def test_delta_wildcard_then_only_changes_and_removals(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a", "b"))
    stream = connect(cp.address, ads.DELTA_METHOD)
    stream.send(delta_request(res.CLUSTER))  # an empty first subscribe is a wildcard for clusters
    first = stream.receive()
    assert (delta_names(first), first.system_version_info, list(first.removed_resources)) == (
        ["a", "b"],
        "1",
        [],
    )
    versions = {r.name: r.version for r in first.resources}
    assert all(versions.values())
    stream.send(delta_request(res.CLUSTER, response_nonce=first.nonce))
    assert cp.wait_for_ack(res.CLUSTER, "1").nonce == first.nonce

    cp.set_resources(
        res.CLUSTER, [res.eds_cluster("a"), res.eds_cluster("b", connect_timeout_s=5), *clusters("c")]
    )
    changed = stream.receive()
    assert delta_names(changed) == ["b", "c"]
    assert changed.resources[0].version != versions["b"]
    assert changed.nonce != first.nonce

    cp.set_resources(res.CLUSTER, [res.eds_cluster("b", connect_timeout_s=5), *clusters("c")])
    removal = stream.receive()
    assert (delta_names(removal), list(removal.removed_resources)) == ([], ["a"])


def test_delta_subscribe_unsubscribe_and_missing_names(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.ENDPOINT, endpoints("a", "b"))
    stream = connect(cp.address, ads.DELTA_METHOD)
    stream.send(delta_request(res.ENDPOINT, subscribe=("a", "missing")))
    first = stream.receive()
    assert (delta_names(first), list(first.removed_resources)) == (["a"], ["missing"])

    stream.send(delta_request(res.ENDPOINT, subscribe=("b",), response_nonce=first.nonce))
    assert delta_names(stream.receive()) == ["b"]

    stream.send(delta_request(res.ENDPOINT, unsubscribe=("a",)))
    wait_received(cp, 3)
    cp.set_resources(res.ENDPOINT, endpoints("a", "b", port=9090))
    only_b = stream.receive()  # "a" changed too, but it is no longer subscribed
    assert (delta_names(only_b), list(only_b.removed_resources)) == (["b"], [])

    stream.send(delta_request(res.ENDPOINT, subscribe=("a",)))
    assert delta_names(stream.receive()) == ["a"]


def test_delta_honours_initial_resource_versions(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a", "b"))
    first_stream = connect(cp.address, ads.DELTA_METHOD)
    first_stream.send(delta_request(res.CLUSTER))
    held = {r.name: r.version for r in first_stream.receive().resources}

    # A reconnecting client that holds "a" as served and an outdated "b".
    again = connect(cp.address, ads.DELTA_METHOD)
    again.send(
        delta_request(res.CLUSTER, initial_resource_versions={"a": held["a"], "b": "outdated", "gone": "x"})
    )
    response = again.receive()
    assert (delta_names(response), list(response.removed_resources)) == (["b"], ["gone"])


def test_delta_nack(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a"))
    stream = connect(cp.address, ads.DELTA_METHOD)
    stream.send(delta_request(res.CLUSTER))
    response = stream.receive()
    error = {"code": 3, "message": "no"}
    stream.send(delta_request(res.CLUSTER, response_nonce=response.nonce, error_detail=error))
    nack = cp.wait_for_nack(res.CLUSTER, "1")
    assert (nack.error_code, nack.error_message, nack.nonce) == (3, "no", response.nonce)


# -- the journal, stream ends, addresses ---------------------------------------------------


def test_journal_holds_exact_bytes_in_order(cp: server.ControlPlane, connect: Connect) -> None:
    cp.set_resources(res.CLUSTER, clusters("a"))
    stream = connect(cp.address)
    request = sotw_request(res.CLUSTER)
    stream.send(request)
    response = stream.receive()
    ack = sotw_request(res.CLUSTER, version="1", nonce=response.nonce)
    stream.send(ack)
    cp.wait_for_ack(res.CLUSTER, "1")
    logged = cp.messages()
    assert [m.direction for m in logged] == [
        model.Direction.REQUEST,
        model.Direction.RESPONSE,
        model.Direction.REQUEST,
    ]
    assert logged[0].raw == request.SerializeToString()
    assert discovery_pb2.DiscoveryResponse.FromString(logged[1].raw) == response
    assert logged[2].raw == ack.SerializeToString()
    assert {m.method for m in logged} == {ads.SOTW_METHOD}
    assert logged == cp.messages(logged[0].stream)


def test_restart_on_the_same_port_keeps_config_and_history(connect: Connect) -> None:
    with server.ControlPlane("127.0.0.1:0") as cp:
        port = cp.port
        version = cp.set_resources(res.CLUSTER, clusters("a"))
        before = connect(cp.address)
        before.send(sotw_request(res.CLUSTER))
        before.receive()
        cp.stop()
        assert before.wait_end() is not None
        assert cp.wait_for_stream_end(cp.streams[0].id).end == journal.StreamEnd.SERVER_STOPPED
        cp.start()
        assert cp.port == port
        after = connect(cp.address)
        after.send(sotw_request(res.CLUSTER))
        assert after.receive().version_info == version
        assert len(cp.streams) == 2


@pytest.fixture
def short_tmp() -> Iterator[str]:
    """A short directory: unix socket paths must stay under ~100 bytes."""
    path = tempfile.mkdtemp(prefix="xs-", dir="/tmp")
    yield path
    for name in os.listdir(path):
        os.remove(os.path.join(path, name))
    os.rmdir(path)


def test_unix_socket_address_and_restart(short_tmp: str, connect: Connect) -> None:
    socket_path = os.path.join(short_tmp, "cp.sock")
    with server.ControlPlane(f"unix:{socket_path}") as cp:
        assert (cp.address, cp.port) == (f"unix:{socket_path}", 0)
        cp.set_resources(res.LISTENER, [])
        for _ in range(2):
            stream = connect(cp.address)
            stream.send(sotw_request(res.LISTENER))
            assert stream.receive().version_info == "1"
            cp.stop()
            cp.start()


def test_a_busy_port_is_a_clear_error(cp: server.ControlPlane) -> None:
    second = server.ControlPlane(cp.address)
    with pytest.raises(OSError, match=f"control plane cannot listen on {cp.address}"):
        second.start()
    assert not second.running


def test_set_resources_checks_the_type(cp: server.ControlPlane) -> None:
    with pytest.raises(ValueError, match=re.escape(f"was given a {res.CLUSTER}")):
        cp.set_resources(res.LISTENER, clusters("a"))
    with pytest.raises(ValueError, match="given twice"):
        cp.set_resources(res.CLUSTER, clusters("a", "a"))


def test_waits_fail_with_what_was_seen(cp: server.ControlPlane) -> None:
    with pytest.raises(
        TimeoutError, match=r"no ACK of .*Cluster version '7' within 0.1 s; streams: \[none\]"
    ):
        cp.wait_for_ack(res.CLUSTER, "7", timeout=0.1)


def test_the_journal_says_what_was_asked_for_sent_and_needed(
    cp: server.ControlPlane, connect: Connect
) -> None:
    """What a replay waits on: a type asked for, a version sent, a pushed version a stream had no use for."""
    stream = connect(cp.address)
    stream.send(sotw_request(res.ENDPOINT, "a"))
    cp.journal.wait(lambda: cp.journal.subscriptions() or None, 5, "a subscription")
    (asked,) = cp.journal.subscriptions()
    assert (asked.node_id, asked.type_url) == ("test-node", res.ENDPOINT)
    version = cp.set_raw(res.ENDPOINT, [("a", endpoints("a")[0].SerializeToString())], version="e1")
    first = stream.receive()
    assert version == first.version_info == "e1"
    (sent,) = cp.journal.wait(lambda: cp.journal.sent_responses() or None, 5, "a response")
    assert (sent.version, sent.nonce) == ("e1", first.nonce)
    stream.send(sotw_request(res.ENDPOINT, nonce=first.nonce))  # ACK, and no longer asks for "a"
    cp.wait_for_ack(res.ENDPOINT, "e1")
    cp.set_raw(res.ENDPOINT, [("a", endpoints("a", port=9)[0].SerializeToString())], version="e2")
    handled = cp.journal.wait(
        lambda: [h for h in cp.journal.handled_pushes() if h.version == "e2"] or None, 5, "the push taken in"
    )
    assert [h.sent for h in handled] == [False]  # it asked for nothing: nothing was sent


def test_message_bytes_are_kept_only_when_asked(connect: Connect) -> None:
    with server.ControlPlane("127.0.0.1:0", keep_messages=False) as lean:
        stream = connect(lean.address)
        stream.send(sotw_request(res.CLUSTER))
        lean.wait_for_stream(node_id="test-node")
        lean.set_resources(res.CLUSTER, clusters("a"))
        stream.receive()
        lean.journal.wait(lambda: lean.journal.sent_responses() or None, 5, "the response noted")
        assert lean.messages() == []
