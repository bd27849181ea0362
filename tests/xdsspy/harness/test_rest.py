"""The REST bootstrap: its shape, and that a real Envoy accepts it (--mode validate)."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from xdsspy import addresses
from xdsspy.harness import envoy
from xdsspy.harness import rest


@pytest.mark.parametrize("http2", [False, True])
def test_cds_and_lds_are_polled_over_rest_from_one_static_cluster(
    http2: bool, tmp_path: pathlib.Path
) -> None:
    options = rest.RestBootstrapOptions(server=addresses.parse("127.0.0.1:15011"), http2=http2)
    bootstrap = rest.build(options)
    for key in ("cds_config", "lds_config"):
        source = bootstrap["dynamic_resources"][key]["api_config_source"]
        assert source["api_type"] == "REST" and source["transport_api_version"] == "V3"
        assert source["cluster_names"] == [rest.REST_CLUSTER] and source["refresh_delay"] == "1.000s"
    assert "ads_config" not in bootstrap["dynamic_resources"]
    (cluster,) = bootstrap["static_resources"]["clusters"]
    assert ("typed_extension_protocol_options" in cluster) is http2
    binary = envoy.find_envoy()
    if binary is None:
        pytest.skip("no envoy binary to validate the bootstrap with")
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(bootstrap))
    done = subprocess.run(
        [binary, "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
