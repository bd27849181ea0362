"""Resource builders: what Envoy needs in each, names and type URLs."""

from __future__ import annotations

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import resources as res


def test_type_urls_and_names() -> None:
    cases = [
        (res.eds_cluster("c"), res.CLUSTER, "c"),
        (res.static_cluster("s", [("127.0.0.1", 1)]), res.CLUSTER, "s"),
        (res.load_assignment("c", []), res.ENDPOINT, "c"),
        (res.listener("l", route_config_name="r"), res.LISTENER, "l"),
        (res.route_configuration("r", cluster="c"), res.ROUTE, "r"),
    ]
    for message, type_url, name in cases:
        assert (res.type_url_of(message), res.name_of(message)) == (type_url, name)
    with pytest.raises(ValueError, match="no name field"):
        res.name_of(discovery_pb2.DiscoveryRequest())


def test_clusters() -> None:
    eds = res.eds_cluster("c", connect_timeout_s=2.5)
    assert (eds.connect_timeout.seconds, eds.connect_timeout.nanos) == (2, 500_000_000)
    assert eds.eds_cluster_config.eds_config.HasField("ads")
    static = res.static_cluster("s", [("127.0.0.1", 80), ("127.0.0.2", 81)], connect_timeout_s=-1)
    assert static.connect_timeout.seconds == -1  # invalid on purpose: Envoy NACKs it
    lb = static.load_assignment.endpoints[0].lb_endpoints
    assert [
        (e.endpoint.address.socket_address.address, e.endpoint.address.socket_address.port_value) for e in lb
    ] == [
        ("127.0.0.1", 80),
        ("127.0.0.2", 81),
    ]


def test_listener_uses_rds_over_ads() -> None:
    listener = res.listener("l", route_config_name="routes", port=10000)
    assert listener.address.socket_address.port_value == 10000
    manager = http_connection_manager_pb2.HttpConnectionManager()
    assert listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert manager.rds.route_config_name == "routes"
    assert manager.rds.config_source.HasField("ads")
    assert [f.name for f in manager.http_filters] == ["envoy.filters.http.router"]


def test_route_configuration() -> None:
    routes = res.route_configuration("r", cluster="c", domains=["a.example"], prefix="/api")
    (vhost,) = routes.virtual_hosts
    assert list(vhost.domains) == ["a.example"]
    assert (vhost.routes[0].match.prefix, vhost.routes[0].route.cluster) == ("/api", "c")
