"""Rewriting a user's bootstrap: which clusters are xDS, what changes in them, and Istio's real bootstraps."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from xdsspy import addresses
from xdsspy import bootstrap_rewrite
from xdsspy import docsplice
from xdsspy import envoy_bootstrap
from xdsspy import errors
from xdsspy.testing import istio_files

FIXTURES = istio_files.ROOT / "golden"
ISTIO_MASTER = "bootstrap-default.istio-master_golden.json"
ISTIO_1_6 = "bootstrap-default.istio1.6_golden.json"

TLS = {
    "name": "envoy.transport_sockets.tls",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "sni": "istiod.istio-system.svc",
    },
}


def _istio(name: str) -> str:
    return istio_files.path(f"golden/{name}").read_text()


def _bootstrap(xds: str = "10.0.0.1:15010", **changes: Any) -> dict[str, Any]:
    document = envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse(xds)))
    document["static_resources"]["clusters"][0].update(changes)
    return document


def _xds_cluster(document: dict[str, Any], name: str = "xds-grpc") -> dict[str, Any]:
    [cluster] = [c for c in document["static_resources"]["clusters"] if c["name"] == name]
    found: dict[str, Any] = cluster
    return found


def _without_xds_address(document: dict[str, Any], name: str = "xds-grpc") -> dict[str, Any]:
    """The document minus what a rewrite may change: the xDS cluster's endpoints and type."""
    document = copy.deepcopy(document)
    cluster = _xds_cluster(document, name)
    for key in ("type", "dns_lookup_family"):
        cluster.pop(key, None)
    cluster["load_assignment"].pop("endpoints")
    return document


# -- which clusters -------------------------------------------------------------------------------


def test_the_clusters_ads_and_config_sources_name() -> None:
    document = {
        "dynamic_resources": {
            "ads_config": {"api_type": "GRPC", "grpc_services": [{"envoy_grpc": {"cluster_name": "ads"}}]},
            "cds_config": {"api_config_source": {"api_type": "REST", "cluster_names": ["rest"]}},
            "lds_config": {
                "api_config_source": {
                    "api_type": "GRPC",
                    "grpc_services": [{"envoy_grpc": {"cluster_name": "ads"}}],
                }
            },
        }
    }
    assert bootstrap_rewrite.xds_cluster_names(document) == {
        "ads": [("ads_config", False), ("lds_config", False)],
        "rest": [("cds_config", True)],
    }


def test_a_rest_cluster_is_pointed_at_and_hinted_as_rest() -> None:
    document = envoy_bootstrap.build(
        envoy_bootstrap.Options(xds=addresses.parse("10.9.9.9:8080"), api=envoy_bootstrap.Api.REST)
    )
    result = bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15011"))
    (cluster,) = result.clusters
    assert (cluster.name, cluster.uses, cluster.rest) == ("xds-rest", ("cds_config", "lds_config"), True)
    assert result.run_hints(addresses.parse("127.0.0.1:15011")) == [
        "run: xdsspy proxy --rest-listen 127.0.0.1:15011 --rest-upstream http://10.9.9.9:8080"
    ]


# -- what changes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("10.0.0.1:15010", "unix:/tmp/spy.sock", "STATIC"),
        ("cp.example:15010", "127.0.0.1:15010", "STATIC"),  # an IP needs no DNS
        ("cp.example:15010", "spy.example:1", "STRICT_DNS"),  # a DNS cluster stays one
        ("unix:/tmp/XDS", "localhost:15010", "STRICT_DNS"),
    ],
)
def test_only_the_endpoint_and_the_type_change(before: str, after: str, kind: str) -> None:
    document = _bootstrap(before)
    result = bootstrap_rewrite.rewrite(document, addresses.parse(after))
    cluster = _xds_cluster(result.document)
    assert cluster["type"] == kind
    assert cluster["load_assignment"]["endpoints"] == [
        {
            "lb_endpoints": [
                {"endpoint": {"address": envoy_bootstrap.endpoint_address(addresses.parse(after))}}
            ]
        }
    ]
    assert _without_xds_address(result.document) == _without_xds_address(document)
    assert result.clusters[0].old_addresses == (before,)
    assert document == _bootstrap(before)  # the input is left alone


