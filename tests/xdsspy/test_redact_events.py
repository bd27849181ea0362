"""Redacting recorded events: no secret byte survives, and what is left is still a valid recording."""

from __future__ import annotations

import base64
import functools
import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import grpc_service_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2

from xdsspy import model
from xdsspy import redact
from xdsspy import redact_events
from xdsspy.controlplane import resources as res
from xdsspy.decode import discovery
from xdsspy.decode import resources
from xdsspy.decode import rest
from xdsspy.export import decoded
from xdsspy.export import jsonl
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.testing import xds

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA_ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
REST_CDS = "/v3/discovery:clusters"
SECRET_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
TOKEN = "s3cr3t-n0de-t0ken-4f1c9"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIiwic3ViIjoic2EifQ.c2lnbmF0dXJl"
FIXED_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZm9yIHRlc3RzIG9u\n"
    "bHkgbm90IGEgcmVhbCBrZXkgYXQgYWxsIQ==\n-----END PRIVATE KEY-----\n"
)


@functools.cache
def private_key() -> str:
    """A fresh EC private key in PEM: from `cryptography`, else `openssl`, else a fixed PEM-shaped one."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        try:
            made = subprocess.run(
                ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return FIXED_KEY
        return made.stdout
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def secret_pieces() -> list[bytes]:
    """What a leak would show: the key's body lines, and its base64 (a JSON bytes field)."""
    key = private_key()
    lines = [line.encode() for line in key.splitlines() if line and not line.startswith("-----")]
    return [*lines, base64.b64encode(key.encode())[16:60], b"PRIVATE KEY", TOKEN.encode(), JWT.encode()]


def leaks(data: bytes | str) -> list[bytes]:
    blob = data.encode() if isinstance(data, str) else data
    return [piece for piece in secret_pieces() if piece in blob]


def packed(message: Any, type_url: str | None = None) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    if type_url is not None:
        out.type_url = type_url
    return out


def sds_secret(name: str = "default") -> secret_pb2.Secret:
    secret = secret_pb2.Secret(name=name)
    certificate = secret.tls_certificate
    certificate.certificate_chain.inline_bytes = (
        b"-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n"
    )
    certificate.private_key.inline_string = private_key()
    return secret


def generic_secret(name: str = "hmac") -> secret_pb2.Secret:
    secret = secret_pb2.Secret(name=name)
    secret.generic_secret.secret.inline_bytes = private_key().encode()
    return secret


def tls_cluster(name: str = "tls-upstream") -> cluster_pb2.Cluster:
    """A cluster whose upstream TLS context carries its client key inline, not through SDS."""
    context = tls_pb2.UpstreamTlsContext(sni="backend.example")
    certificate = context.common_tls_context.tls_certificates.add()
    certificate.certificate_chain.inline_string = (
        "-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n"
    )
    certificate.private_key.inline_bytes = private_key().encode()
    cluster = res.static_cluster(name, [("10.0.0.7", 443)])
    cluster.transport_socket.name = "envoy.transport_sockets.tls"
    cluster.transport_socket.typed_config.CopyFrom(packed(context))
    return cluster


def event(raw: bytes, *, response: bool = True, method: str = ADS, seq: int = 2) -> model.MessageSeen:
    direction = model.Direction.RESPONSE if response else model.Direction.REQUEST
    return model.MessageSeen(
        seq=seq,
        wall_ns=seq,
        monotonic_ns=seq,
        connection=1,
        stream=1,
        direction=direction,
        raw=raw,
        method=method,
    )


def sotw(*resources: any_pb2.Any, type_url: str = SECRET_URL) -> bytes:
    response = discovery_pb2.DiscoveryResponse(version_info="1", type_url=type_url, nonce="n1")
    response.resources.extend(resources)
    return response.SerializeToString()


@pytest.fixture
def redactor() -> redact.Redactor:
    return redact.Redactor(salt=b"test salt")


@pytest.fixture
def masker(redactor: redact.Redactor) -> redact_events.EventRedactor:
    return redact_events.EventRedactor(redactor)


