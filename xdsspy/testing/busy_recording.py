"""A big, realistic recording for the TUI benchmark and tests: many sidecars, mostly small pushes and ACKs.

Run `python -m xdsspy.testing.busy_recording OUT [--messages N]`. The shape is
what istiod sends a mesh of sidecars over ADS: each Envoy opens a stream (an
Istio node with metadata in its first request only, as Istio's
`set_node_on_first_message_only` makes it), gets CDS, EDS, LDS, RDS and SDS,
then mostly EDS updates of a few endpoints and their ACKs, now and then a CDS
push of its 50 clusters with one changed, about one NACK in a hundred (Envoy's
own "Proto constraint validation failed" text naming the cluster), a few
Delta streams, and a gateway that gets `big_pushes` CDS pushes of
`big_clusters` realistic Istio clusters (12.7 MB each at 10k).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence

from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import struct_pb2
from google.rpc import status_pb2

from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.record import writer as writer_mod
from xdsspy.testing import xds

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA_ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
CLUSTERS_PER_SIDECAR = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    messages: int
    events: int
    raw_bytes: int


def istio_node(index: int, *, gateway: bool = False) -> base_pb2.Node:
    """A node as Istio's agent fills it in (id, cluster, build version, metadata): about 1.5 KB."""
    ns = f"ns-{index % 5}"
    pod = f"istio-ingressgateway-{index}" if gateway else f"app-{index}-7d9f8b6c5-x{index:03d}"
    kind = "router" if gateway else "sidecar"
    node = base_pb2.Node(
        id=f"{kind}~10.0.{index // 250}.{index % 250}~{pod}.{ns}~{ns}.svc.cluster.local",
        cluster=f"app-{index}.{ns}",
        user_agent_name="envoy",
    )
    version = node.user_agent_build_version.version
    version.major_number, version.minor_number, version.patch = 1, 40, 0
    meta = struct_pb2.Struct()
    meta.update(
        {
            "ISTIO_VERSION": "1.28.0",
            "CLUSTER_ID": "Kubernetes",
            "NAMESPACE": ns,
            "NAME": pod,
            "MESH_ID": "cluster.local",
            "SERVICE_ACCOUNT": f"app-{index}",
            "WORKLOAD_NAME": f"app-{index}",
            "LABELS": {"app": f"app-{index}", "version": "v1", "security.istio.io/tlsMode": "istio"},
            "ANNOTATIONS": {
                "kubectl.kubernetes.io/default-container": "app",
                "sidecar.istio.io/status": "x" * 400,
            },
            "INSTANCE_IPS": f"10.0.{index // 250}.{index % 250}",
            "INTERCEPTION_MODE": "REDIRECT",
            "PROXY_CONFIG": {"discoveryAddress": "istiod.istio-system.svc:15012", "concurrency": 2},
        }
    )
    node.metadata.CopyFrom(meta)
    return node


def _any(type_url: str, value: bytes) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=value)


class _Clock:
    def __init__(self) -> None:
        self.seq = 0
        self.ns = 1_765_000_000_000_000_000  # December 2025

    def stamp(self, step_ns: int) -> model.Stamp:
        self.seq += 1
        self.ns += step_ns
        return {"seq": self.seq, "wall_ns": self.ns, "monotonic_ns": self.ns}