def test_the_first_endpoint_keeps_its_other_fields_and_the_rest_go() -> None:
    endpoints = [
        {
            "locality": {"zone": "a"},
            "lb_endpoints": [
                {
                    "endpoint": {"address": {"pipe": {"path": "/a"}}, "hostname": "cp-a"},
                    "load_balancing_weight": 3,
                },
                {"endpoint": {"address": {"pipe": {"path": "/b"}}}},
            ],
        },
        {"lb_endpoints": [{"endpoint": {"address": {"pipe": {"path": "/c"}}}}]},
    ]
    document = _bootstrap(load_assignment={"cluster_name": "xds-grpc", "endpoints": endpoints})
    result = bootstrap_rewrite.rewrite(document, addresses.parse("unix:/spy"))
    assert _xds_cluster(result.document)["load_assignment"]["endpoints"] == [
        {
            "locality": {"zone": "a"},
            "lb_endpoints": [
                {
                    "endpoint": {"address": {"pipe": {"path": "/spy"}}, "hostname": "cp-a"},
                    "load_balancing_weight": 3,
                }
            ],
        }
    ]
    assert result.clusters[0].old_addresses == ("unix:/a", "unix:/b", "unix:/c")
    assert any("had 3 endpoints" in note for note in result.notes)


def test_v2_hosts_are_rewritten_in_their_own_form() -> None:
    document = _bootstrap()
    cluster = _xds_cluster(document)
    del cluster["load_assignment"]
    cluster["hosts"] = [{"socket_address": {"address": "istio-pilot", "port_value": 15010}}]
    cluster["type"] = "STRICT_DNS"
    result = bootstrap_rewrite.rewrite(document, addresses.parse("[::1]:15010"))
    rewritten = _xds_cluster(result.document)
    assert rewritten["hosts"] == [{"socket_address": {"address": "::1", "port_value": 15010}}]
    assert "load_assignment" not in rewritten
    assert result.clusters[0].old_addresses == ("istio-pilot:15010",)


def test_tls_stays_with_a_note_unless_plaintext_is_asked_for() -> None:
    document = _bootstrap(transport_socket=TLS)
    kept = bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15010"))
    assert _xds_cluster(kept.document)["transport_socket"] == TLS
    assert kept.clusters[0].tls and not kept.clusters[0].tls_dropped
    [note] = kept.notes
    assert "keeps its TLS transport_socket" in note and "--plaintext" in note
    dropped = bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15010"), plaintext=True)
    assert "transport_socket" not in _xds_cluster(dropped.document)
    assert dropped.clusters[0].tls_dropped and dropped.notes == ()
    run, upstream_note = dropped.run_hints(addresses.parse("127.0.0.1:15010"))
    assert run == "run: xdsspy proxy --listen 127.0.0.1:15010 --upstream 10.0.0.1:15010"
    assert "--upstream connects in plaintext" in upstream_note


def test_a_raw_buffer_transport_socket_is_not_tls() -> None:
    document = _bootstrap(transport_socket={"name": "envoy.transport_sockets.raw_buffer"})
    result = bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15010"), plaintext=True)
    assert not result.clusters[0].tls
    assert "transport_socket" in _xds_cluster(result.document)


def test_other_clusters_keep_their_tls_under_plaintext() -> None:
    document = _bootstrap(transport_socket=TLS)
    document["static_resources"]["clusters"].append({"name": "app", "transport_socket": TLS})
    result = bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15010"), plaintext=True)
    assert _xds_cluster(result.document, "app")["transport_socket"] == TLS


# -- what cannot be rewritten ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"static_resources": {"clusters": []}}, "names no xDS cluster"),
        ({"dynamic_resources": {"cds_config": {"ads": {}}}}, "names no xDS cluster"),
        (
            {
                "dynamic_resources": {
                    "ads_config": {"grpc_services": [{"envoy_grpc": {"cluster_name": "gone"}}]}
                }
            },
            r"ads_config names cluster 'gone', but static_resources.clusters does not define it "
            r"\(defined: none\)",
        ),
        (
            {
                "dynamic_resources": {
                    "ads_config": {"grpc_services": [{"google_grpc": {"target_uri": "istiod:15012"}}]}
                }
            },
            "reached with google_grpc, not through a cluster .*istiod:15012",
        ),
    ],
)
def test_bootstraps_without_an_xds_cluster_are_explained(document: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BootstrapError, match=message):
        bootstrap_rewrite.rewrite(document, addresses.parse("127.0.0.1:15010"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "EDS"}, "of type EDS"),
        ({"cluster_type": {"name": "envoy.clusters.aggregate"}}, "custom cluster .envoy.clusters.aggregate"),
    ],
)
def test_clusters_without_fixed_endpoints_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BootstrapError, match=message):
        bootstrap_rewrite.rewrite(_bootstrap(**changes), addresses.parse("127.0.0.1:15010"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("node: [unclosed\n", r"neither YAML nor JSON: .* at line 2, column 1"),
        ("key: value\n  - broken: [\n", "neither YAML nor JSON"),
        ("", "is empty"),
        ("- a\n- b\n", "it is a list, not a mapping"),
        ("just words\n", "it is a str"),
        ("node: {id: n}\n", "names no xDS cluster"),
    ],
)
def test_files_that_are_not_bootstraps_are_explained(text: str, message: str) -> None:
    with pytest.raises(errors.BootstrapError, match=message) as caught:
        bootstrap_rewrite.rewrite_text(text, addresses.parse("127.0.0.1:15010"), source="envoy.yaml")
    assert str(caught.value).startswith("envoy.yaml")