def resource_bodies(message: model.MessageSeen) -> list[tuple[str, str, Any]]:
    envelope = discovery.decode(message.method, message.direction, bytes(message.raw))
    assert envelope.problem == ""
    return [(entry.type_url, entry.name, resources.decode_entry(entry).body) for entry in envelope.resources]


def test_sds_secrets_lose_their_keys_and_keep_everything_else(
    masker: redact_events.EventRedactor, redactor: redact.Redactor
) -> None:
    plain = packed(xds.tcluster(3))
    original = event(sotw(packed(sds_secret()), plain, packed(generic_secret())))
    assert leaks(original.raw)
    out = masker.event(original)
    assert isinstance(out, model.MessageSeen) and out is not original
    assert leaks(out.raw) == []
    assert masker.masked == 2 and masker.messages_rewritten == 1 and masker.events_changed == 1
    before, after = resource_bodies(original), resource_bodies(out)
    assert [(t, n) for t, n, _ in after] == [(t, n) for t, n, _ in before]
    # The same markers a snapshot made with this Redactor shows: the bytes say what the JSON says.
    assert [body for _, _, body in after] == [redactor.json(body).value for _, _, body in before]
    tls = after[0][2]["tls_certificate"]
    assert tls["certificate_chain"] == before[0][2]["tls_certificate"]["certificate_chain"]
    assert redact.is_masked(tls["private_key"]["inline_string"])
    assert discovery.decode(ADS, out.direction, out.raw).resources[1].raw == plain.value, "untouched bytes"
    assert "2 secret(s) masked in 1 event(s) (1 of 1 message(s))" in masker.summary()


def test_a_cluster_with_an_inline_upstream_key(masker: redact_events.EventRedactor) -> None:
    others = [packed(xds.tcluster(i)) for i in range(3)]
    original = event(sotw(others[0], packed(tls_cluster()), *others[1:], type_url=res.CLUSTER))
    out = masker.event(original)
    assert leaks(out.raw) == [] and masker.masked == 1
    entries = discovery.decode(ADS, out.direction, out.raw).resources
    assert [e.name for e in entries] == [
        e.name for e in discovery.decode(ADS, original.direction, original.raw).resources
    ]
    assert [entries[0].raw, entries[2].raw, entries[3].raw] == [o.value for o in others]
    cluster = cluster_pb2.Cluster.FromString(entries[1].raw)
    context = tls_pb2.UpstreamTlsContext.FromString(cluster.transport_socket.typed_config.value)
    assert (
        context.sni == "backend.example" and context.common_tls_context.tls_certificates[0].certificate_chain
    )
    assert (
        cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address
        == "10.0.0.7"
    )


def test_node_metadata_and_nack_text(masker: redact_events.EventRedactor) -> None:
    request = discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER, response_nonce="n1", version_info="0")
    request.node.id = "sidecar~10.0.0.1~app.ns~ns.svc.cluster.local"
    request.node.metadata.update({"ISTIO_VERSION": "1.28", "AUTH": {"token": TOKEN}, "NAMESPACE": "ns"})
    quoted = f"cannot load key {private_key()} for cluster tls-upstream"
    request.error_detail.CopyFrom(status_pb2.Status(code=13, message=quoted))
    original = event(request.SerializeToString(), response=False)
    out = masker.event(original)
    assert leaks(out.raw) == [] and masker.masked == 2
    parsed = discovery_pb2.DiscoveryRequest.FromString(out.raw)
    assert parsed.node.id == request.node.id and parsed.node.metadata["NAMESPACE"] == "ns"
    assert redact.is_masked(parsed.node.metadata["AUTH"]["token"])
    assert parsed.error_detail.code == 13
    assert parsed.error_detail.message.startswith("cannot load key [redacted:")
    assert parsed.error_detail.message.endswith(" for cluster tls-upstream")
    assert (parsed.response_nonce, parsed.version_info, parsed.type_url) == ("n1", "0", res.CLUSTER)


