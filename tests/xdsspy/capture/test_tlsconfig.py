"""TLS on either leg: the relay dials the control plane over TLS with ALPN h2 and takes Envoy's TLS, and a
wrong CA, a name mismatch, an expired or a missing certificate is said naming the side that failed."""

from __future__ import annotations

import asyncio
import pathlib
import socket
import ssl
from typing import Any

import grpc
import grpc.aio
import pytest

from xdsspy import addresses
from xdsspy import aio
from xdsspy import errors
from xdsspy import model
from xdsspy.capture import grpc_proxy
from xdsspy.capture import h2_observer
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import tlsconfig
from xdsspy.testing import processes
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
    expired: bool = False,
) -> tuple[bytes | str, ListSink, list[tuple[str, str]]]:
    pki = tls_material.issue(str(tmp), names=server_names, expired=expired)
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
    ("tls", "expired", "expected"),
    [
        (
            tlsconfig.ClientTls(ca=None, server_name="localhost"),
            False,
            "TLS: unable to get local issuer certificate",
        ),
        (
            tlsconfig.ClientTls(ca="PKI", server_name="istiod.istio-system.svc"),
            False,
            "TLS: Hostname mismatch",
        ),
        (tlsconfig.ClientTls(ca="PKI", server_name="localhost"), True, "TLS: certificate has expired"),
    ],
    ids=["wrong-ca", "name-mismatch", "expired"],
)
def test_a_failed_handshake_is_answered_for_naming_the_control_plane(
    tmp_path: pathlib.Path, tls: tlsconfig.ClientTls, expired: bool, expected: str
) -> None:
    answer, sink, _ = asyncio.run(_call(tmp_path, tls, expired=expired))
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


async def _refused_by_openssl_plane(tmp: pathlib.Path) -> tuple[bytes | str, ListSink]:
    """A control plane on blocking OpenSSL (it sends an alert, as istiod's Go TLS does) refusing xdsspy's
    expired client certificate; TLS 1.3, so the refusal comes after xdsspy's side of the handshake."""
    plane = tls_material.issue(str(tmp), prefix="plane-")
    agent = tls_material.issue(str(tmp), prefix="agent-", expired=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(plane.cert, plane.key)
    context.load_verify_locations(agent.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def plane_side() -> str:
        connection, _ = listener.accept()
        with connection:
            try:
                context.wrap_socket(connection, server_side=True).close()
            except ssl.SSLError as e:
                return str(e)
        return "accepted"

    sink = ListSink()
    tls = tlsconfig.ClientTls(ca=plane.ca_cert, cert=agent.cert, key=agent.key, server_name="localhost")
    upstream = addresses.parse(f"127.0.0.1:{listener.getsockname()[1]}")
    proxy = grpc_proxy.GrpcProxy(
        grpc_proxy.ProxyOptions(upstream, upstream_tls=tls), sink, sink_mod.Stamper()
    )
    target = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0]
    refusing = aio.spawn(asyncio.to_thread(plane_side), name="control plane refusing")
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            try:
                answer: bytes | str = await channel.unary_unary("/test.Svc/Unary")(b"hello", timeout=10)
            except grpc.aio.AioRpcError as e:
                answer = f"{e.code().name}: {e.details()}"
        assert "certificate has expired" in await refusing  # the control plane's own words
    finally:
        await proxy.stop(0.1)
        listener.close()
    return answer, sink


def test_an_expired_certificate_of_xdsspys_is_said_naming_the_control_plane(tmp_path: pathlib.Path) -> None:
    answer, sink = asyncio.run(_refused_by_openssl_plane(tmp_path))
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE"), answer
    notes = [e.text for e in sink.of(model.Note)]
    expected = "the control plane refused xdsspy's certificate (--upstream-cert): alert 'certificate expired'"
    assert any(n.startswith("the control plane 127.0.0.1:") and expected in n for n in notes), notes


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
    tmp: pathlib.Path, *, client_ca: bool, present_cert: bool, expired_client: bool = False
) -> tuple[bytes | str, ListSink]:
    """A TLS client (an Envoy whose xDS cluster dials TLS) -> xdsspy's TLS listener -> a plaintext plane."""
    pki = tls_material.issue(str(tmp))
    clients = tls_material.issue(str(tmp), prefix="envoy-", expired=expired_client)
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


def _downstream_failure(sink: ListSink) -> str:
    """The one note of a failed handshake on xdsspy's listener, checked to name Envoy's side."""
    [note] = sink.of(model.Note)
    assert note.level is model.NoteLevel.ERROR
    assert (
        note.text.startswith("Envoy ipv4:127.0.0.1:") and "(downstream) failed its TLS handshake" in note.text
    )
    return note.text


