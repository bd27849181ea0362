"""TLS on both legs with real peers: an Envoy dials xdsspy over mTLS, xdsspy dials the control plane over
mTLS (as the Istio agent dials istiod on 15012), the config reaches Envoy's /config_dump, and the recording
holds every message in plaintext; an expired certificate on either leg is said, naming the side, in the
terminal (`xdsspy proxy --headless`) and in the recording."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import grpc
import pytest

from xdsspy import addresses
from xdsspy import model
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import config_dump
from xdsspy.harness import envoy
from xdsspy.harness import proxy
from xdsspy.record import reader
from xdsspy.testing import tls_material

pytestmark = pytest.mark.e2e
TLS_CONTEXT = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


class TlsEnvoy(envoy.Envoy):
    """The harness's Envoy, its xds-grpc cluster dialling TLS (showing a client certificate by default)."""

    def __init__(
        self,
        options: bootstrap.BootstrapOptions,
        workdir: pathlib.Path,
        pki: tls_material.Pki,
        *,
        client_certificate: bool = True,
        san: str = "localhost",
        **kw: Any,
    ):
        super().__init__(options, workdir, **kw)
        self.pki = pki
        self.client_certificate = client_certificate
        self.san = san  # the name xdsspy's certificate must carry, as Envoy checks istiod's

    def bootstrap_text(self) -> str:
        document = bootstrap.build(self.options)
        cluster = document["static_resources"]["clusters"][0]
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": TLS_CONTEXT,
                "sni": "localhost",
                "common_tls_context": {
                    "alpn_protocols": ["h2"],
                    "validation_context": {
                        "trusted_ca": {"filename": self.pki.ca_cert},
                        "match_typed_subject_alt_names": [
                            {"san_type": "DNS", "matcher": {"exact": self.san}}
                        ],
                    },
                    "tls_certificates": [
                        {
                            "certificate_chain": {"filename": self.pki.cert},
                            "private_key": {"filename": self.pki.key},
                        }
                    ]
                    if self.client_certificate
                    else [],
                },
            },
        }
        return json.dumps(document, indent=2)


def _wait_for_line(xdsspy: proxy.XdsspyProcess, text: str, timeout: float = 30.0) -> str:
    """The first line of xdsspy's terminal output that holds `text`, once it is printed."""
    deadline = time.monotonic() + timeout
    while True:
        for line in xdsspy.output().splitlines():
            if text in line:
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} was not printed within {timeout:g} s\n{xdsspy.output_tail()}")
        time.sleep(0.1)


def test_mtls_on_both_legs_with_a_real_envoy(tmp_path: pathlib.Path, envoy_binary: str) -> None:
    plane = tls_material.issue(str(tmp_path), prefix="plane-")  # istiod's certificate, and its CA
    spy = tls_material.issue(str(tmp_path), prefix="spy-")  # xdsspy's listener certificate, and its CA
    agent = tls_material.issue(str(tmp_path), prefix="agent-")  # the client certificate Envoy and xdsspy show
    credentials = grpc.ssl_server_credentials(
        [(pathlib.Path(plane.key).read_bytes(), pathlib.Path(plane.cert).read_bytes())],
        root_certificates=pathlib.Path(agent.ca_cert).read_bytes(),
        require_client_auth=True,
    )
    recording = tmp_path / "tls.xdsspy"
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0", credentials=credentials) as cp:
        extra = [
            "--upstream-tls", "--upstream-ca", plane.ca_cert, "--upstream-server-name", "localhost",
            "--upstream-cert", agent.cert, "--upstream-key", agent.key,
            "--tls-cert", spy.cert, "--tls-key", spy.key, "--tls-client-ca", agent.ca_cert,
        ]  # fmt: skip
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", tmp_path, record=recording, command="record",
            extra_args=extra,
        ):  # fmt: skip
            options = bootstrap.BootstrapOptions(
                xds=addresses.parse(f"127.0.0.1:{listen}"), node_id="tls-envoy"
            )
            envoy_pki = tls_material.Pki(spy.ca_cert, agent.cert, agent.key)
            with TlsEnvoy(options, tmp_path / "envoy", envoy_pki, binary=envoy_binary) as proc:
                version = cp.set_resources(
                    res.CLUSTER, [res.static_cluster("over-tls", [("127.0.0.1", 18080)])]
                )
                cp.wait_for_ack(res.CLUSTER, version, timeout=30, node_id="tls-envoy")
                assert "over-tls" in config_dump.clusters(proc.config_dump())
    recorded = [bytes(e.raw) for e in reader.iter_events(recording) if hasattr(e, "raw")]
    assert any(b"over-tls" in raw for raw in recorded)  # the recording holds the decrypted push