def test_headers_trailers_and_text(masker: redact_events.EventRedactor) -> None:
    opened = model.StreamOpened(
        seq=1,
        wall_ns=1,
        monotonic_ns=1,
        transport=model.Transport.GRPC,
        method=ADS,
        peer="ipv4:127.0.0.1:1",
        metadata=(("content-type", b"application/grpc"), ("authorization", f"Bearer {JWT}".encode())),
    )
    out = masker.event(opened)
    assert isinstance(out, model.StreamOpened)
    assert out.metadata[0] == opened.metadata[0] and out.metadata[1][1].startswith(b"Bearer [redacted:")
    closed = model.StreamClosed(
        seq=3,
        wall_ns=3,
        monotonic_ns=3,
        code=16,
        details=f"token {JWT} expired",
        trailers=(("x-auth-token", TOKEN.encode()),),
        cause=model.CloseCause.UPSTREAM,
    )
    masked_close = masker.event(closed)
    assert isinstance(masked_close, model.StreamClosed)
    assert leaks(masked_close.details) == [] and leaks(masked_close.trailers[0][1]) == []
    note = model.Note(seq=4, wall_ns=4, monotonic_ns=4, level=model.NoteLevel.INFO, text=private_key())
    masked_note = masker.event(note)
    assert isinstance(masked_note, model.Note) and leaks(masked_note.text) == []
    assert masker.events_changed == 3 and masker.masked == 4 and masker.messages == 0


def test_messages_of_other_services_and_response_headers(masker: redact_events.EventRedactor) -> None:
    """LRS and CSDS carry a node too; a control plane's response headers can set cookies."""
    from envoy.service.load_stats.v3 import lrs_pb2

    lrs = "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats"
    request = lrs_pb2.LoadStatsRequest()
    request.node.id = "sidecar"
    request.node.metadata.update({"credentials": {"password": TOKEN}})
    out = masker.event(event(request.SerializeToString(), response=False, method=lrs))
    assert leaks(out.raw) == [] and lrs_pb2.LoadStatsRequest.FromString(out.raw).node.id == "sidecar"
    headers = model.ResponseHeadersSeen(
        seq=5, wall_ns=5, monotonic_ns=5, metadata=(("set-cookie", f"session={TOKEN}; Path=/".encode()),)
    )
    masked = masker.event(headers)
    assert isinstance(masked, model.ResponseHeadersSeen) and leaks(masked.metadata[0][1]) == []
    assert masker.events_changed == 2


def test_a_query_string_token_in_a_rest_path(masker: redact_events.EventRedactor) -> None:
    opened = model.StreamOpened(
        seq=1,
        wall_ns=1,
        monotonic_ns=1,
        transport=model.Transport.REST,
        method=f"{REST_CDS}?access_token={TOKEN}&zone=a",
        peer="ipv4:127.0.0.1:1",
    )
    out = masker.event(opened)
    assert isinstance(out, model.StreamOpened) and leaks(out.method) == []
    assert out.method.startswith(REST_CDS + "?access_token=%5Bredacted%3A") and out.method.endswith("&zone=a")


def test_a_delta_response(masker: redact_events.EventRedactor) -> None:
    response = discovery_pb2.DeltaDiscoveryResponse(system_version_info="7", type_url=SECRET_URL, nonce="d1")
    plain = packed(
        secret_pb2.Secret(name="ROOTCA", validation_context={"trusted_ca": {"filename": "/ca.pem"}})
    )
    for name, payload in (("default", packed(sds_secret())), ("ROOTCA", plain)):
        wrapper = response.resources.add(name=name, version="v1", resource=payload)
        wrapper.metadata.filter_metadata["auth"].update({"api_key": TOKEN})
    response.resources.add(name="gone-soon", version="v1")  # a heartbeat: no payload
    response.removed_resources.append("old")
    original = event(response.SerializeToString(), method=DELTA_ADS)
    out = masker.event(original)
    assert leaks(out.raw) == [] and masker.masked == 3
    parsed = discovery_pb2.DeltaDiscoveryResponse.FromString(out.raw)
    assert [(r.name, r.version, r.HasField("resource")) for r in parsed.resources] == [
        ("default", "v1", True),
        ("ROOTCA", "v1", True),
        ("gone-soon", "v1", False),
    ]
    assert parsed.resources[1].resource.value == plain.value
    assert list(parsed.removed_resources) == ["old"] and parsed.nonce == "d1"
    names = [entry.name for entry in discovery.decode(DELTA_ADS, out.direction, out.raw).resources]
    assert names == ["default", "ROOTCA", "gone-soon"]


