"""Masking inside protobuf: the prefilter skips only what the JSON walk would leave alone."""

from __future__ import annotations

import functools
import importlib.util
import pathlib
import sys
from types import ModuleType
from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf import duration_pb2
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import redact
from xdsspy import redact_wire
from xdsspy.controlplane import resources as res
from xdsspy.decode import schemas
from xdsspy.testing import xds

KEY = "\n".join(
    [
        "-----BEGIN PRIVATE KEY-----",
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc2VjcmV0",
        "-----END PRIVATE KEY-----",
        "",
    ]
)
TOKEN = "s3cr3t-t0ken-77a1"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIiwic3ViIjoic2EifQ.c2lnbmF0dXJl"
SECRET_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


class AlwaysLook(redact_wire.WireRedactor):
    """Converts every payload to JSON: what the prefilter must agree with."""

    def _check(self, message: Any) -> int:
        return super()._check(message) | redact_wire.LOOK


def leaked(data: bytes) -> bool:
    return any(piece.encode() in data for piece in ("PRIVATE KEY", "MIGHAgEAMBMG", TOKEN, JWT))


@pytest.fixture
def redactor() -> redact.Redactor:
    return redact.Redactor(salt=b"wire")


def test_a_payload_without_secrets_is_left_alone_and_one_with_them_masked(redactor: redact.Redactor) -> None:
    wire = redact_wire.WireRedactor(redactor)
    assert wire.payload(xds.CLUSTER_TYPE_URL, xds.tcluster(1).SerializeToString()) is None
    secret = secret_pb2.Secret(name="default")
    secret.tls_certificate.private_key.inline_bytes = KEY.encode()
    secret.tls_certificate.password.inline_string = TOKEN
    out = wire.payload(SECRET_URL, secret.SerializeToString())
    assert out is not None and out[1] == redact_wire.Tally(2, 0) and not leaked(out[0])
    masked = secret_pb2.Secret.FromString(out[0])
    assert masked.name == "default"
    assert redact.is_masked(masked.tls_certificate.private_key.inline_bytes.decode())
    assert wire.payload(SECRET_URL, out[0]) is None, "masking twice changes nothing more"


def test_clean_types_have_no_plan_and_recursive_ones_are_walked(redactor: redact.Redactor) -> None:
    wire = redact_wire.WireRedactor(redactor)
    assert wire._plan(duration_pb2.Duration.DESCRIPTOR) is None
    assert wire._plan(schemas.default().find("envoy.type.v3.Percent")) is None  # type: ignore[arg-type]
    assert wire._plan(cluster_pb2.Cluster.DESCRIPTOR) is not None
    matcher = schemas.default().find("xds.type.matcher.v3.Matcher")  # matchers nest matchers
    assert matcher is not None and wire._plan(matcher) is not None


def test_schema_less_payloads_are_dropped_unless_they_hold_only_numbers(redactor: redact.Redactor) -> None:
    wire = redact_wire.WireRedactor(redactor)
    opaque = "type.googleapis.com/example.Opaque"
    assert wire.payload(opaque, b"\x0a\x06hunter") == (b"", redact_wire.Tally(1, 1))
    assert wire.payload(opaque, b"\x08\x96\x01\x15\x01\x00\x00\x00") is None  # a varint and a fixed32
    assert wire.payload(xds.CLUSTER_TYPE_URL, b"\xff\xff") == (b"", redact_wire.Tally(1, 1))
    assert wire.payload(opaque, b"") is None


def test_fields_skips_what_is_masked_apart(redactor: redact.Redactor) -> None:
    wire = redact_wire.WireRedactor(redactor)
    secret = secret_pb2.Secret(name="default")
    secret.generic_secret.secret.inline_string = TOKEN
    response = discovery_pb2.DiscoveryResponse(version_info="1", type_url=SECRET_URL, nonce="n")
    response.resources.add().Pack(secret)
    response.control_plane.identifier = f"istiod Bearer {JWT}"
    resources = response.DESCRIPTOR.fields_by_name["resources"]
    tally = wire.fields(response, (resources,))
    assert tally == redact_wire.Tally(1, 0)
    assert response.control_plane.identifier.startswith("istiod Bearer [redacted:")
    assert TOKEN.encode() in response.resources[0].value, "the resources are left to payload()"


