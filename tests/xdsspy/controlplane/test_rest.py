"""The REST control plane: its answers (pure) and its server, over HTTP/1.1 and h2c."""

from __future__ import annotations

import asyncio
import json

import httpcore
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import json_format

from xdsspy.controlplane import resources as res
from xdsspy.controlplane import rest
from xdsspy.controlplane import store as store_mod

CDS = "/v3/discovery:clusters"


def _store() -> store_mod.Store:
    store = store_mod.Store()
    clusters = [res.static_cluster(n, [("127.0.0.1", 1)]) for n in ("a", "b")]
    store.set(res.CLUSTER, [(res.name_of(c), c.SerializeToString()) for c in clusters])
    return store


def test_a_first_poll_gets_every_resource_as_a_json_discovery_response() -> None:
    result = rest.answer(_store(), CDS, b'{"node": {"id": "n"}}')
    assert (result.status, result.version_info, result.served_version) == (200, "", "1")
    response = json_format.Parse(result.body, discovery_pb2.DiscoveryResponse())
    assert response.version_info == "1" and response.type_url == res.CLUSTER
    assert [r.type_url for r in response.resources] == [res.CLUSTER] * 2


def test_a_poll_at_the_current_version_is_not_modified() -> None:
    result = rest.answer(_store(), CDS, b'{"version_info": "1"}')
    assert (result.status, result.body, result.version_info) == (304, b"", "1")


def test_named_resources_only() -> None:
    result = rest.answer(_store(), CDS, b'{"resource_names": ["b"]}')
    assert len(json.loads(result.body)["resources"]) == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/v3/discovery:nope", b"{}", 404), (CDS, b"not json", 400), ("/v3/discovery:listeners", b"{}", 503)],
)
def test_what_cannot_be_answered_gets_an_error_status(path: str, body: bytes, status: int) -> None:
    assert rest.answer(_store(), path, body).status == status


@pytest.mark.parametrize("protocol", ["http1", "h2c"])
def test_the_server_answers_and_keeps_every_poll(protocol: str) -> None:
    with rest.RestControlPlane() as cp:
        cp.set_resources(res.CLUSTER, [res.static_cluster("a", [("127.0.0.1", 1)])])

        async def poll(body: bytes) -> httpcore.Response:
            async with httpcore.AsyncConnectionPool(
                http1=protocol == "http1", http2=protocol == "h2c"
            ) as pool:
                return await pool.request("POST", cp.url + CDS, content=body)

        first = asyncio.run(poll(b"{}"))
        second = asyncio.run(poll(b'{"version_info": "1"}'))
        assert (first.status, second.status) == (200, 304)
        polls = cp.polls
        assert [(p.status, p.request, p.response) for p in polls] == [
            (200, b"{}", first.content),
            (304, b'{"version_info": "1"}', b""),
        ]
        assert {p.http_version for p in polls} == {"2" if protocol == "h2c" else "1.1"}
        assert cp.wait_for_poll(lambda p: p.status == 304).version_info == "1"
