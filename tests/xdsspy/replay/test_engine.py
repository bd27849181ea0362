"""The engine against a real control plane, with a scripted ADS client playing the fresh Envoy.

The client answers exactly as told, so each protocol situation is reproducible:
ACK, NACK, a type never asked for, a Delta stream that needs nothing of a push,
a client that goes away and comes back.
"""

from __future__ import annotations

import dataclasses
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import ads
from xdsspy.controlplane import client as client_mod
from xdsspy.controlplane import resources as cp
from xdsspy.controlplane import server
from xdsspy.record import reader
from xdsspy.replay import engine
from xdsspy.replay import observers
from xdsspy.replay import plan as plan_mod
from xdsspy.testing import conversations

CDS, EDS = cp.CLUSTER, cp.ENDPOINT


def cluster(name: str, timeout: float = 1.0) -> Any:
    return conversations.packed(cp.static_cluster(name, [("127.0.0.1", 1)], connect_timeout_s=timeout))


def endpoints(name: str, port: int) -> Any:
    return conversations.packed(cp.load_assignment(name, [("127.0.0.1", port)]))


@pytest.fixture
def control_plane() -> Iterator[server.ControlPlane]:
    with server.ControlPlane("127.0.0.1:0", keep_messages=False) as started:
        yield started


def plan_of(tmp_path: pathlib.Path, pushes: list[conversations.Push]) -> plan_mod.Plan:
    path = tmp_path / "recorded.xdsspy"
    conversations.ads_recording(path, pushes)
    return plan_mod.build(reader.iter_events(path))


class Replay:
    """The engine running in a thread, as `xdsspy replay` runs it."""

    def __init__(self, control_plane: server.ControlPlane, pushes: tuple[plan_mod.Push, ...], **kwargs: Any):
        self.engine = engine.Engine(observers.GrpcObserver(control_plane), **kwargs)
        self.served: list[engine.Served] = []
        self._thread = threading.Thread(target=lambda: self.served.extend(self.engine.run(pushes)))
        self._thread.start()

    def join(self) -> list[engine.Served]:
        self._thread.join(30)
        assert not self._thread.is_alive()
        return self.served


def request(type_url: str, nonce: str = "", *, node: bool = False, names: tuple[str, ...] = ()) -> Any:
    message = discovery_pb2.DiscoveryRequest(type_url=type_url, response_nonce=nonce, resource_names=names)
    if node:
        message.node.id = "fresh"
    return message


def nack(type_url: str, nonce: str, error: str) -> Any:
    message = request(type_url, nonce)
    message.error_detail.code, message.error_detail.message = 3, error
    return message