def test_a_rest_json_body(masker: redact_events.EventRedactor) -> None:
    secret_json = {
        "@type": SECRET_URL,
        "name": "default",
        "tls_certificate": {"private_key": {"inline_string": private_key()}},
    }
    body = {"version_info": "3", "type_url": SECRET_URL, "resources": [secret_json]}
    original = event(json.dumps(body, indent=2).encode(), method="/v3/discovery:secrets")
    out = masker.event(original)
    assert leaks(out.raw) == [] and masker.masked == 1
    decoded_body = json.loads(out.raw)
    assert decoded_body["version_info"] == "3"
    envelope = rest.decode_json("/v3/discovery:secrets", out.direction, out.raw)
    assert [entry.name for entry in envelope.resources] == ["default"] and envelope.problem == ""
    assert masker.event(event(b"", method=REST_CDS)).raw == b"", "an HTTP 304 has no body"
    as_protobuf = masker.event(event(sotw(packed(sds_secret())), method="/v3/discovery:secrets"))
    assert leaks(as_protobuf.raw) == [] and masker.masked == 2
    assert discovery_pb2.DiscoveryResponse.FromString(as_protobuf.raw).resources[0].type_url == SECRET_URL


def test_events_without_secrets_are_returned_as_they_are(masker: redact_events.EventRedactor) -> None:
    request = discovery_pb2.DiscoveryRequest(type_url=res.CLUSTER, version_info="1", response_nonce="n")
    request.node.metadata.update({"ISTIO_VERSION": "1.28", "LABELS": {"app": "reviews"}})
    quiet = [
        event(sotw(*(packed(xds.tcluster(i)) for i in range(20)), type_url=res.CLUSTER)),
        event(sotw(packed(res.load_assignment("backend", [("10.1.2.3", 80)])), type_url=res.ENDPOINT)),
        event(request.SerializeToString(), response=False),
        event(b"", response=False),
        event(json.dumps({"version_info": "1", "resources": []}).encode(), method=REST_CDS),
        model.StreamOpened(
            seq=1,
            wall_ns=1,
            monotonic_ns=1,
            transport=model.Transport.GRPC,
            method=ADS,
            peer="p",
            metadata=(("content-type", b"application/grpc"), ("x-envoy-peer", b"sidecar")),
        ),
        model.Note(seq=5, wall_ns=5, monotonic_ns=5, level=model.NoteLevel.INFO, text="stream reset"),
        model.Gap(
            seq=6,
            wall_ns=6,
            monotonic_ns=6,
            first_seq=1,
            last_seq=2,
            records_lost=2,
            bytes_lost=9,
            reason="disk",
        ),
    ]
    assert all(masker.event(e) is e for e in quiet)
    assert masker.masked == 0 and masker.events_changed == 0 and masker.messages == 5


def test_undecodable_bodies_are_emptied_and_reported(masker: redact_events.EventRedactor) -> None:
    garbage = event(b"\x00\xff-----BEGIN PRIVATE KEY----- not protobuf")
    out = masker.event(garbage)
    assert (
        out.raw == b"" and masker.bodies_dropped == 1 and masker.problems[0].startswith("seq 2: body emptied")
    )
    unknown_method = event(b"\x0a\x03abc", method="/example.Unknown/Method")
    assert masker.event(unknown_method).raw == b""
    not_json = event(b"{not json", method=REST_CDS)
    assert masker.event(not_json).raw == b""
    assert masker.bodies_dropped == 3 and "3 message body(ies) emptied" in masker.summary()
    # An empty body is a valid, empty message: the recording still decodes.
    assert discovery.decode(ADS, out.direction, out.raw).problem == ""


