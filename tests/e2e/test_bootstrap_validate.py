"""`xdsspy bootstrap`'s output, new and rewritten, as Envoy itself judges it (`envoy --mode validate`).

Istio's 1.6 bootstrap is v2 (envoy.config.filter.*.v2 types), which Envoy 1.40
no longer has: it cannot validate, before or after the rewrite. What can be
checked is that the rewrite adds nothing Envoy objects to: it fails the same way.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import re
import subprocess

import pytest

from xdsspy import addresses
from xdsspy import bootstrap_rewrite
from xdsspy import envoy_bootstrap
from xdsspy.testing import istio_files

pytestmark = pytest.mark.e2e

FIXTURES = istio_files.ROOT / "golden"


def _validate(envoy_binary: str, path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [envoy_binary, "--mode", "validate", "-c", str(path), "--disable-hot-restart", "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _accepted(envoy_binary: str, path: pathlib.Path) -> None:
    result = _validate(envoy_binary, path)
    assert result.returncode == 0, (
        f"envoy --mode validate rejected {path.name}:\n{result.stdout}{result.stderr}"
    )


def _command(*argv: str) -> None:
    parser = argparse.ArgumentParser()
    envoy_bootstrap.add_arguments(parser)
    assert envoy_bootstrap.main(parser.parse_args(argv), io.StringIO(), io.StringIO()) == 0


@pytest.mark.parametrize("api", [a.value for a in envoy_bootstrap.Api])
@pytest.mark.parametrize(
    "xds", ["127.0.0.1:15010", "localhost:15010", "[::1]:15010", "unix:/tmp/xdsspy-e2e.sock"]
)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_envoy_accepts_every_generated_bootstrap(
    envoy_binary: str, tmp_path: pathlib.Path, api: str, xds: str, suffix: str
) -> None:
    path = tmp_path / f"envoy{suffix}"
    _command("--xds", xds, "--api", api, "--node", "on", "--cluster", "1.0", "-o", str(path))
    _accepted(envoy_binary, path)


def _istio(name: str) -> str:
    return istio_files.path(f"golden/{name}").read_text()


@pytest.mark.parametrize("xds", ["unix:/tmp/xdsspy-e2e.sock", "127.0.0.1:15010", "localhost:15010"])
def test_envoy_accepts_istios_bootstrap_rewritten(
    envoy_binary: str, tmp_path: pathlib.Path, xds: str
) -> None:
    given = tmp_path / "istio.json"
    given.write_text(_istio("bootstrap-default.istio-master_golden.json"))
    _accepted(envoy_binary, given)  # as Istio wrote it: the baseline
    rewritten = tmp_path / "through-xdsspy.json"
    _command("--rewrite", str(given), "--xds", xds, "-o", str(rewritten))
    _accepted(envoy_binary, rewritten)


def test_istio_1_6_fails_only_as_it_already_did(envoy_binary: str, tmp_path: pathlib.Path) -> None:
    text = _istio("bootstrap-default.istio1.6_golden.json")
    given, rewritten = tmp_path / "istio.yaml", tmp_path / "through-xdsspy.yaml"
    given.write_text(text)
    rewritten.write_text(
        bootstrap_rewrite.rewrite_text(text, addresses.parse("unix:/tmp/xdsspy-e2e.sock")).text
    )
    before, after = _validate(envoy_binary, given), _validate(envoy_binary, rewritten)
    assert before.returncode != 0 and after.returncode != 0

    def reason(result: subprocess.CompletedProcess[str]) -> str:
        found = re.search(r"error initializing configuration '[^']*': (.*)", result.stdout + result.stderr)
        assert found, result.stdout + result.stderr
        return found.group(1).split("): {")[0]  # the problem, not the document Envoy prints after it

    assert "v2.HttpConnectionManager" in reason(before)
    assert reason(after) == reason(before)


@pytest.mark.parametrize("plaintext", [False, True])
def test_envoy_accepts_a_tls_xds_cluster_rewritten(
    envoy_binary: str, tmp_path: pathlib.Path, plaintext: bool
) -> None:
    document = envoy_bootstrap.build(envoy_bootstrap.Options(xds=addresses.parse("istiod.example:15012")))
    document["static_resources"]["clusters"][0]["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": "istiod.example",
        },
    }
    given = tmp_path / "tls.json"
    given.write_text(json.dumps(document, indent=2))
    _accepted(envoy_binary, given)
    rewritten = tmp_path / "through-xdsspy.json"
    _command(
        "--rewrite",
        str(given),
        "--xds",
        "127.0.0.1:15010",
        "-o",
        str(rewritten),
        *(["--plaintext"] * plaintext),
    )
    assert ("transport_socket" in rewritten.read_text()) is not plaintext
    _accepted(envoy_binary, rewritten)