class _Mesh:
    """Builds the events; `emit` receives each one."""

    def __init__(self, emit: Callable[[model.Event], None], rng: random.Random, big_clusters: int) -> None:
        self.emit = emit
        self.rng = rng
        self.clock = _Clock()
        self.messages = 0
        self.nacks = 0
        self.raw_bytes = 0
        self.connection = 0
        self.version = 0
        self.cluster_bytes = [xds.tcluster(i).SerializeToString() for i in range(CLUSTERS_PER_SIDECAR)]
        self.big_clusters = big_clusters
        self._big: list[bytes] | None = None

    def big_cluster_bytes(self) -> list[bytes]:
        if self._big is None:
            self._big = [xds.tcluster(i).SerializeToString() for i in range(self.big_clusters)]
        return self._big

    def event(self, event: model.Event) -> None:
        if isinstance(event, model.MessageSeen):
            self.messages += 1
            self.raw_bytes += len(event.raw)
        self.emit(event)

    def message(self, conn: int, direction: model.Direction, msg: object, gap_ns: int = 2_000_000) -> None:
        self.event(
            model.MessageSeen(
                **self.clock.stamp(gap_ns),
                connection=conn,
                stream=conn,
                direction=direction,
                raw=msg.SerializeToString(),  # type: ignore[attr-defined]
            )
        )

    def open(self, method: str, peer_index: int) -> int:
        self.connection += 1
        conn = self.connection
        self.event(
            model.StreamOpened(
                **self.clock.stamp(1_000_000),
                connection=conn,
                stream=conn,
                transport=model.Transport.GRPC,
                method=method,
                peer=f"ipv4:10.0.{peer_index // 250}.{peer_index % 250}:{40000 + conn}",
                metadata=(("content-type", b"application/grpc"), ("authorization", b"Bearer eyJhbGciOi.x.y")),
            )
        )
        return conn

    def next_version(self) -> str:
        self.version += 1
        return f"2025-12-06T10:00:00Z/{self.version}"


class _Sidecar:
    """One Envoy's SotW ADS stream and what it holds."""

    def __init__(self, mesh: _Mesh, index: int, *, gateway: bool = False) -> None:
        self.mesh = mesh
        self.index = index
        self.node = istio_node(index, gateway=gateway)
        self.conn = mesh.open(ADS, index)
        self.nonce = 0
        self.acked: dict[str, str] = {}
        self.names = [f"outbound|{8000 + i}||svc-{i}.ns-{i % 97}.svc.cluster.local" for i in range(50)]

    def request(self, type_url: str, *, names: Sequence[str] = (), nonce: str = "", version: str = "",
                error: str = "", node: bool = False) -> None:  # fmt: skip
        req = discovery_pb2.DiscoveryRequest(
            type_url=type_url, version_info=version, response_nonce=nonce, resource_names=list(names)
        )
        if node:
            req.node.CopyFrom(self.node)
        if error:
            req.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        self.mesh.message(self.conn, model.Direction.REQUEST, req, gap_ns=3_000_000)

    def push(self, type_url: str, resources: list[any_pb2.Any], *, nack: str = "") -> None:
        """A response and Envoy's answer to it: an ACK, or a NACK with `nack` as its error."""
        version = self.mesh.next_version()
        self.nonce += 1
        nonce = f"{self.index:x}-{self.nonce:x}"
        response = discovery_pb2.DiscoveryResponse(
            type_url=type_url, version_info=version, nonce=nonce, resources=resources
        )
        response.control_plane.identifier = '{"Component":"istiod","ID":"istiod-5d8b9-abcde"}'
        self.mesh.message(self.conn, model.Direction.RESPONSE, response, gap_ns=40_000_000)
        if nack:
            self.mesh.nacks += 1
            self.request(type_url, nonce=nonce, version=self.acked.get(type_url, ""), error=nack)
        else:
            self.acked[type_url] = version
            self.request(type_url, nonce=nonce, version=version)

    def clusters(self, changed: int | None = None) -> list[any_pb2.Any]:
        out = [_any(res.CLUSTER, raw) for raw in self.mesh.cluster_bytes]
        if changed is not None:
            cluster = xds.tcluster(changed)
            cluster.connect_timeout.FromMilliseconds(10_000 + self.mesh.version % 5000)
            out[changed] = _any(res.CLUSTER, cluster.SerializeToString())
        return out

    def endpoints(self, name: str) -> any_pb2.Any:
        rng = self.mesh.rng
        hosts = [
            (f"10.1.{rng.randrange(250)}.{rng.randrange(250)}", 8080) for _ in range(rng.randrange(1, 4))
        ]
        return _any(res.ENDPOINT, res.load_assignment(name, hosts).SerializeToString())

    def start(self) -> None:
        self.request(res.CLUSTER, node=True)
        self.push(res.CLUSTER, self.clusters())
        self.request(res.ENDPOINT, names=self.names)
        self.push(res.ENDPOINT, [self.endpoints(n) for n in self.names])
        self.request(res.LISTENER)
        listeners = [
            res.listener(f"0.0.0.0_{8000 + i}", route_config_name=f"{8000 + i}").SerializeToString()
            for i in range(5)
        ]
        self.push(res.LISTENER, [_any(res.LISTENER, raw) for raw in listeners])
        routes = [str(8000 + i) for i in range(5)]
        self.request(res.ROUTE, names=routes)
        self.push(
            res.ROUTE,
            [
                _any(res.ROUTE, res.route_configuration(r, cluster=self.names[i]).SerializeToString())
                for i, r in enumerate(routes)
            ],
        )
        self.request(SECRET, names=["default", "ROOTCA"])

    def step(self) -> None:
        rng = self.mesh.rng
        roll = rng.random()
        if roll < 0.02:
            changed = rng.randrange(len(self.names))
            nack = ""
            if rng.random() < 0.25:
                nack = (
                    f"Error adding/updating cluster(s) {self.names[changed]}: Proto constraint validation "
                    f"failed (ClusterValidationError.ConnectTimeout: value must be greater than 0s)"
                )
            self.push(res.CLUSTER, self.clusters(changed), nack=nack)
        elif roll < 0.04:
            routes = [str(8000 + i) for i in range(5)]
            r = rng.randrange(5)
            self.push(
                res.ROUTE,
                [_any(res.ROUTE, res.route_configuration(routes[r], cluster=self.names[rng.randrange(50)],
                                                         prefix=f"/v{self.mesh.version}").SerializeToString())],
            )  # fmt: skip
        else:
            names = rng.sample(self.names, rng.randrange(1, 4))
            nack = ""
            if rng.random() < 0.005:
                nack = f"malformed IP address: 10.1.999.1. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' ({names[0]})"  # noqa: E501
            self.push(res.ENDPOINT, [self.endpoints(n) for n in names], nack=nack)


