"""The benchmark's raw-bytes gRPC peers over TLS: the server shows its certificate, the client checks it."""

from __future__ import annotations

import asyncio
import pathlib
import sys

import grpc.aio
import pytest

from xdsspy.testing import processes
from xdsspy.testing import raw_peers
from xdsspy.testing import tls_material


def test_a_tls_server_pushes_and_echoes_to_a_client_that_trusts_it(tmp_path: pathlib.Path) -> None:
    pki = tls_material.issue(str(tmp_path))
    stranger = tls_material.issue(str(tmp_path), prefix="stranger-")
    port = processes.free_port()
    target = f"127.0.0.1:{port}"

    async def use() -> None:
        tls = raw_peers.Tls.load(pki.ca_cert)
        await raw_peers.throughput(target, 3, 1000, tls)  # asserts that every byte arrived
        assert len(await raw_peers.round_trips(target, 2, 100, tls)) == 2
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await raw_peers.throughput(target, 1, 10, raw_peers.Tls.load(stranger.ca_cert))
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE

    command = [sys.executable, "-m", "xdsspy.testing.raw_peers", str(port), pki.cert, pki.key]
    with processes.started(command, port):
        asyncio.run(use())
