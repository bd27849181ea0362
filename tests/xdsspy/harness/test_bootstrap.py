"""The bootstrap: the fields Envoy's ADS client needs, TCP or unix xDS, and Envoy's own verdict on it."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from xdsspy import addresses
from xdsspy.harness import bootstrap


def test_ads_over_grpc_with_http2_xds_cluster() -> None:
    config = bootstrap.build(
        bootstrap.BootstrapOptions(
            xds=addresses.parse("127.0.0.1:15010"), node_id="on", api_type=bootstrap.ApiType.DELTA
        )
    )
    assert config["node"] == {"id": "on", "cluster": "xdsspy"}
    ads = config["dynamic_resources"]["ads_config"]
    assert (ads["api_type"], ads["transport_api_version"]) == ("DELTA_GRPC", "V3")
    assert ads["grpc_services"][0]["envoy_grpc"]["cluster_name"] == bootstrap.XDS_CLUSTER
    for source in ("cds_config", "lds_config"):
        assert config["dynamic_resources"][source] == {"ads": {}, "resource_api_version": "V3"}
    (cluster,) = config["static_resources"]["clusters"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"] == {"socket_address": {"address": "127.0.0.1", "port_value": 15010}}
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert options["explicit_http_config"] == {"http2_protocol_options": {}}
    assert '"id": "on"' in bootstrap.dumps(
        bootstrap.BootstrapOptions(xds=addresses.parse("h:1"), node_id="on")
    )


def test_unix_socket_xds_uses_a_pipe() -> None:
    config = bootstrap.build(bootstrap.BootstrapOptions(xds=addresses.parse("unix:/tmp/x.sock")))
    endpoint = config["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    assert endpoint["endpoint"]["address"] == {"pipe": {"path": "/tmp/x.sock"}}


def test_xds_address_needs_a_port() -> None:
    with pytest.raises(ValueError, match="needs a port"):
        bootstrap.build(bootstrap.BootstrapOptions(xds=addresses.parse("127.0.0.1:0")))


@pytest.mark.parametrize("xds", ["127.0.0.1:15010", "unix:/tmp/xdsspy-test.sock"])
def test_envoy_accepts_it(envoy_binary: str, tmp_path: pathlib.Path, xds: str) -> None:
    path = tmp_path / "bootstrap.json"
    options = bootstrap.BootstrapOptions(xds=addresses.parse(xds), initial_fetch_timeout_s=2)
    path.write_text(bootstrap.dumps(options))
    json.loads(path.read_text())
    result = subprocess.run(
        [envoy_binary, "--mode", "validate", "-c", str(path), "--disable-hot-restart", "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"envoy --mode validate rejected the bootstrap:\n{result.stdout}{result.stderr}"
    )