def test_what_no_schema_describes_is_dropped(masker: redact_events.EventRedactor) -> None:
    unknown_type = any_pb2.Any(type_url="type.googleapis.com/example.Opaque", value=b"\x0a\x05hello")
    cluster = res.static_cluster("with-opaque-filter", [("10.0.0.1", 80)])
    cluster.filters.add(name="example.opaque", typed_config=unknown_type)
    newer = res.static_cluster("from-a-newer-api", [("10.0.0.2", 80)])
    newer_bytes = newer.SerializeToString() + b"\xf2\x3e\x05extra"  # field 999: not in this schema
    plain = packed(xds.tcluster(1))
    newer_any = any_pb2.Any(type_url=res.CLUSTER, value=newer_bytes)
    original = event(sotw(unknown_type, packed(cluster), newer_any, plain, type_url=res.CLUSTER))
    out = masker.event(original)
    entries = discovery.decode(ADS, out.direction, out.raw).resources
    assert (entries[0].type_url, entries[0].raw) == (unknown_type.type_url, b"")
    kept = cluster_pb2.Cluster.FromString(entries[1].raw)
    assert (
        kept.name == "with-opaque-filter" and kept.filters[0].typed_config.type_url == unknown_type.type_url
    )
    assert kept.filters[0].typed_config.value == b""
    assert entries[2].raw == newer.SerializeToString() and entries[3].raw == plain.value
    assert masker.parts_dropped == 3 and masker.masked == 3 and masker.bodies_dropped == 0


def test_a_masked_value_its_field_cannot_hold_is_cleared(masker: redact_events.EventRedactor) -> None:
    """`token_lifetime_seconds` is a uint64 (a JSON string) under a key word: it is masked, so cleared."""
    cluster = res.static_cluster("google-grpc", [("10.0.0.1", 80)])
    service = grpc_service_pb2.GrpcService()
    jwt_access = service.google_grpc.call_credentials.add().service_account_jwt_access
    jwt_access.json_key = '{"private_key": "k"}'
    jwt_access.token_lifetime_seconds = 3600
    service.google_grpc.target_uri = "oauth.example:443"
    options = protocol_pb2.HttpProtocolOptions(max_headers_count={"value": 50})
    cluster.common_http_protocol_options.CopyFrom(options)
    cluster.metadata.filter_metadata["grpc"].update({"service": service.google_grpc.target_uri})
    cluster.health_checks.add().grpc_health_check.service_name = "hc"
    raw = sotw(packed(cluster), type_url=res.CLUSTER)
    # The service itself travels in an ext_authz-like typed_config here: a nested Any, as in real configs.
    response = discovery_pb2.DiscoveryResponse.FromString(raw)
    typed = cluster_pb2.Cluster.FromString(response.resources[0].value)
    typed.typed_extension_protocol_options["example.grpc"].CopyFrom(packed(service))
    response.resources[0].value = typed.SerializeToString()
    out = masker.event(event(response.SerializeToString()))
    redone = cluster_pb2.Cluster.FromString(
        discovery_pb2.DiscoveryResponse.FromString(out.raw).resources[0].value
    )
    inner = grpc_service_pb2.GrpcService.FromString(
        redone.typed_extension_protocol_options["example.grpc"].value
    )
    credentials = inner.google_grpc.call_credentials[0].service_account_jwt_access
    assert redact.is_masked(credentials.json_key) and credentials.token_lifetime_seconds == 0
    assert (
        inner.google_grpc.target_uri == "oauth.example:443" and redone.common_http_protocol_options == options
    )


def test_route_headers_that_carry_credentials(masker: redact_events.EventRedactor) -> None:
    route = res.route_configuration("ingress", cluster="backend")
    host = route.virtual_hosts[0]
    host.request_headers_to_add.add(header={"key": "authorization", "value": f"Bearer {TOKEN}"})
    host.request_headers_to_add.add(header={"key": "x-api-key", "value": TOKEN})
    host.request_headers_to_add.add(header={"key": "x-request-source", "value": "edge"})
    out = masker.event(event(sotw(packed(route), type_url=res.ROUTE)))
    assert leaks(out.raw) == [] and masker.masked == 2
    body = resource_bodies(out)[0][2]
    headers = [h["header"] for h in body["virtual_hosts"][0]["request_headers_to_add"]]
    assert headers[0]["value"].startswith("Bearer [redacted:") and headers[2]["value"] == "edge"
    assert (
        route_pb2.RouteConfiguration.FromString(
            discovery_pb2.DiscoveryResponse.FromString(out.raw).resources[0].value
        )
        .virtual_hosts[0]
        .routes
        == host.routes
    )