def test_an_envoy_without_the_client_certificate_mtls_asks_for_is_refused(tmp_path: pathlib.Path) -> None:
    answer, sink = asyncio.run(_through_tls_listener(tmp_path, client_ca=True, present_cert=False))
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE"), answer
    assert sink.of(model.StreamOpened) == []  # nothing reached the control plane
    assert _downstream_failure(sink).endswith(
        "TLS: Envoy presented no client certificate, and --tls-client-ca asks for one"
    )


def test_an_envoy_with_an_expired_client_certificate_is_refused_naming_envoy(tmp_path: pathlib.Path) -> None:
    answer, sink = asyncio.run(
        _through_tls_listener(tmp_path, client_ca=True, present_cert=True, expired_client=True)
    )
    assert isinstance(answer, str) and answer.startswith("UNAVAILABLE"), answer
    assert sink.of(model.StreamOpened) == []
    assert _downstream_failure(sink).endswith(
        "TLS: Envoy's client certificate failed the check against --tls-client-ca: certificate has expired"
    )


async def _openssl_client_to_tls_listener(tmp: pathlib.Path, payload: bytes | None) -> tuple[str, ListSink]:
    """An OpenSSL client (it sends an alert, as Envoy does) to xdsspy's listener whose certificate expired;
    with `payload`, a client that sends those bytes without TLS instead. Returns what the client saw."""
    pki = tls_material.issue(str(tmp), expired=True)
    sink = ListSink()
    options = grpc_proxy.ProxyOptions(
        upstream=addresses.parse("127.0.0.1:9"), listen_tls=tlsconfig.ServerTls(pki.cert, pki.key)
    )
    proxy = grpc_proxy.GrpcProxy(options, sink, sink_mod.Stamper())
    host, port = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0].rsplit(":", 1)

    def client() -> str:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            if payload is not None:
                raw.sendall(payload)
                return repr(raw.recv(100))
            context = ssl.create_default_context(cafile=pki.ca_cert)
            try:
                context.wrap_socket(raw, server_hostname="localhost").close()
            except ssl.SSLError as e:
                return str(e)
            return "connected"

    try:
        seen = await asyncio.to_thread(client)
        await processes.until(lambda: sink.of(model.Note))
    finally:
        await proxy.stop(0.1)
    return seen, sink


def test_an_envoy_refusing_xdsspys_expired_certificate_is_said_naming_envoy(tmp_path: pathlib.Path) -> None:
    seen, sink = asyncio.run(_openssl_client_to_tls_listener(tmp_path, None))
    assert "certificate has expired" in seen  # the client's own words
    assert _downstream_failure(sink).endswith(
        "TLS: Envoy refused xdsspy's certificate (--tls-cert): alert 'certificate expired'"
    )


def test_an_envoy_dialling_a_tls_listener_in_plaintext_is_told_apart(tmp_path: pathlib.Path) -> None:
    _, sink = asyncio.run(_openssl_client_to_tls_listener(tmp_path, h2_observer.PREFACE))
    assert _downstream_failure(sink).endswith("(does Envoy dial xdsspy without TLS?)")


def test_a_tcp_probe_of_a_tls_listener_is_no_failure(tmp_path: pathlib.Path) -> None:
    """A connection that closes before a byte (a readiness probe) fails nothing: the recording stays quiet."""

    async def probe() -> ListSink:
        pki = tls_material.issue(str(tmp_path))
        sink = ListSink()
        options = grpc_proxy.ProxyOptions(
            upstream=addresses.parse("127.0.0.1:9"), listen_tls=tlsconfig.ServerTls(pki.cert, pki.key)
        )
        proxy = grpc_proxy.GrpcProxy(options, sink, sink_mod.Stamper())
        host, port = (await proxy.start([addresses.parse("127.0.0.1:0")]))[0].rsplit(":", 1)
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.2)  # time for a note, were one to come: its absence is what is checked
        await proxy.stop(0.1)
        return sink

    assert asyncio.run(probe()).events == []


@pytest.mark.parametrize(
    ("reason", "downstream", "expected"),
    [
        ("SSLV3_ALERT_CERTIFICATE_EXPIRED", False, "the control plane refused xdsspy's certificate"),
        (
            "TLSV1_ALERT_UNKNOWN_CA",
            True,
            "Envoy refused xdsspy's certificate (--tls-cert): alert 'unknown ca'",
        ),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", False, "alert 'certificate required'"),
        ("NO_APPLICATION_PROTOCOL", True, "TLS: NO_APPLICATION_PROTOCOL"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", True, "TLS: alert 'protocol version'"),
    ],
)
def test_failures_in_words(reason: str, downstream: bool, expected: str) -> None:
    error = ssl.SSLError(1, f"[SSL: {reason}] ...")
    error.reason = reason
    assert expected in tlsconfig.failure(error, downstream=downstream)