# -- text in, text out ----------------------------------------------------------------------------


def test_json_stays_json_and_keeps_its_layout() -> None:
    text = json.dumps(_bootstrap("10.0.0.1:15010"), indent=4) + "\n"
    result = bootstrap_rewrite.rewrite_text(text, addresses.parse("10.0.0.2:15010"))
    assert result.syntax is docsplice.Syntax.JSON and result.strict_json and result.layout_kept
    assert result.text == text.replace('"10.0.0.1"', '"10.0.0.2"')


def test_plaintext_cuts_only_the_transport_socket_out_of_the_text() -> None:
    text = json.dumps(_bootstrap(transport_socket=TLS), indent=2)
    result = bootstrap_rewrite.rewrite_text(text, addresses.parse("10.0.0.1:15010"), plaintext=True)
    assert result.layout_kept
    assert json.loads(result.text) == _bootstrap()
    assert result.text == json.dumps(_bootstrap(), indent=2)


# -- Istio's own bootstraps (../shared/fixtures/istio/golden) ------------------------------------


@pytest.mark.parametrize(
    "xds", ["unix:/tmp/xdsspy.sock", "127.0.0.1:15010", "localhost:15010", "[::1]:15010"]
)
def test_istio_master_bootstrap_changes_only_its_xds_address(xds: str) -> None:
    text = _istio(ISTIO_MASTER)
    result = bootstrap_rewrite.rewrite_text(text, addresses.parse(xds))
    assert result.syntax is docsplice.Syntax.JSON and result.strict_json and result.layout_kept
    before, after = json.loads(text), json.loads(result.text)
    assert _without_xds_address(after) == _without_xds_address(before)
    cluster = _xds_cluster(after)
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] == (
        envoy_bootstrap.endpoint_address(addresses.parse(xds))
    )
    assert cluster["type"] == envoy_bootstrap.discovery_type(addresses.parse(xds))
    (rewritten,) = result.rewritten.clusters
    assert (rewritten.name, rewritten.old_addresses, rewritten.tls) == ("xds-grpc", ("unix:/tmp/XDS",), False)
    changed = [line for line in _changed_lines(text, result.text)]
    assert len(changed) <= 12, changed  # the cluster's address (and type), not the file re-indented


def test_istio_master_pipe_to_pipe_is_a_one_line_change() -> None:
    text = _istio(ISTIO_MASTER)
    result = bootstrap_rewrite.rewrite_text(text, addresses.parse("unix:./etc/istio/proxy/XDS-spy"))
    assert _changed_lines(text, result.text) == [
        '-                    "path": "/tmp/XDS"',
        '+                    "path": "./etc/istio/proxy/XDS-spy"',
    ]
    assert result.rewritten.run_hints(addresses.parse("unix:./etc/istio/proxy/XDS-spy")) == [
        "run: xdsspy proxy --listen unix:./etc/istio/proxy/XDS-spy --upstream unix:/tmp/XDS"
    ]


def test_istio_1_6_bootstrap_is_yaml_and_stays_as_it_was_written() -> None:
    text = _istio(ISTIO_1_6)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # `/dev/stdout` unquoted: only a YAML parser reads it
    result = bootstrap_rewrite.rewrite_text(text, addresses.parse("unix:/tmp/xdsspy.sock"))
    assert result.syntax is docsplice.Syntax.YAML and result.layout_kept and not result.strict_json
    before, after = yaml.safe_load(text), yaml.safe_load(result.text)
    assert _without_xds_address(after) == _without_xds_address(before)
    assert _xds_cluster(after)["type"] == "STATIC"  # it was STRICT_DNS: a pipe needs a static cluster
    assert _changed_lines(text, result.text) == [
        '-        "type": "STRICT_DNS",',
        '+        "type": "STATIC",',
        '-                  "socket_address": {"address": "istio-pilot", "port_value": 15010}',
        '+                  "pipe": {',
        '+                    "path": "/tmp/xdsspy.sock"',
        "+                  }",
    ]
    assert result.rewritten.clusters[0].old_addresses == ("istio-pilot:15010",)


def _changed_lines(before: str, after: str) -> list[str]:
    import difflib

    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
