"""`xdsspy bootstrap`: the bootstrap it prints for each API, its YAML and JSON, and the command's options.

Envoy's own verdict on these bootstraps is in tests/e2e/test_bootstrap_validate.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import stat
from typing import Any

import pytest
import yaml

from xdsspy import addresses
from xdsspy import envoy_bootstrap
from xdsspy import errors


def _cluster(document: dict[str, Any]) -> dict[str, Any]:
    (cluster,) = document["static_resources"]["clusters"]
    found: dict[str, Any] = cluster
    return found


def _address_of(cluster: dict[str, Any]) -> dict[str, Any]:
    (locality,) = cluster["load_assignment"]["endpoints"]
    (lb_endpoint,) = locality["lb_endpoints"]
    found: dict[str, Any] = lb_endpoint["endpoint"]["address"]
    return found


@pytest.mark.parametrize("api", [envoy_bootstrap.Api.GRPC, envoy_bootstrap.Api.DELTA_GRPC])
def test_ads_from_an_http2_static_cluster(api: envoy_bootstrap.Api) -> None:
    document = envoy_bootstrap.build(
        envoy_bootstrap.Options(
            xds=addresses.parse("127.0.0.1:15010"), node_id="n1", node_cluster="c1", api=api
        )
    )
    assert document["node"] == {"id": "n1", "cluster": "c1"}
    assert document["admin"] == {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 15000}}}
    dynamic = document["dynamic_resources"]
    assert dynamic["ads_config"] == {
        "api_type": api.value,
        "transport_api_version": "V3",
        "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
    }
    for source in ("cds_config", "lds_config"):
        assert dynamic[source] == {"ads": {}, "resource_api_version": "V3"}
    cluster = _cluster(document)
    assert (cluster["name"], cluster["type"]) == ("xds-grpc", "STATIC")
    assert cluster["load_assignment"]["cluster_name"] == "xds-grpc"
    assert _address_of(cluster) == {"socket_address": {"address": "127.0.0.1", "port_value": 15010}}
    options = cluster["typed_extension_protocol_options"][envoy_bootstrap.HTTP_OPTIONS]
    assert options["explicit_http_config"] == {"http2_protocol_options": {}}


def test_rest_polls_cds_and_lds_from_an_http1_cluster() -> None:
    document = envoy_bootstrap.build(
        envoy_bootstrap.Options(xds=addresses.parse("127.0.0.1:15011"), api=envoy_bootstrap.Api.REST)
    )
    dynamic = document["dynamic_resources"]
    assert "ads_config" not in dynamic
    for source in ("cds_config", "lds_config"):
        assert dynamic[source] == {
            "resource_api_version": "V3",
            "api_config_source": {
                "api_type": "REST",
                "transport_api_version": "V3",
                "cluster_names": ["xds-rest"],
                "refresh_delay": "1.000s",
                "request_timeout": "1.000s",
            },
        }
    cluster = _cluster(document)
    assert cluster["name"] == "xds-rest"
    assert "typed_extension_protocol_options" not in cluster  # HTTP/1.1


@pytest.mark.parametrize(
    ("xds", "kind", "address"),
    [
        ("10.0.0.7:15010", "STATIC", {"socket_address": {"address": "10.0.0.7", "port_value": 15010}}),
        ("[::1]:15010", "STATIC", {"socket_address": {"address": "::1", "port_value": 15010}}),
        (
            "xdsspy.local:15010",
            "STRICT_DNS",
            {"socket_address": {"address": "xdsspy.local", "port_value": 15010}},
        ),
        ("unix:/run/xdsspy.sock", "STATIC", {"pipe": {"path": "/run/xdsspy.sock"}}),
    ],
)
def test_the_cluster_type_follows_the_address(xds: str, kind: str, address: dict[str, Any]) -> None:
    cluster = _cluster(envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse(xds))))
    assert cluster["type"] == kind
    assert _address_of(cluster) == address
    assert ("dns_lookup_family" in cluster) is (kind == "STRICT_DNS")


def test_the_xds_address_needs_a_port() -> None:
    with pytest.raises(errors.AddressError, match="needs a port"):
        envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse("127.0.0.1:0")))


@pytest.mark.parametrize("node_id", ["on", "1.0", "yes", "null", "0x10", "12:30", "~", "007"])
def test_yaml_quotes_what_yaml_would_misread(node_id: str) -> None:
    document = envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse("h:1"), node_id=node_id))
    text = envoy_bootstrap.dumps(document)
    assert yaml.safe_load(text) == document
    assert yaml.safe_load(text)["node"]["id"] == node_id


def test_json_and_yaml_carry_the_same_document_in_the_same_order() -> None:
    document = envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse("unix:/tmp/x")))
    as_json = envoy_bootstrap.dumps(document, envoy_bootstrap.Format.JSON)
    as_yaml = envoy_bootstrap.dumps(document, envoy_bootstrap.Format.YAML)
    assert json.loads(as_json) == yaml.safe_load(as_yaml) == document
    assert list(yaml.safe_load(as_yaml)) == ["node", "admin", "dynamic_resources", "static_resources"]


# -- the command ------------------------------------------------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    envoy_bootstrap.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = envoy_bootstrap.main(parser.parse_args(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_yaml_and_says_how_to_run_xdsspy() -> None:
    code, out, err = _run(
        "--xds",
        "127.0.0.1:15010",
        "--node",
        "on",
        "--cluster",
        "web",
        "--api",
        "delta_grpc",
        "--admin-port",
        "9901",
    )
    assert code == 0
    document = yaml.safe_load(out)
    assert document["node"] == {"id": "on", "cluster": "web"}
    assert document["admin"]["address"]["socket_address"]["port_value"] == 9901
    assert document["dynamic_resources"]["ads_config"]["api_type"] == "DELTA_GRPC"
    assert "xdsspy proxy --listen 127.0.0.1:15010 --upstream" in err


def test_rest_is_served_by_the_rest_listener() -> None:
    code, out, err = _run("--xds", "127.0.0.1:15011", "--api", "REST")
    assert code == 0 and "api_type: REST" in out
    assert "--rest-listen 127.0.0.1:15011 --rest-upstream http://" in err


def test_output_file_format_follows_its_extension(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "envoy.json"
    code, out, err = _run("--xds", "unix:/tmp/x.sock", "-o", str(path))
    assert code == 0 and out == ""
    assert json.loads(path.read_text())["static_resources"]["clusters"][0]["name"] == "xds-grpc"
    assert f"wrote {path}" in err
    yaml_path = tmp_path / "envoy.yaml"
    _run("--xds", "unix:/tmp/x.sock", "-o", str(yaml_path), "--format", "json")
    json.loads(yaml_path.read_text())  # asked for: JSON is YAML too


def test_yaml_into_a_json_file_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.BootstrapError, match=r"reads a \.json file as JSON"):
        _run("--xds", "127.0.0.1:1", "--format", "yaml", "-o", str(tmp_path / "b.json"))
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--plaintext"], "goes with --rewrite"),
        (["--node", ""], "cannot be empty"),
        (["--rewrite", "x.yaml", "--node", "n", "--format", "json"], "--node, --format: --rewrite keeps"),
    ],
)
def test_options_that_do_not_go_together(argv: list[str], message: str) -> None:
    with pytest.raises(errors.BootstrapError, match=message):
        _run("--xds", "127.0.0.1:1", *argv)


def test_bad_addresses_and_ports_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--xds", "nowhere"], ["--xds", "127.0.0.1:1", "--admin-port", "70000"]):
        with pytest.raises(SystemExit):
            _run(*argv)
    assert "HOST:PORT" in capsys.readouterr().err


def test_rewrite_writes_the_same_syntax_and_reports_what_it_did(tmp_path: pathlib.Path) -> None:
    given = tmp_path / "envoy.yaml"
    given.write_text(
        "# my bootstrap\n"
        "node: {id: n, cluster: c}\n"
        "dynamic_resources:\n"
        "  ads_config:\n"
        "    api_type: GRPC\n"
        "    transport_api_version: V3\n"
        "    grpc_services:\n"
        "    - envoy_grpc: {cluster_name: cp}\n"
        "  cds_config: {ads: {}, resource_api_version: V3}\n"
        "static_resources:\n"
        "  clusters:\n"
        "  - name: cp\n"
        "    type: STRICT_DNS\n"
        "    load_assignment:\n"
        "      cluster_name: cp\n"
        "      endpoints:\n"
        "      - lb_endpoints:\n"
        "        - endpoint:\n"
        "            address:\n"
        "              socket_address: {address: control-plane, port_value: 18000}  # the real one\n"
    )
    os.chmod(given, 0o600)
    written = tmp_path / "through-xdsspy.yaml"
    code, out, err = _run("--rewrite", str(given), "--xds", "127.0.0.1:15010", "-o", str(written))
    assert code == 0 and out == ""
    assert written.read_text() == given.read_text().replace(
        "{address: control-plane, port_value: 18000}", "{address: 127.0.0.1, port_value: 15010}"
    ).replace("type: STRICT_DNS", "type: STATIC")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it may hold keys: no wider than the original
    assert "cluster 'cp' (ads_config) now points at 127.0.0.1:15010 (was control-plane:18000)" in err
    assert "run: xdsspy proxy --listen 127.0.0.1:15010 --upstream control-plane:18000" in err


def test_rewrite_of_a_file_that_is_not_there_says_so() -> None:
    with pytest.raises(errors.BootstrapError, match=r"cannot read /nonexistent/envoy\.yaml"):
        _run("--rewrite", "/nonexistent/envoy.yaml", "--xds", "127.0.0.1:1")


def test_rewrite_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse("10.1.1.1:15010"))))
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code, out, _ = _run("--rewrite", "-", "--xds", "unix:/tmp/spy.sock")
    assert code == 0
    assert json.loads(out)["static_resources"]["clusters"][0]["load_assignment"]["endpoints"] == [
        {"lb_endpoints": [{"endpoint": {"address": {"pipe": {"path": "/tmp/spy.sock"}}}}]}
    ]
