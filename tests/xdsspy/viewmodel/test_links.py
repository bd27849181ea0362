"""Resource links: listener -> routes -> clusters -> endpoints and secrets, dangling names classified."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from envoy.api.v2 import cluster_pb2 as v2_cluster_pb2
from envoy.api.v2 import listener_pb2 as v2_listener_pb2
from envoy.api.v2 import route_pb2 as v2_route_pb2
from envoy.api.v2.auth import tls_pb2 as v2_tls_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import extension_pb2
from envoy.config.filter.network.http_connection_manager.v2 import http_connection_manager_pb2 as v2_hcm_pb2
from envoy.config.filter.network.tcp_proxy.v2 import tcp_proxy_pb2 as v2_tcp_proxy_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.config.trace.v3 import zipkin_pb2
from envoy.extensions.clusters.aggregate.v3 import cluster_pb2 as aggregate_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from google.protobuf import message as pb_message
from udpa.type.v1 import typed_struct_pb2

from xdsspy.controlplane import resources as cp
from xdsspy.decode import resources
from xdsspy.testing import istio_files
from xdsspy.testing import xds
from xdsspy.viewmodel import links
from xdsspy.viewmodel import refs

V2 = "type.googleapis.com/envoy.api.v2."
Resources = dict[str, dict[str, dict[str, Any]]]


def body(message: pb_message.Message, type_url: str = "") -> dict[str, Any]:
    """The JSON /config_dump would print for a message, as xdsspy decodes it."""
    url = type_url or cp.type_url_of(message)
    decoded: dict[str, Any] = resources.decode(url, message.SerializeToString()).body
    return decoded


def envoy(*messages: pb_message.Message) -> Resources:
    """type URL -> name -> body, as one Envoy holds them."""
    out: Resources = {}
    for message in messages:
        out.setdefault(cp.type_url_of(message), {})[cp.name_of(message)] = body(message)
    return out


def targets(found: Iterable[refs.Ref]) -> list[tuple[str, str]]:
    return [(ref.target_type, ref.target) for ref in found]


def tcp_listener(name: str, proxy: tcp_proxy_pb2.TcpProxy, *, default: bool = False) -> listener_pb2.Listener:
    result = listener_pb2.Listener(name=name)
    chain = result.default_filter_chain if default else result.filter_chains.add()
    chain.filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(proxy)
    return result


def hcm_listener(name: str, manager: hcm_pb2.HttpConnectionManager) -> listener_pb2.Listener:
    result = listener_pb2.Listener(name=name)
    result.filter_chains.add().filters.add(
        name="envoy.filters.network.http_connection_manager"
    ).typed_config.Pack(manager)
    return result


def eds_cluster(name: str, service_name: str = "") -> cluster_pb2.Cluster:
    cluster = cp.eds_cluster(name)
    if service_name:
        cluster.eds_cluster_config.service_name = service_name
    return cluster


def test_listener_rds_route_cluster_endpoints_chain() -> None:
    graph = links.build(
        envoy(
            cp.listener("listener-1", route_config_name="routes-1"),
            cp.route_configuration("routes-1", cluster="backend"),
            cp.eds_cluster("backend"),
            cp.load_assignment("backend", [("10.0.0.1", 8080)]),
        )
    )
    (to_routes,) = graph.refs_from(cp.LISTENER, "listener-1")
    assert to_routes == refs.Ref(
        cp.LISTENER,
        "listener-1",
        cp.ROUTE,
        "routes-1",
        "filter_chains[0].filters[0].typed_config.rds.route_config_name",
    )
    (to_cluster,) = graph.refs_from(cp.ROUTE, "routes-1")
    assert (to_cluster.target_type, to_cluster.target) == (cp.CLUSTER, "backend")
    assert to_cluster.via == "virtual_hosts[0].routes[0].route.cluster"
    (to_endpoints,) = graph.refs_from(cp.CLUSTER, "backend")
    assert (to_endpoints.target_type, to_endpoints.target, to_endpoints.via) == (
        cp.ENDPOINT,
        "backend",
        "name",
    )
    assert graph.refs_from(cp.ENDPOINT, "backend") == ()
    assert graph.dangling() == []
    assert [(row.depth, row.type_url, row.name) for row in graph.walk()] == [
        (0, cp.LISTENER, "listener-1"),
        (1, cp.ROUTE, "routes-1"),
        (2, cp.CLUSTER, "backend"),
        (3, cp.ENDPOINT, "backend"),
    ]


def test_inline_route_config_links_the_listener_straight_to_clusters() -> None:
    graph = links.build(
        envoy(cp.listener_with_routes("inline", cluster="backend"), cp.eds_cluster("backend"))
    )
    assert targets(graph.refs_from(cp.LISTENER, "inline")) == [(cp.CLUSTER, "backend")]
    (ref,) = graph.refs_to(cp.CLUSTER, "backend")
    assert (
        ref.via
        == "filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster"
    )


def test_route_to_a_cluster_envoy_does_not_have_is_missing() -> None:
    graph = links.build(
        envoy(cp.route_configuration("routes-1", cluster="gone"), cp.static_cluster("other", []))
    )
    (dangling,) = graph.dangling()
    assert dangling.kind == links.Dangling.MISSING
    assert (dangling.ref.source, dangling.ref.target) == ("routes-1", "gone")
    rows = {(row.type_url, row.name): row for row in graph.walk()}
    assert rows[cp.CLUSTER, "gone"].dangling == links.Dangling.MISSING
    assert rows[cp.CLUSTER, "other"].dangling is None


def test_bootstrap_clusters_are_static_and_istio_cds_clusters_are_not() -> None:
    manager = hcm_pb2.HttpConnectionManager(stat_prefix="http")
    manager.rds.route_config_name = "routes-1"
    manager.tracing.provider.name = "envoy.tracers.zipkin"
    manager.tracing.provider.typed_config.Pack(
        zipkin_pb2.ZipkinConfig(collector_cluster="zipkin", collector_endpoint="/api/v2/spans")
    )
    routes = cp.route_configuration("routes-1", cluster="BlackHoleCluster")
    graph = links.build(envoy(hcm_listener("http", manager), routes, cp.static_cluster("backend", [])))
    kinds = {(d.ref.target, d.ref.via): d.kind for d in graph.dangling()}
    assert kinds == {
        (
            "zipkin",
            "filter_chains[0].filters[0].typed_config.tracing.provider.typed_config.collector_cluster",
        ): (links.Dangling.STATIC),
        # istiod sends BlackHoleCluster over CDS: when CDS lacks it, it is missing.
        ("BlackHoleCluster", "virtual_hosts[0].routes[0].route.cluster"): links.Dangling.MISSING,
    }
    told = links.build(envoy(routes), static_clusters=frozenset({"BlackHoleCluster"}))
    assert [d.kind for d in told.dangling()] == [links.Dangling.STATIC]


def test_static_wins_over_not_captured() -> None:
    graph = links.build(envoy(cp.route_configuration("stats", cluster="prometheus_stats")))
    assert [d.kind for d in graph.dangling()] == [links.Dangling.STATIC]


def test_secrets_without_sds_capture_are_not_captured_and_missing_once_sds_is_seen() -> None:
    cluster = xds.tcluster(3)
    graph = links.build(envoy(cluster))
    secret_refs = [d for d in graph.dangling() if d.ref.target_type == refs.SECRET]
    assert {d.ref.target for d in secret_refs} == {"default", "ROOTCA"}
    assert {d.kind for d in secret_refs} == {links.Dangling.NOT_CAPTURED}
    # The SDS transport (sds-grpc in api_config_source) is how secrets are fetched, not a dependency.
    assert refs.CLUSTER not in {ref.target_type for ref in graph.refs_from(cp.CLUSTER, cluster.name)}

    with_sds = envoy(cluster, secret_pb2.Secret(name="default"))
    with_sds[refs.SECRET] = with_sds.pop(cp.type_url_of(secret_pb2.Secret()))
    kinds = {d.ref.target: d.kind for d in links.build(with_sds).dangling()}
    assert kinds == {"ROOTCA": links.Dangling.MISSING, cluster.name: links.Dangling.NOT_CAPTURED}


def test_eds_service_name_names_the_endpoints_else_the_cluster_name() -> None:
    graph = links.build(
        envoy(
            eds_cluster("named", service_name="named-endpoints"),
            eds_cluster("plain"),
            cp.static_cluster("static", [("127.0.0.1", 1)]),
            cp.load_assignment("named-endpoints", [("10.0.0.1", 80)]),
        )
    )
    assert targets(graph.refs_from(cp.CLUSTER, "named")) == [(cp.ENDPOINT, "named-endpoints")]
    assert graph.refs_from(cp.CLUSTER, "named")[0].via == "eds_cluster_config.service_name"
    assert targets(graph.refs_from(cp.CLUSTER, "plain")) == [(cp.ENDPOINT, "plain")]
    assert graph.refs_from(cp.CLUSTER, "static") == (), "inline endpoints are not an EDS reference"
    assert graph.refs_to(cp.ENDPOINT, "named") == ()
    assert [(d.ref.target, d.kind) for d in graph.dangling()] == [("plain", links.Dangling.MISSING)]


def test_tcp_proxy_cluster_and_weighted_clusters_in_every_chain_and_the_default_chain() -> None:
    single = tcp_listener("single", tcp_proxy_pb2.TcpProxy(stat_prefix="s", cluster="db"))
    weighted = tcp_proxy_pb2.TcpProxy(stat_prefix="w")
    weighted.weighted_clusters.clusters.add(name="db-a", weight=1)
    weighted.weighted_clusters.clusters.add(name="db-b", weight=1)
    split = tcp_listener("split", weighted, default=True)
    split.filter_chains.add().filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(
        tcp_proxy_pb2.TcpProxy(stat_prefix="x", cluster="db")
    )
    graph = links.build(envoy(single, split, cp.eds_cluster("db"), cp.eds_cluster("db-a")))
    assert targets(graph.refs_from(cp.LISTENER, "single")) == [(cp.CLUSTER, "db")]
    assert {(ref.target, ref.via) for ref in graph.refs_from(cp.LISTENER, "split")} == {
        ("db", "filter_chains[0].filters[0].typed_config.cluster"),
        ("db-a", "default_filter_chain.filters[0].typed_config.weighted_clusters.clusters[0].name"),
        ("db-b", "default_filter_chain.filters[0].typed_config.weighted_clusters.clusters[1].name"),
    }
    assert [(d.ref.target, d.kind) for d in graph.dangling() if d.ref.target_type == cp.CLUSTER] == [
        ("db-b", links.Dangling.MISSING)
    ]


def test_v2_type_urls_link_like_v3() -> None:
    manager = v2_hcm_pb2.HttpConnectionManager(stat_prefix="http")
    manager.rds.route_config_name = "routes-1"
    listener = v2_listener_pb2.Listener(name="legacy")
    listener.filter_chains.add().filters.add(name="envoy.http_connection_manager").typed_config.Pack(manager)
    listener.filter_chains.add().filters.add(name="envoy.tcp_proxy").typed_config.Pack(
        v2_tcp_proxy_pb2.TcpProxy(stat_prefix="t", cluster="backend")
    )
    routes = v2_route_pb2.RouteConfiguration(name="routes-1")
    route = routes.virtual_hosts.add(name="vh", domains=["*"]).routes.add()
    route.match.prefix = "/"
    route.route.cluster = "backend"
    cluster = v2_cluster_pb2.Cluster(name="backend", type=v2_cluster_pb2.Cluster.EDS)
    cluster.eds_cluster_config.service_name = "backend-endpoints"
    upstream = v2_tls_pb2.UpstreamTlsContext(sni="backend")
    upstream.common_tls_context.validation_context_sds_secret_config.name = "ROOTCA"
    cluster.transport_socket.name = "envoy.transport_sockets.tls"
    cluster.transport_socket.typed_config.Pack(upstream)
    v2_cluster = body(cluster, V2 + "Cluster")
    # v3 dropped Cluster.tls_context, so xdsspy's decoder keeps it in a note; a v2 config dump prints it.
    v2_cluster["tls_context"] = {
        "common_tls_context": {"tls_certificate_sds_secret_configs": [{"name": "default"}]}
    }
    v2 = {
        V2 + "Listener": {"legacy": body(listener, V2 + "Listener")},
        V2 + "RouteConfiguration": {"routes-1": body(routes, V2 + "RouteConfiguration")},
    }
    v3 = envoy(cp.load_assignment("backend-endpoints", [("10.0.0.1", 80)]))
    v3[V2 + "Cluster"] = {"backend": v2_cluster}  # mixed on purpose: Envoy 1.13 did
    graph = links.build({**v2, **v3})
    assert targets(graph.refs_from(V2 + "Listener", "legacy")) == [
        (cp.ROUTE, "routes-1"),
        (cp.CLUSTER, "backend"),
    ]
    assert graph.refs_from(V2 + "Listener", "legacy") == graph.refs_from(cp.LISTENER, "legacy")
    assert [(ref.target, ref.via) for ref in graph.refs_from(cp.CLUSTER, "backend")] == [
        ("backend-endpoints", "eds_cluster_config.service_name"),
        (
            "ROOTCA",
            "transport_socket.typed_config.common_tls_context.validation_context_sds_secret_config.name",
        ),
        ("default", "tls_context.common_tls_context.tls_certificate_sds_secret_configs[0].name"),
    ]
    assert [len(graph.refs_to(cp.CLUSTER, "backend")), graph.has(V2 + "Cluster", "backend")] == [2, True]
    assert {d.ref.target for d in graph.dangling()} == {"ROOTCA", "default"}
    assert refs.canonical_type(V2 + "auth.Secret") == refs.SECRET
    assert refs.canonical_type("istio.io/debug") == "istio.io/debug"


def test_ecds_filters_by_their_name() -> None:
    manager = hcm_pb2.HttpConnectionManager(stat_prefix="http")
    manager.rds.route_config_name = "routes-1"
    wasm = manager.http_filters.add(name="default.display-metadata")
    wasm.config_discovery.config_source.ads.SetInParent()
    wasm.config_discovery.type_urls.append("type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm")
    manager.http_filters.add(name="envoy.filters.http.router")
    listener = hcm_listener("http", manager)
    inspector = listener.listener_filters.add(name="inspector")
    inspector.config_discovery.config_source.ads.SetInParent()
    present = extension_pb2.TypedExtensionConfig(name="default.display-metadata")
    graph = links.build(envoy(listener, present))
    ecds = [ref for ref in graph.refs_from(cp.LISTENER, "http") if ref.target_type == refs.EXTENSION]
    assert {(ref.target, ref.via) for ref in ecds} == {
        ("default.display-metadata", "filter_chains[0].filters[0].typed_config.http_filters[0].name"),
        ("inspector", "listener_filters[0].name"),
    }
    assert [(d.ref.target, d.kind) for d in graph.dangling() if d.ref.target_type == refs.EXTENSION] == [
        ("inspector", links.Dangling.MISSING)
    ]


def test_side_service_clusters_typed_structs_and_aggregate_clusters() -> None:
    manager = hcm_pb2.HttpConnectionManager(stat_prefix="http")
    manager.rds.route_config_name = "routes-1"
    authz = ext_authz_pb2.ExtAuthz()
    authz.grpc_service.envoy_grpc.cluster_name = "authz"
    manager.http_filters.add(name="envoy.filters.http.ext_authz").typed_config.Pack(authz)
    wrapped = typed_struct_pb2.TypedStruct(type_url=cp.type_url_of(tcp_proxy_pb2.TcpProxy()))
    wrapped.value.update({"stat_prefix": "w", "cluster": "wrapped"})
    listener = hcm_listener("http", manager)
    listener.filter_chains.add().filters.add(name="wrapped").typed_config.Pack(wrapped)
    found = refs.refs_of(cp.LISTENER, "http", body(listener))
    assert {(ref.target, ref.via) for ref in found if ref.target_type == refs.CLUSTER} == {
        (
            "authz",
            "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.grpc_service.envoy_grpc.cluster_name",
        ),
        ("wrapped", "filter_chains[1].filters[0].typed_config.value.cluster"),
    }

    aggregate = cluster_pb2.Cluster(name="failover")
    aggregate.cluster_type.name = "envoy.clusters.aggregate"
    aggregate.cluster_type.typed_config.Pack(aggregate_pb2.ClusterConfig(clusters=["primary", "failover"]))
    graph = links.build(envoy(aggregate, cp.eds_cluster("primary")))
    assert targets(graph.refs_from(cp.CLUSTER, "failover")) == [
        (cp.CLUSTER, "primary"),
        (cp.CLUSTER, "failover"),
    ]
    assert graph.roots()[0] == (cp.CLUSTER, "failover"), "naming only itself leaves it unreferenced"
    assert [(row.depth, row.name, row.repeat) for row in graph.walk() if row.type_url == cp.CLUSTER] == [
        (0, "failover", False),
        (1, "failover", True),
        (1, "primary", False),
    ]


def test_refs_to_lists_everyone_who_names_a_resource() -> None:
    graph = links.build(
        envoy(
            cp.route_configuration("a", cluster="shared"),
            cp.route_configuration("b", cluster="shared"),
            tcp_listener("tcp", tcp_proxy_pb2.TcpProxy(stat_prefix="t", cluster="shared")),
            cp.eds_cluster("shared"),
        )
    )
    assert sorted((ref.source_type, ref.source) for ref in graph.refs_to(cp.CLUSTER, "shared")) == [
        (cp.LISTENER, "tcp"),
        (cp.ROUTE, "a"),
        (cp.ROUTE, "b"),
    ]
    assert graph.refs_to(cp.CLUSTER, "nobody") == ()
    assert [ref.source for ref in graph.refs_to(cp.ENDPOINT, "shared")] == ["shared"], "absent targets too"


def test_walk_lists_listeners_then_what_they_reach_then_unreferenced_by_type() -> None:
    graph = links.build(
        envoy(
            cp.listener("l-b", route_config_name="shared-routes"),
            cp.listener("l-a", route_config_name="shared-routes"),
            cp.route_configuration("shared-routes", cluster="c-used"),
            cp.route_configuration("orphan-routes", cluster="c-used"),
            cp.eds_cluster("c-used"),
            cp.eds_cluster("c-orphan"),
            cp.load_assignment("c-used", [("10.0.0.1", 80)]),
            cp.load_assignment("e-orphan", [("10.0.0.2", 80)]),
        )
    )
    assert graph.roots() == [
        (cp.LISTENER, "l-a"),
        (cp.LISTENER, "l-b"),
        (cp.ROUTE, "orphan-routes"),
        (cp.CLUSTER, "c-orphan"),
        (cp.ENDPOINT, "e-orphan"),
    ]
    rows = [(row.depth, row.type_url.rsplit(".", 1)[-1], row.name, flag(row)) for row in graph.walk()]
    assert rows == [
        (0, "Listener", "l-a", ""),
        (1, "RouteConfiguration", "shared-routes", ""),
        (2, "Cluster", "c-used", ""),
        (3, "ClusterLoadAssignment", "c-used", ""),
        (0, "Listener", "l-b", ""),
        (1, "RouteConfiguration", "shared-routes", "repeat"),
        (0, "RouteConfiguration", "orphan-routes", "unreferenced"),
        (1, "Cluster", "c-used", "repeat"),
        (0, "Cluster", "c-orphan", "unreferenced"),
        (1, "ClusterLoadAssignment", "c-orphan", "missing"),
        (0, "ClusterLoadAssignment", "e-orphan", "unreferenced"),
    ]
    assert graph.types == (cp.LISTENER, cp.ROUTE, cp.CLUSTER, cp.ENDPOINT)


def flag(row: links.TreeItem) -> str:
    if row.dangling is not None:
        return str(row.dangling)
    return "repeat" if row.repeat else "unreferenced" if row.unreferenced else ""


def test_children_are_one_per_target_ordered_by_type_then_name() -> None:
    routes = route_pb2.RouteConfiguration(name="r")
    vhost = routes.virtual_hosts.add(name="vh", domains=["*"])
    for cluster in ("b", "a", "b"):
        route = vhost.routes.add()
        route.match.prefix = "/"
        route.route.cluster = cluster
    graph = links.build(envoy(routes))
    assert len(graph.refs_from(cp.ROUTE, "r")) == 3
    assert [(ref.target, ref.via) for ref in graph.children(cp.ROUTE, "r")] == [
        ("a", "virtual_hosts[0].routes[1].route.cluster"),
        ("b", "virtual_hosts[0].routes[0].route.cluster"),
    ]


def test_an_empty_type_counts_as_captured() -> None:
    resources_seen: Resources = envoy(cp.route_configuration("r", cluster="c"))
    resources_seen[cp.CLUSTER] = {}
    assert [d.kind for d in links.build(resources_seen).dangling()] == [links.Dangling.MISSING]


# -- real Istio config dumps --------------------------------------------------------------------

_DUMP_BODIES = ("cluster", "listener", "route_config", "endpoint_config", "secret", "ecds_filter")


def dynamic_resources(name: str) -> Resources:
    """The dynamic resources of a config dump: what Envoy got over xDS, by type and name."""
    path = istio_files.path(name)
    out: Resources = {}
    for config in json.loads(path.read_text())["configs"]:
        for section, items in config.items():
            if not section.startswith("dynamic_") or not isinstance(items, list):
                continue
            for item in items:
                holder = item.get("active_state", item)
                for key in _DUMP_BODIES:
                    found = holder.get(key)
                    if isinstance(found, dict) and "@type" in found:
                        resource_name = found.get("name") or found.get("cluster_name") or item.get("name")
                        out.setdefault(found["@type"], {})[resource_name] = found
    return out


def test_istio_sidecar_dump_links() -> None:
    graph = links.build(dynamic_resources("modern-v3/sidecar-describe-http.config_dump.json"))
    productpage = "outbound|9080||productpage.default.svc.cluster.local"
    subset = "outbound|9080|v1|productpage.default.svc.cluster.local"
    route_refs = graph.refs_from(cp.ROUTE, "http.8080")
    assert targets(route_refs) == [(cp.CLUSTER, productpage)] * 5
    assert [ref.via for ref in route_refs][:2] == [
        "virtual_hosts[0].routes[0].route.cluster",
        "virtual_hosts[0].routes[1].route.cluster",
    ]
    assert targets(graph.refs_from(cp.CLUSTER, subset)) == [
        (cp.ENDPOINT, subset),
        (refs.SECRET, "default"),
        (refs.SECRET, "ROOTCA"),
    ]
    kinds = {(d.ref.target_type, d.ref.target): d.kind for d in graph.dangling()}
    assert kinds == {
        # The trimmed dump holds only the v1 subset cluster: the route's cluster is really absent.
        (cp.CLUSTER, productpage): links.Dangling.MISSING,
        # No EDS or SDS section in this dump.
        (cp.ENDPOINT, subset): links.Dangling.NOT_CAPTURED,
        (refs.SECRET, "default"): links.Dangling.NOT_CAPTURED,
        (refs.SECRET, "ROOTCA"): links.Dangling.NOT_CAPTURED,
    }
    assert graph.roots() == [(cp.ROUTE, "http.8080"), (cp.CLUSTER, subset)]


def test_istio_1_3_sidecar_v2_dump_resolves_every_listener_reference() -> None:
    graph = links.build(dynamic_resources("legacy-v2/sidecar-productpage-istio1.3.config_dump.json"))
    listener_refs = [ref for name in graph.names(cp.LISTENER) for ref in graph.refs_from(cp.LISTENER, name)]
    assert {ref.target_type for ref in listener_refs} == {cp.ROUTE, cp.CLUSTER}
    assert len([ref for ref in listener_refs if ref.target_type == cp.ROUTE]) >= 20
    assert len([ref for ref in listener_refs if ref.via.endswith("typed_config.cluster")]) >= 20, "tcp_proxy"
    assert all(graph.classify(ref) is None for ref in listener_refs), "a complete dump names nothing absent"
    kinds = {d.kind for d in graph.dangling()}
    assert kinds == {links.Dangling.NOT_CAPTURED}, "only endpoints: the dump was taken without include_eds"
    assert graph.refs_to(cp.CLUSTER, "PassthroughCluster"), "virtualOutbound's tcp_proxy names it"


# -- odd bodies ---------------------------------------------------------------------------------


def nested(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    node = leaf
    for _ in range(levels):
        node = {"filters": [node]}
    return node


ODD_BODIES: list[Any] = [
    None,
    [],
    "listener",
    42,
    {},
    {"filter_chains": "nope"},
    {"filter_chains": [None, 1, "x", {"filters": {"name": "x"}}, {"filters": [{"typed_config": []}]}]},
    {"@type": 5, "type": "EDS", "eds_cluster_config": "x"},
    {"type": "EDS", "eds_cluster_config": {"service_name": 7}},
    {
        "virtual_hosts": [
            {"routes": [{"route": {"cluster": {"a": 1}, "weighted_clusters": {"clusters": "x"}}}]}
        ]
    },
    {"virtual_hosts": {"routes": []}, "route_configuration_name": ["x"]},
    {"x": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct", "type_url": 3, "value": "v"}},
    {"x": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct", "type_url": "a/b", "value": None}},
    {"config_discovery": {}, "name": None},
    {"tls_context": "x", "envoy_grpc": None, "http_uri": [1], "collector_cluster": 3},
    {1: "int key", None: {"@type": None}},
    nested(10_000, {"cluster": "deep"}),
]


@pytest.mark.parametrize("odd", ODD_BODIES, ids=lambda odd: type(odd).__name__)
def test_odd_bodies_never_raise(odd: Any) -> None:
    for type_url in (
        cp.LISTENER,
        cp.ROUTE,
        cp.CLUSTER,
        cp.ENDPOINT,
        refs.SCOPED_ROUTE,
        refs.EXTENSION,
        "x",
    ):
        assert isinstance(refs.refs_of(type_url, "odd", odd), list)
        graph = links.build({type_url: {"odd": odd}})
        graph.dangling()
        graph.walk()


def test_odd_containers_never_raise() -> None:
    graph = links.build({cp.CLUSTER: "not a mapping", cp.ROUTE: {"r": {"virtual_hosts": None}}})  # type: ignore[dict-item]
    assert graph.types == (cp.ROUTE, cp.CLUSTER)
    assert graph.walk()[0].name == "r"


def test_unknown_types_are_kept_but_not_searched() -> None:
    graph = links.build({"type.googleapis.com/istio.workload.Address": {"a": {"cluster": "x"}}})
    assert graph.types == ("type.googleapis.com/istio.workload.Address",)
    assert graph.refs_from("type.googleapis.com/istio.workload.Address", "a") == ()
    assert [row.unreferenced for row in graph.walk()] == [True]
