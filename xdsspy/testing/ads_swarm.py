"""Many simulated Envoys on ADS at once, in a process of their own: load for xdsspy's tests and bench.

Run: python -m xdsspy.testing.ads_swarm --target HOST:PORT --count 500 [--types cluster,listener]

Each simulated Envoy has its own connection (its own grpc.aio channel) and one
SotW ADS stream; it subscribes to every type given (wildcard), ACKs every
response as Envoy does, and never NACKs. The swarm prints one JSON line per
fact, on stdout, for the process that drives it:

- `{"event": "ready", "streams": N}` once every stream has a first answer of every type;
- `{"event": "complete", "type": T, "version": V, "first": t0, "last": t1}` once every stream
  holds version V of type T (t0, t1: time.monotonic() of its first and last arrival, comparable
  with the driver's own clock on Linux);
- `{"event": "ended", "node": ID, "detail": ...}` when a stream ends before the swarm is told to stop;
- `{"event": "summary", ...}` (responses, ACKs and bytes received) when it stops on SIGTERM,
  SIGINT or the end of its stdin.

A separate process, so that its CPU is not the control plane's or the test's
(one GIL each), and so that it is stopped by its PID like any other peer.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import aio
from xdsspy.controlplane import ads
from xdsspy.controlplane import resources as res

TYPES = {
    "cluster": res.CLUSTER,
    "endpoint": res.ENDPOINT,
    "listener": res.LISTENER,
    "route": res.ROUTE,
}
CONNECT_BATCH = 50
"""Streams opened at once: a burst of hundreds of handshakes at one instant is not what a fleet of
Envoys does, and a loopback listen backlog can refuse it."""


def _say(**fact: Any) -> None:
    sys.stdout.write(json.dumps(fact) + "\n")
    sys.stdout.flush()


class Swarm:
    """`count` simulated Envoys; see the module docstring."""

    def __init__(self, target: str, count: int, type_urls: list[str], node_prefix: str) -> None:
        self.target = target
        self.count = count
        self.type_urls = type_urls
        self.node_prefix = node_prefix
        self.responses = 0
        self.acks = 0
        self.bytes = 0
        self._holders: dict[tuple[str, str], int] = collections.Counter()
        self._first: dict[tuple[str, str], float] = {}
        self._started: set[str] = set()  # nodes with a first answer of every type
        self._stopping = False
        self._channels: list[grpc.aio.Channel] = []

    async def run(self, stop: asyncio.Event) -> None:
        tasks = []
        for start in range(0, self.count, CONNECT_BATCH):
            opened = [
                aio.spawn(self._envoy(i), name=f"simulated envoy {i}")
                for i in range(start, min(start + CONNECT_BATCH, self.count))
            ]
            tasks += opened
            await asyncio.sleep(0.05)
        await stop.wait()
        self._stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(channel.close() for channel in self._channels), return_exceptions=True)
        _say(event="summary", streams=self.count, responses=self.responses, acks=self.acks, bytes=self.bytes)

    async def _envoy(self, index: int) -> None:
        node = base_pb2.Node(id=f"{self.node_prefix}-{index}", cluster="swarm")
        # A connection of its own, as every Envoy has: grpc would otherwise share one among channels.
        channel = grpc.aio.insecure_channel(self.target, options=[("grpc.use_local_subchannel_pool", 1)])
        self._channels.append(channel)
        outbox: asyncio.Queue[bytes] = asyncio.Queue()
        for type_url in self.type_urls:
            outbox.put_nowait(
                discovery_pb2.DiscoveryRequest(node=node, type_url=type_url).SerializeToString()
            )

        async def requests() -> Any:
            while True:
                yield await outbox.get()

        call = channel.stream_stream(ads.SOTW_METHOD)(requests())
        held: dict[str, str] = {}
        try:
            async for raw in call:
                response = discovery_pb2.DiscoveryResponse.FromString(raw)
                self.responses += 1
                self.bytes += len(raw)
                ack = discovery_pb2.DiscoveryRequest(
                    type_url=response.type_url,
                    version_info=response.version_info,
                    response_nonce=response.nonce,
                )
                outbox.put_nowait(ack.SerializeToString())
                self.acks += 1
                self._hold(node.id, held, response.type_url, response.version_info)
        except asyncio.CancelledError:
            call.cancel()
            raise
        except grpc.aio.AioRpcError as e:
            if not self._stopping:
                _say(event="ended", node=node.id, detail=f"{e.code().name}: {e.details()}")
            return
        if not self._stopping:
            _say(event="ended", node=node.id, detail="the stream finished")

    def _hold(self, node: str, held: dict[str, str], type_url: str, version: str) -> None:
        now = time.monotonic()
        held[type_url] = version
        key = (type_url, version)
        self._first.setdefault(key, now)
        self._holders[key] += 1
        if self._holders[key] == self.count:
            _say(event="complete", type=type_url, version=version, first=self._first[key], last=now)
        if node not in self._started and len(held) == len(self.type_urls):
            self._started.add(node)
            if len(self._started) == self.count:
                _say(event="ready", streams=self.count)


async def _main(args: argparse.Namespace) -> None:
    type_urls = [TYPES[name] for name in args.types.split(",")]
    swarm = Swarm(args.target, args.count, type_urls, args.node_prefix)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: None if os.read(stdin, 4096) else stop.set())
    await swarm.run(stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT of xdsspy or of a control plane")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--types", default="cluster", help="comma-separated: " + ",".join(TYPES))
    parser.add_argument("--node-prefix", default="swarm")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