def events(
    messages: int = 100_000,
    *,
    envoys: int = 20,
    big_pushes: int = 5,
    big_clusters: int = 10_000,
    seed: int = 7,
) -> Iterator[model.Event]:
    """The events of a busy mesh, about `messages` messages in all (whole push/answer pairs)."""
    out: list[model.Event] = []
    rng = random.Random(seed)
    mesh = _Mesh(out.append, rng, big_clusters)
    sidecars = [_Sidecar(mesh, i) for i in range(envoys)]
    gateway = _Sidecar(mesh, envoys, gateway=True) if big_pushes else None
    for sidecar in sidecars:
        sidecar.start()
        yield from out
        out.clear()
    if gateway is not None:
        gateway.request(res.CLUSTER, node=True)
    big_every = max(messages // (big_pushes + 1), 1) if big_pushes else 0
    bigs_sent = 0
    while mesh.messages < messages:
        if gateway is not None and bigs_sent < big_pushes and mesh.messages >= big_every * (bigs_sent + 1):
            clusters = [_any(res.CLUSTER, raw) for raw in mesh.big_cluster_bytes()]
            changed = xds.tcluster(bigs_sent)
            changed.connect_timeout.FromMilliseconds(20_000 + bigs_sent)
            clusters[bigs_sent] = _any(res.CLUSTER, changed.SerializeToString())
            gateway.push(res.CLUSTER, clusters)
            bigs_sent += 1
        else:
            rng.choice(sidecars).step()
        yield from out
        out.clear()
    for conn in range(1, mesh.connection + 1):
        yield model.StreamClosed(
            **mesh.clock.stamp(1_000_000),
            connection=conn,
            stream=conn,
            code=0,
            details="",
            trailers=(),
            cause=model.CloseCause.DOWNSTREAM,
        )


def write(path: str, messages: int = 100_000, **kwargs: int) -> Summary:
    """Write the busy recording to path (mode 0600) and say what it holds."""
    writer = writer_mod.RecordingWriter(path)
    count = raw = total = 0
    for event in events(messages, **kwargs):
        writer.publish(event)
        total += 1
        if isinstance(event, model.MessageSeen):
            count += 1
            raw += len(event.raw)
    stats = writer.close()
    if stats.records_lost:
        raise RuntimeError(f"the writer lost {stats.records_lost} records")
    return Summary(count, total, raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--big-pushes", type=int, default=5)
    args = parser.parse_args(argv)
    summary = write(args.out, args.messages, big_pushes=args.big_pushes)
    print(f"{args.out}: {summary.messages} messages, {summary.raw_bytes / 1e6:.0f} MB of xDS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