def test_each_push_waits_for_the_answer_to_the_one_before(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(
        tmp_path,
        [
            (CDS, [cluster("a")], ""),
            (CDS, [cluster("a"), cluster("b")], ""),
            (CDS, [cluster("c", -1)], "bad"),
        ],
    )
    with client_mod.AdsClient(control_plane.address) as envoy:
        envoy.send(request(CDS, node=True))
        replay = Replay(control_plane, p.pushes)
        first = envoy.receive()
        assert first.version_info == "v1" and len(first.resources) == 1
        with pytest.raises(TimeoutError):
            envoy.receive(timeout=0.3)  # v2 waits for v1's answer
        envoy.send(request(CDS, first.nonce))
        second = envoy.receive()
        assert second.version_info == "v2" and len(second.resources) == 2
        envoy.send(request(CDS, second.nonce))
        third = envoy.receive()
        envoy.send(nack(CDS, third.nonce, "Invalid duration"))
        served = replay.join()
    assert [(s.fresh.kind, s.fresh.error) for s in served] == [
        ("ack", ""),
        ("ack", ""),
        ("nack", "Invalid duration"),
    ]
    assert [s.version for s in served] == ["v1", "v2", "v3"]
    assert [s.position for s in served] == [0, 1, 2]


def test_a_type_never_asked_for_is_waited_for_once(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(
        tmp_path,
        [(CDS, [cluster("a")], ""), (EDS, [endpoints("a", 1)], ""), (EDS, [endpoints("a", 2)], "")],
    )
    with client_mod.AdsClient(control_plane.address) as envoy:
        envoy.send(request(CDS, node=True))
        replay = Replay(control_plane, p.pushes, answer_timeout=0.5)
        envoy.send(request(CDS, envoy.receive().nonce))
        served = replay.join()
    assert served[0].fresh.kind == "ack"
    assert [s.note for s in served[1:]] == [
        "not sent: the fresh Envoy never asked for ClusterLoadAssignment"
    ] * 2


def test_versions_stay_unique_so_that_envoy_sees_every_push(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(tmp_path, [(CDS, [cluster("a")], ""), (CDS, [cluster("b")], "")])
    same = tuple(dataclasses.replace(x, version="7") for x in p.pushes)
    with client_mod.AdsClient(control_plane.address) as envoy:
        envoy.send(request(CDS, node=True))
        replay = Replay(control_plane, same)
        one = envoy.receive()
        envoy.send(request(CDS, one.nonce))
        two = envoy.receive()
        envoy.send(request(CDS, two.nonce))
        served = replay.join()
    assert [s.version for s in served] == ["7", "7 (replay push 2)"]
    assert (one.version_info, two.version_info) == ("7", "7 (replay push 2)")


def test_a_delta_stream_that_needs_nothing_of_a_push_is_not_waited_for(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(
        tmp_path,
        [(EDS, [endpoints("a", 1), endpoints("b", 1)], ""), (EDS, [endpoints("b", 2)], "")],
    )
    with client_mod.AdsClient(control_plane.address, ads.DELTA_METHOD) as envoy:
        hello = discovery_pb2.DeltaDiscoveryRequest(type_url=EDS, resource_names_subscribe=["a"])
        hello.node.id = "fresh"
        envoy.send(hello)
        replay = Replay(control_plane, p.pushes, answer_timeout=5)
        first = envoy.receive()
        assert [r.name for r in first.resources] == ["a"]
        envoy.send(discovery_pb2.DeltaDiscoveryRequest(type_url=EDS, response_nonce=first.nonce))
        served = replay.join()
    assert served[0].fresh.kind == "ack"
    assert served[1].fresh.kind == "none" and "asked for none of what changed" in served[1].note


def test_an_envoy_that_goes_away_is_served_again_when_it_comes_back(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(tmp_path, [(CDS, [cluster("a")], ""), (CDS, [cluster("b")], "")])
    envoy = client_mod.AdsClient(control_plane.address)
    envoy.send(request(CDS, node=True))
    replay = Replay(control_plane, p.pushes, answer_timeout=10)
    first = envoy.receive()
    envoy.close()  # gone before answering v1
    control_plane.wait_for_stream_end(1)
    with client_mod.AdsClient(control_plane.address) as again:
        again.send(request(CDS, node=True))  # reconnects: the current state, v1, again
        resent = again.receive()
        assert resent.version_info == first.version_info == "v1"
        again.send(request(CDS, resent.nonce))
        second = again.receive()
        again.send(request(CDS, second.nonce))
        served = replay.join()
    assert [s.fresh.kind for s in served] == ["ack", "ack"]
    assert observers.GrpcObserver(control_plane).reconnects() == 1


def test_step_mode_asks_before_each_push_and_can_stop(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(tmp_path, [(CDS, [cluster("a")], ""), (EDS, [endpoints("a", 1)], "")])
    asked: list[int] = []
    answered: list[str] = []

    def confirm(push: plan_mod.Push) -> bool:
        asked.append(push.number)
        if push.number == 2:
            assert answered == ["ack"]  # the first push's answer came before the second was offered
        return push.number == 1

    with client_mod.AdsClient(control_plane.address) as envoy:
        envoy.send(request(CDS, node=True))
        replay = Replay(
            control_plane,
            p.pushes,
            mode=engine.Mode.STEP,
            confirm=confirm,
            on_served=lambda served: answered.append(served.fresh.kind),
        )
        envoy.send(request(CDS, envoy.receive().nonce))
        served = replay.join()
    assert asked == [1, 2] and [s.push.number for s in served] == [1]


def test_realtime_keeps_the_recorded_spacing_divided_by_the_speed(
    control_plane: server.ControlPlane, tmp_path: pathlib.Path
) -> None:
    p = plan_of(
        tmp_path, [(CDS, [cluster("a")], ""), (EDS, [endpoints("a", 1)], ""), (EDS, [endpoints("a", 2)], "")]
    )
    spaced = tuple(dataclasses.replace(x, monotonic_ns=i * 4_000_000_000) for i, x in enumerate(p.pushes))
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with client_mod.AdsClient(control_plane.address) as envoy:
        hello = request(CDS, node=True)
        envoy.send(hello)
        envoy.send(request(EDS, names=("a",)))
        replay = Replay(
            control_plane,
            spaced,
            mode=engine.Mode.REALTIME,
            speed=2.0,
            clock=lambda: now[0],
            sleep=sleep,
            answer_timeout=5,
        )
        for _ in range(3):
            response = envoy.receive()
            envoy.send(
                request(response.type_url, response.nonce, names=("a",) if response.type_url == EDS else ())
            )
        served = replay.join()
    assert slept == [0.0, 2.0, 2.0]  # 4 s apart when recorded, at twice the speed
    assert [s.fresh.kind for s in served] == ["ack", "ack", "ack"]