def test_a_struct_resource_and_a_value_its_field_cannot_hold(redactor: redact.Redactor) -> None:
    wire = redact_wire.WireRedactor(redactor)
    struct = struct_pb2.Struct()
    struct.update({"password": TOKEN, "count": 3, "nested": {"api_key": "k-123"}})
    out = wire.payload("type.googleapis.com/google.protobuf.Struct", struct.SerializeToString())
    assert out is not None and out[1].masked == 2
    masked = struct_pb2.Struct.FromString(out[0])
    assert masked["count"] == 3 and redact.is_masked(masked["password"])
    duration = any_pb2.Any()
    duration.Pack(duration_pb2.Duration(seconds=5))
    assert wire.payload(duration.type_url, duration.value) is None


def _fixtures() -> ModuleType | None:
    path = pathlib.Path(__file__).parent / "decode" / "istio_fixtures.py"
    spec = importlib.util.spec_from_file_location("redact_wire_istio_fixtures", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _plant(node: Any) -> Any:
    """Secrets where configs keep them: private keys, tokens in metadata, an authorization header."""
    if isinstance(node, list):
        return [_plant(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("private_key", "privateKey") and isinstance(value, dict):
            out[key] = {"inline_string": KEY}
        elif key in ("filter_metadata", "filterMetadata") and isinstance(value, dict):
            out[key] = {**_plant(value), "planted": {"auth_token": TOKEN, "note": f"Bearer {JWT}"}}
        elif key in ("request_headers_to_add", "requestHeadersToAdd") and isinstance(value, list):
            out[key] = [*_plant(value), {"header": {"key": "authorization", "value": f"Basic {TOKEN}"}}]
        else:
            out[key] = _plant(value)
    return out


@functools.cache
def _istio_payloads() -> list[tuple[str, bytes]]:
    fixtures = _fixtures()
    if fixtures is None or not fixtures.ROOT.is_dir():
        return []
    registry = schemas.default()
    out: list[tuple[str, bytes]] = []
    for push in fixtures.pushes(registry):
        for item in push.resources:
            out.append((item.type_url, item.value))
            planted, _, _ = fixtures.encode(_plant(item.json), registry)
            out.append((planted.type_url, planted.value))
    return out


def test_the_prefilter_agrees_with_always_looking_on_istio_configs(redactor: redact.Redactor) -> None:
    payloads = _istio_payloads()
    if not payloads:
        pytest.skip("no Istio fixtures beside the checkout (../shared/fixtures/istio)")
    quick, thorough = redact_wire.WireRedactor(redactor), AlwaysLook(redactor)
    masked = 0
    for type_url, data in payloads:
        expected = thorough.payload(type_url, data)
        assert quick.payload(type_url, data) == expected, type_url
        if expected is not None and expected[1].masked > expected[1].dropped:
            masked += 1
            assert not leaked(expected[0]), type_url
    assert masked >= len(payloads) // 10, "the planted secrets were found"


_WORDS = st.sampled_from(
    ["app", "token", "x-api-key", "authorization", "name", "key", "value", "secret_name", "users",
     "private_key", "inline_string", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", "Bearer abc.def", JWT, "cookie"]
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False, width=32) | _WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_WORDS, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(metadata=st.dictionaries(_WORDS, _JSON, max_size=4), header=st.tuples(_WORDS, _WORDS))
def test_the_prefilter_agrees_on_free_form_metadata(
    metadata: dict[str, Any], header: tuple[str, str]
) -> None:
    redactor = redact.Redactor(salt=b"property")
    cluster = res.static_cluster("c", [("10.0.0.1", 80)])
    struct = struct_pb2.Struct()
    struct.update(metadata)
    cluster.metadata.filter_metadata["test"].CopyFrom(struct)
    cluster.health_checks.add().http_health_check.request_headers_to_add.add(
        header={"key": header[0], "value": header[1]}
    )
    cluster.transport_socket_matches.add(name="m", match=struct)
    data = cluster.SerializeToString()
    expected = AlwaysLook(redactor).payload(res.CLUSTER, data)
    assert redact_wire.WireRedactor(redactor).payload(res.CLUSTER, data) == expected
    if expected is not None:
        cluster_pb2.Cluster.FromString(expected[0])  # still a Cluster