def test_an_expired_control_plane_certificate_is_said_naming_the_control_plane(
    tmp_path: pathlib.Path, envoy_binary: str
) -> None:
    """istiod's certificate expired: Envoy is answered UNAVAILABLE, and the terminal and the recording say
    that the control plane's certificate has expired."""
    plane = tls_material.issue(str(tmp_path), prefix="plane-", expired=True)
    credentials = grpc.ssl_server_credentials(
        [(pathlib.Path(plane.key).read_bytes(), pathlib.Path(plane.cert).read_bytes())]
    )
    recording = tmp_path / "expired-plane.xdsspy"
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0", credentials=credentials) as cp:
        extra = ["--upstream-tls", "--upstream-ca", plane.ca_cert, "--upstream-server-name", "localhost"]
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", tmp_path, record=recording, extra_args=extra
        ) as xdsspy:
            options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{listen}"), node_id="e2e")
            with envoy.Envoy(options, tmp_path / "envoy", binary=envoy_binary):
                line = _wait_for_line(xdsspy, "certificate has expired")
    assert "UNAVAILABLE" in line and f"control plane 127.0.0.1:{cp.port} (TLS as localhost)" in line, line
    closes = [e for e in reader.iter_events(recording) if isinstance(e, model.StreamClosed)]
    assert closes and all(
        e.details.startswith(f"xdsspy: control plane 127.0.0.1:{cp.port} (TLS as localhost) unreachable")
        and e.details.endswith("TLS: certificate has expired")
        for e in closes
    ), closes


def test_an_envoy_refusing_xdsspys_expired_certificate_is_said_naming_envoy(
    tmp_path: pathlib.Path, envoy_binary: str
) -> None:
    """xdsspy's listener certificate expired: Envoy refuses it with an alert, and the terminal and the
    recording say that Envoy's side (downstream) refused xdsspy's certificate as expired."""
    spy = tls_material.issue(str(tmp_path), prefix="spy-", expired=True)
    recording = tmp_path / "expired-listener.xdsspy"
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0") as cp:
        extra = ["--tls-cert", spy.cert, "--tls-key", spy.key]
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", tmp_path, record=recording, extra_args=extra
        ) as xdsspy:
            options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{listen}"), node_id="e2e")
            with TlsEnvoy(options, tmp_path / "envoy", spy, client_certificate=False, binary=envoy_binary):
                line = _wait_for_line(xdsspy, "failed its TLS handshake")
    expected = "(downstream) failed its TLS handshake with xdsspy: TLS: Envoy refused xdsspy's certificate"
    assert "ERROR: Envoy ipv4:127.0.0.1:" in line and expected in line, line
    assert "alert 'certificate expired'" in line, line
    notes = [e for e in reader.iter_events(recording) if isinstance(e, model.Note)]
    assert notes and all(expected in n.text and n.level is model.NoteLevel.ERROR for n in notes), notes


def test_an_envoy_refusing_xdsspys_certificate_for_its_name_is_said_naming_envoy(
    tmp_path: pathlib.Path, envoy_binary: str
) -> None:
    """Envoy checks the SAN of the certificate it is shown (as a sidecar checks istiod's): xdsspy's
    certificate, for localhost, is refused by an Envoy that expects istiod's name, and nothing reaches it."""
    spy = tls_material.issue(str(tmp_path), prefix="spy-")
    recording = tmp_path / "san.xdsspy"
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0") as cp:
        version = cp.set_resources(res.CLUSTER, [res.static_cluster("never", [("127.0.0.1", 18080)])])
        extra = ["--tls-cert", spy.cert, "--tls-key", spy.key]
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", tmp_path, record=recording, extra_args=extra
        ) as xdsspy:
            options = bootstrap.BootstrapOptions(xds=addresses.parse(f"127.0.0.1:{listen}"), node_id="e2e")
            envoy_pki = tls_material.Pki(spy.ca_cert, spy.cert, spy.key)
            with TlsEnvoy(
                options,
                tmp_path / "envoy",
                envoy_pki,
                client_certificate=False,
                san="istiod.istio-system.svc",
                binary=envoy_binary,
            ) as proc:
                line = _wait_for_line(xdsspy, "failed its TLS handshake")
                assert "never" not in config_dump.clusters(proc.config_dump())
    assert "TLS: Envoy refused xdsspy's certificate (--tls-cert)" in line, line
    assert not [a for a in cp.acks if a.version == version]
    assert not [e for e in reader.iter_events(recording) if isinstance(e, model.StreamOpened)]