def test_v2_resources_are_read_with_their_own_schema(masker: redact_events.EventRedactor) -> None:
    """A v2 Cluster's `tls_context` is a field v3 dropped: read as v3 it would hide an unknown field."""
    from envoy.api.v2 import cluster_pb2 as v2_cluster_pb2

    cluster = v2_cluster_pb2.Cluster(name="legacy")
    certificate = cluster.tls_context.common_tls_context.tls_certificates.add()
    certificate.private_key.inline_string = private_key()
    v2_url = "type.googleapis.com/envoy.api.v2.Cluster"
    out = masker.event(event(sotw(packed(cluster, v2_url), type_url=v2_url)))
    assert leaks(out.raw) == [] and masker.masked == 1 and masker.parts_dropped == 0
    kept = v2_cluster_pb2.Cluster.FromString(
        discovery_pb2.DiscoveryResponse.FromString(out.raw).resources[0].value
    )
    assert (
        kept.name == "legacy"
        and kept.tls_context.common_tls_context.tls_certificates[0].private_key.inline_string
    )


def test_a_redacted_recording_is_a_valid_recording(tmp_path: pathlib.Path, redactor: redact.Redactor) -> None:
    path = tmp_path / "shared.xdsspy"
    request = discovery_pb2.DiscoveryRequest(type_url=SECRET_URL, resource_names=["default"])
    request.node.id = "sidecar"
    request.node.metadata.update({"token": TOKEN})
    opened = model.StreamOpened(
        seq=1,
        wall_ns=1,
        monotonic_ns=1,
        connection=1,
        stream=1,
        transport=model.Transport.GRPC,
        method=ADS,
        peer="p",
        metadata=(("authorization", f"Bearer {JWT}".encode()),),
    )
    events = [
        opened,
        event(request.SerializeToString(), response=False, seq=2),
        event(sotw(packed(sds_secret()), packed(generic_secret())), seq=3),
        event(b"\x00\xffgarbage", seq=4),
    ]
    masker = redact_events.EventRedactor(redactor)
    out = writer.RecordingWriter(path)
    for item in masker.events(events):
        out.publish(item)
    assert out.close().records_written == len(events)
    assert leaks(path.read_bytes()) == []
    with reader.RecordingReader(path) as recording:
        back = list(recording.events())
        assert recording.problems == []
    assert [e.seq for e in back] == [1, 2, 3, 4]
    assert all(leaks(repr(e)) == [] for e in back)
    messages = [e for e in back if isinstance(e, model.MessageSeen)]
    assert [m.method for m in messages] == [ADS] * 3
    names = [
        [entry.name for entry in discovery.decode(m.method, m.direction, m.raw).resources] for m in messages
    ]
    assert names == [[], ["default", "hmac"], []]
    assert messages[2].raw == b""
    assert masker.summary().startswith("5 secret(s) masked in 4 event(s) (3 of 3 message(s)); 1 message body")


def test_export_with_decoded_bodies(redactor: redact.Redactor) -> None:
    """What the export does: events through the EventRedactor, annotations through the same Redactor."""
    import io

    ack = discovery_pb2.DiscoveryRequest(type_url=SECRET_URL, response_nonce="n1")
    events = [event(sotw(packed(sds_secret())), seq=2), event(ack.SerializeToString(), seq=3, response=False)]
    out = io.StringIO()
    masker = redact_events.EventRedactor(redactor)
    jsonl.write(masker.events(events), out, decoded.Annotator(redactor=redactor).fields)
    text = out.getvalue()
    assert leaks(text) == [] and leaks(base64.b64decode(json.loads(text.splitlines()[0])["raw"])) == []
    row = json.loads(text.splitlines()[0])
    body = row["resources"][0]["body"]
    assert body["name"] == "default" and redact.is_masked(
        body["tls_certificate"]["private_key"]["inline_string"]
    )


def test_redact_is_the_shortcut(redactor: redact.Redactor) -> None:
    events: Iterator[model.Event] = redact_events.redact([event(sotw(packed(sds_secret())))], redactor)
    assert all(leaks(e.raw) == [] for e in events if isinstance(e, model.MessageSeen))
