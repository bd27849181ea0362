"""TLS and mTLS to the control plane: the relay dials it over TLS with ALPN h2, Envoy's side stays h2c,
and a wrong CA, a name mismatch or a missing client certificate is refused naming the control plane."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import grpc
import grpc.aio
import pytest

from xdsspy import addresses
from xdsspy import errors
from xdsspy import model
from xdsspy.capture import grpc_proxy
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import tlsconfig
from xdsspy.testing import tls_material
from xdsspy.testing.sinks import ListSink


def _handlers(seen: list[tuple[str, str]]) -> grpc.GenericRpcHandler:
    async def unary(request: bytes, context: Any) -> bytes:
        seen.extend((k, v) for k, v in (context.invocation_metadata() or ()) if isinstance(v, str))
        return b"tls:" + request

    return grpc.method_handlers_generic_handler(
        "test.Svc", {"Unary": grpc.unary_unary_rpc_method_handler(unary)}
    )


def _server_credentials(pki: tls_material.Pki, client_ca: tls_material.Pki | None) -> grpc.ServerCredentials:
    """The control plane's certificate; with `client_ca`, the CA its clients' certificates chain to."""
    return grpc.ssl_server_credentials(
        [(pathlib.Path(pki.key).read_bytes(), pathlib.Path(pki.cert).read_bytes())],
        root_certificates=pathlib.Path(client_ca.ca_cert).read_bytes() if client_ca else None,
        require_client_auth=client_ca is not None,
    )


async def _call(
    tmp: pathlib.Path,
    tls: tlsconfig.ClientTls,
    *,
    require_client_cert: bool = False,
    server_names: tuple[str, ...] = ("localhost",),
) -> tuple[bytes | str, ListSink, list[tuple[str, str]]]:
    pki = tls_material.issue(str(tmp), names=server_names)
    client_ca = tls_material.issue(str(tmp), prefix="client-") if require_client_cert else None
    server = grpc.aio.server()
    seen: list[tuple[str, str]] = []
    server.add_generic_rpc_handlers((_handlers(seen),))
    credentials = _server_credentials(pki, client_ca)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    if tls.ca == "PKI":
        tls = tlsconfig.ClientTls(ca=pki.ca_cert, cert=tls.cert, key=tls.key, server_name=tls.server_name)
    if tls.cert == "CLIENT" and client_ca is not None:
        tls = tlsconfig.ClientTls(
            ca=tls.ca, cert=client_ca.cert, key=client_ca.key, server_name=tls.server_name
        )
    sink = ListSink()
    options = grpc_proxy.ProxyOptions(upstream=addresses.parse(f"127.0.0.1:{port}"), upstream_tls=tls)
    proxy = grpc_proxy.GrpcProxy(options, sink, sink_mod.Stamper())
    target = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
    try:
        async with grpc.aio.insecure_channel(target) as channel:  # Envoy's side: h2c, as before
            try:
                answer: bytes | str = await channel.unary_unary("/test.Svc/Unary")(
                    b"hello",
                    metadata=(
                        ("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"),
                        ("clusterid", "Kubernetes"),
                    ),
                )
            except grpc.aio.AioRpcError as e:
                answer = f"{e.code().name}: {e.details()}"
    finally:
        await proxy.stop(0.1)
        await server.stop(0)
    return answer, sink, seen


def test_tls_to_the_control_plane_passes_every_header_and_records_plaintext(tmp_path: pathlib.Path) -> None:
    answer, sink, seen = asyncio.run(_call(tmp_path, tlsconfig.ClientTls(ca="PKI", server_name="localhost")))
    assert answer == b"tls:hello"
    assert ("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig") in seen and (
        "clusterid",
        "Kubernetes",
    ) in seen
    assert sink.messages(model.Direction.REQUEST) == [b"hello"]  # the recording holds the leg's plaintext
    assert sink.messages(model.Direction.RESPONSE) == [b"tls:hello"]


def test_mtls_presents_xdsspys_client_certificate(tmp_path: pathlib.Path) -> None:
    tls = tlsconfig.ClientTls(ca="PKI", cert="CLIENT", key="x", server_name="localhost")
    answer, _, _ = asyncio.run(_call(tmp_path, tls, require_client_cert=True))
    assert answer == b"tls:hello"


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        (
            tlsconfig.ClientTls(ca=None, server_name="localhost"),
            "TLS: unable to get local issuer certificate",
        ),
        (tlsconfig.ClientTls(ca="PKI", server_name="istiod.istio-system.svc"), "TLS: Hostname mismatch"),
    ],
    ids=["wrong-ca", "name-mismatch"],
)
def test_a_failed_handshake_is_answered_for_naming_the_control_plane(
    tmp_path: pathlib.Path, tls: tlsconfig.ClientTls, expected: str
) -> None:
    answer, sink, _ = asyncio.run(_call(tmp_path, tls))
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE: xdsspy: control plane"), answer
    assert expected in answer
    [closed] = sink.of(model.StreamClosed)
    assert closed.code == grpc.StatusCode.UNAVAILABLE.value[0] and expected in closed.details


def test_a_refused_client_certificate_is_said_in_the_recording(tmp_path: pathlib.Path) -> None:
    """TLS 1.3 checks the client certificate after the handshake: the control plane just closes."""
    answer, sink, _ = asyncio.run(
        _call(tmp_path, tlsconfig.ClientTls(ca="PKI", server_name="localhost"), require_client_cert=True)
    )
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE")
    notes = [e.text for e in sink.of(model.Note)]
    assert any("control plane" in n and "closed the TLS connection before answering" in n for n in notes), (
        notes
    )


def test_bad_files_are_one_clear_line(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.XdsspyError, match="--upstream-ca"):
        tlsconfig.client_context(tlsconfig.ClientTls(ca=str(tmp_path / "missing.pem")))
    with pytest.raises(errors.XdsspyError, match="both --upstream-cert and --upstream-key"):
        tlsconfig.client_context(tlsconfig.ClientTls(cert=str(tmp_path / "c.pem")))
    pki = tls_material.issue(str(tmp_path))
    other = tls_material.issue(str(tmp_path), prefix="other-")
    with pytest.raises(errors.XdsspyError, match="cannot load them"):
        tlsconfig.client_context(tlsconfig.ClientTls(cert=pki.cert, key=other.key))


async def _through_tls_listener(
    tmp: pathlib.Path, *, client_ca: bool, present_cert: bool
) -> tuple[bytes | str, ListSink]:
    """A TLS client (an Envoy whose xDS cluster dials TLS) -> xdsspy's TLS listener -> a plaintext plane."""
    pki = tls_material.issue(str(tmp))
    clients = tls_material.issue(str(tmp), prefix="envoy-")
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handlers([]),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sink = ListSink()
    listen_tls = tlsconfig.ServerTls(pki.cert, pki.key, clients.ca_cert if client_ca else None)
    options = grpc_proxy.ProxyOptions(upstream=addresses.parse(f"127.0.0.1:{port}"), listen_tls=listen_tls)
    proxy = grpc_proxy.GrpcProxy(options, sink, sink_mod.Stamper())
    target = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
    credentials = _client_credentials(pki, clients if present_cert else None)
    try:
        async with grpc.aio.secure_channel(
            target, credentials, options=(("grpc.ssl_target_name_override", "localhost"),)
        ) as channel:
            try:
                answer: bytes | str = await channel.unary_unary("/test.Svc/Unary")(b"hi", timeout=10)
            except grpc.aio.AioRpcError as e:
                answer = f"{e.code().name}: {e.details()}"
    finally:
        await proxy.stop(0.1)
        await server.stop(0)
    return answer, sink


def _client_credentials(pki: tls_material.Pki, client: tls_material.Pki | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pathlib.Path(pki.ca_cert).read_bytes(),
        private_key=pathlib.Path(client.key).read_bytes() if client else None,
        certificate_chain=pathlib.Path(client.cert).read_bytes() if client else None,
    )


@pytest.mark.parametrize("mtls", [False, True], ids=["tls", "mtls"])
def test_an_envoy_that_dials_tls_is_captured_in_plaintext(tmp_path: pathlib.Path, mtls: bool) -> None:
    answer, sink = asyncio.run(_through_tls_listener(tmp_path, client_ca=mtls, present_cert=mtls))
    assert answer == b"tls:hi"
    assert sink.messages(model.Direction.REQUEST) == [b"hi"]
    assert sink.messages(model.Direction.RESPONSE) == [b"tls:hi"]


def test_an_envoy_without_the_client_certificate_mtls_asks_for_is_refused(tmp_path: pathlib.Path) -> None:
    answer, sink = asyncio.run(_through_tls_listener(tmp_path, client_ca=True, present_cert=False))
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE"), answer
    assert sink.of(model.StreamOpened) == []  # nothing reached the control plane or the recording
