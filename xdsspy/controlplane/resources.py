"""Builders for the few Envoy resources a small xDS setup needs, and their type URLs and names.

A demo or a test should read like the config it serves: one call per
cluster, endpoint set, listener or route table. The builders return the real
generated protobuf messages (xds-protos), so anything they do not cover can be
set on the result before it is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import message as pb_message

TYPE_PREFIX = "type.googleapis.com/"
CLUSTER = TYPE_PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = TYPE_PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = TYPE_PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = TYPE_PREFIX + "envoy.config.route.v3.RouteConfiguration"

LEGACY_WILDCARD_TYPES = frozenset({CLUSTER, LISTENER})
"""Types for which a client that never named a resource means "all of them" (xds_protocol.rst)."""


Message = pb_message.Message


def type_url_of(resource: Message) -> str:
    return TYPE_PREFIX + resource.DESCRIPTOR.full_name


def name_of(resource: Message) -> str:
    """The name xDS uses for a resource: `cluster_name` for endpoints, `name` for everything else."""
    field = "cluster_name" if type_url_of(resource) == ENDPOINT else "name"
    if field not in resource.DESCRIPTOR.fields_by_name:
        raise ValueError(f"{resource.DESCRIPTOR.full_name} has no name field; it cannot be served by name")
    return str(getattr(resource, field))


def _duration(target: Any, seconds: float) -> None:
    """Set a google.protobuf.Duration field; negative values are allowed so NACKs can be provoked."""
    whole = int(seconds)
    target.seconds = whole
    target.nanos = round((seconds - whole) * 1e9)


def _socket_address(target: Any, host: str, port: int) -> None:
    target.socket_address.address = host
    target.socket_address.port_value = port


def load_assignment(cluster_name: str, endpoints: Sequence[tuple[str, int]]) -> Any:
    """A ClusterLoadAssignment with every endpoint in one locality."""
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=cluster_name)
    locality = cla.endpoints.add()
    for host, port in endpoints:
        _socket_address(locality.lb_endpoints.add().endpoint.address, host, port)
    return cla


def eds_cluster(name: str, *, connect_timeout_s: float = 1.0) -> Any:
    """A cluster whose endpoints come over ADS (EDS), under the cluster's own name."""
    cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
    _duration(cluster.connect_timeout, connect_timeout_s)
    eds = cluster.eds_cluster_config.eds_config
    eds.ads.SetInParent()
    eds.resource_api_version = config_source_pb2.V3
    return cluster


def static_cluster(name: str, endpoints: Sequence[tuple[str, int]], *, connect_timeout_s: float = 1.0) -> Any:
    """A cluster with its endpoints inline: nothing more to fetch, so it never warms."""
    cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.STATIC)
    _duration(cluster.connect_timeout, connect_timeout_s)
    cluster.load_assignment.CopyFrom(load_assignment(name, endpoints))
    return cluster


def route_configuration(
    name: str, *, cluster: str, domains: Sequence[str] = ("*",), prefix: str = "/"
) -> Any:
    """A RouteConfiguration with one virtual host sending everything under prefix to cluster."""
    routes = route_pb2.RouteConfiguration(name=name)
    vhost = routes.virtual_hosts.add(name=f"{name}-vhost", domains=list(domains))
    route = vhost.routes.add()
    route.match.prefix = prefix
    route.route.cluster = cluster
    return routes


def listener(name: str, *, route_config_name: str, host: str = "127.0.0.1", port: int = 0) -> Any:
    """An HTTP listener whose HttpConnectionManager fetches its routes by name over ADS (RDS).

    Port 0 lets Envoy pick a free port, so several Envoys can load the same listener.
    """
    manager = hcm_pb2.HttpConnectionManager(stat_prefix=name)
    manager.rds.route_config_name = route_config_name
    manager.rds.config_source.ads.SetInParent()
    manager.rds.config_source.resource_api_version = config_source_pb2.V3
    router = manager.http_filters.add(name="envoy.filters.http.router")
    router.typed_config.Pack(router_pb2.Router())

    result = listener_pb2.Listener(name=name)
    _socket_address(result.address, host, port)
    result.address.socket_address.protocol = address_pb2.SocketAddress.TCP
    network_filter = result.filter_chains.add().filters.add(
        name="envoy.filters.network.http_connection_manager"
    )
    network_filter.typed_config.Pack(manager)
    return result


def listener_with_routes(name: str, *, cluster: str, host: str = "127.0.0.1", port: int = 0) -> Any:
    """An HTTP listener with its routes inline, for clients with no RDS to ask (REST-only Envoys)."""
    result = listener(name, route_config_name=f"{name}-routes", host=host, port=port)
    typed = result.filter_chains[0].filters[0].typed_config
    manager = hcm_pb2.HttpConnectionManager()
    typed.Unpack(manager)
    manager.ClearField("rds")
    manager.route_config.CopyFrom(route_configuration(f"{name}-routes", cluster=cluster))
    typed.Pack(manager)
    return result
