"""Redaction: secrets masked wherever they sit, names and public material kept, markers comparable."""

from __future__ import annotations

import base64
import copy
import json
import pathlib
import re
import subprocess
import sys
from typing import Any

import pytest

from xdsspy import model
from xdsspy import redact
from xdsspy.decode import discovery
from xdsspy.decode import resources
from xdsspy.decode import schemas
from xdsspy.testing import istio_files
from xdsspy.testing import xds

FIXTURES = istio_files.ROOT
SECRET_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwgg\n-----END PRIVATE KEY-----\n"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIDUTCCAjmgAwIBAgIQb77iVMIpAGFc\n-----END CERTIFICATE-----\n"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIiwic3ViIjoic2EifQ.c2lnbmF0dXJl"
MARKER = re.compile(r"\[redacted:[0-9a-f]{8}\]")
BEGIN_PRIVATE = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def sds_secret() -> dict[str, Any]:
    return {
        "@type": SECRET_URL,
        "name": "default",
        "tls_certificate": {
            "certificate_chain": {"inline_bytes": b64(PEM_CERT)},
            "private_key": {"inline_bytes": b64(PEM_KEY)},
            "password": {"inline_string": "key-passphrase"},
        },
    }


def test_the_table_lists_every_rule() -> None:
    basic_auth = "envoy.extensions.filters.http.basic_auth.v3.BasicAuth"
    assert [(str(f.mask), f.name, f.within) for f in redact.SECRET_FIELDS] == [
        ("value", "private_key", ""),
        ("value", "password", ""),
        ("value", "pkcs12", ""),
        ("value", "keys", "session_ticket_keys"),
        ("subtree", "typed_config", "private_key_provider"),
        ("subtree", "config", "private_key_provider"),
        ("value", "secret", "generic_secret"),
        ("map", "secrets", "generic_secret"),
        ("value", "hmac_secret", ""),
        ("value", "token_secret", ""),
        ("value", "client_secret", ""),
        ("value", "credential", ""),
        ("value", "users", basic_auth),
        ("value", "users", basic_auth + "PerRoute"),
        ("value", "key", "credentials"),
        ("jwks", "local_jwks", ""),
        ("subtree", "context_extensions", ""),
        ("value", "auth_password", ""),
        ("value", "auth_username", ""),
        ("value", "downstream_auth_password", ""),
        ("value", "downstream_auth_passwords", ""),
        ("value", "downstream_auth_username", ""),
        ("value", "secret_data", ""),
        ("value", "access_token", ""),
        ("value", "google_refresh_token", ""),
        ("value", "json_key", ""),
        ("value", "authorization_token", ""),
        ("value", "token", ""),
        ("value", "credentials_data_source", ""),
        ("value", "web_identity_token_data_source", ""),
        ("value", "secret_access_key", ""),
        ("value", "session_token", ""),
        ("value", "backend_token", ""),
        ("header", "authorization", ""),
        ("header", "proxy-authorization", ""),
        ("header", "cookie", ""),
        ("header", "set-cookie", ""),
        ("header", "x-api-key", ""),
        ("word", "password", ""),
        ("word", "passwd", ""),
        ("word", "passphrase", ""),
        ("word", "secret", ""),
        ("word", "token", ""),
        ("word", "credential", ""),
        ("word", "api_key", ""),
        ("word", "apikey", ""),
        ("word", "private_key", ""),
        ("data_word", "key", ""),
        ("text", "bearer", ""),
        ("text", "jwt", ""),
        ("text", "pem_private_key", ""),
    ]
    assert all(f.holder for f in redact.SECRET_FIELDS)


def test_every_field_envoys_api_marks_sensitive_is_in_the_table() -> None:
    sensitive_pb2 = pytest.importorskip("udpa.annotations.sensitive_pb2")
    # api_key_auth marks its whole Credential list sensitive; only its key is secret, the client is a name.
    narrower = {"credentials": "key"}
    names = {f.name for f in redact.SECRET_FIELDS if f.mask not in (redact.Mask.HEADER, redact.Mask.TEXT)}
    sensitive: set[str] = set()

    def visit(message: Any) -> None:
        for field in message.fields:
            if field.GetOptions().Extensions[sensitive_pb2.sensitive]:
                sensitive.add(field.name)
        for nested in message.nested_types:
            visit(nested)

    for file_descriptor in schemas.load_envoy_api():
        for message in file_descriptor.message_types_by_name.values():
            visit(message)
    assert {"private_key", "password", "pkcs12", "keys", "users"} <= sensitive
    assert {narrower.get(name, name) for name in sensitive} - names == set()


def test_an_sds_secret_loses_its_key_and_password_and_keeps_its_chain() -> None:
    out = redact.Redactor(b"salt").json(sds_secret())
    tls = out.value["tls_certificate"]
    assert tls["certificate_chain"] == {"inline_bytes": b64(PEM_CERT)}
    assert MARKER.fullmatch(unb64(tls["private_key"]["inline_bytes"]))
    assert MARKER.fullmatch(tls["password"]["inline_string"])
    assert out.paths == ("tls_certificate.private_key.inline_bytes", "tls_certificate.password.inline_string")
    assert "PRIVATE KEY" not in json.dumps(out.value) and "key-passphrase" not in json.dumps(out.value)


def test_the_redacted_secret_still_loads_as_protobuf_json() -> None:
    secret_pb2 = pytest.importorskip("envoy.extensions.transport_sockets.tls.v3.secret_pb2")
    from google.protobuf import json_format

    body = redact.Redactor().json(sds_secret()).value
    del body["@type"]
    parsed = json_format.ParseDict(body, secret_pb2.Secret())
    assert MARKER.fullmatch(parsed.tls_certificate.private_key.inline_bytes.decode())


def test_other_secret_resources_and_sensitive_configs() -> None:
    body = {
        "session_ticket_keys": {"keys": [{"inline_bytes": b64("k" * 80)}, {"filename": "/etc/tickets"}]},
        "generic_secret": {"secret": {"inline_string": "hmac"}, "secrets": {"a": {"inline_string": "x"}}},
        "private_key_provider": {
            "provider_name": "cryptomb",
            "typed_config": {"@type": "type.googleapis.com/x.Provider", "pin": "1234", "poll_delay": "0.02s"},
        },
        "context_extensions": {"virtual_host": "internal"},
    }
    out = redact.Redactor().json(body).value
    keys = out["session_ticket_keys"]["keys"]
    assert MARKER.fullmatch(unb64(keys[0]["inline_bytes"])) and keys[1] == {"filename": "/etc/tickets"}
    assert MARKER.fullmatch(out["generic_secret"]["secret"]["inline_string"])
    assert MARKER.fullmatch(out["generic_secret"]["secrets"]["a"]["inline_string"])
    provider = out["private_key_provider"]
    assert (
        provider["provider_name"] == "cryptomb"
        and provider["typed_config"]["@type"] == "type.googleapis.com/x.Provider"
    )
    assert MARKER.fullmatch(provider["typed_config"]["pin"]) and MARKER.fullmatch(
        provider["typed_config"]["poll_delay"]
    )
    assert list(out["context_extensions"]) == ["virtual_host"]
    assert MARKER.fullmatch(out["context_extensions"]["virtual_host"])


def test_http_authentication_filters() -> None:
    basic = {"@type": "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth"}
    api_keys = {"@type": "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth"}
    oauth2 = {
        "client_id": "app",
        "token_secret": {"name": "token", "sds_config": {"path": "/etc/sds/token.yaml"}},
        "hmac_secret": {"inline_string": "inline-hmac"},
        "cookie_names": {"bearer_token": "BearerToken", "oauth_hmac": "OauthHMAC"},
    }
    body = {
        "filters": [
            {"typed_config": basic | {"users": {"inline_string": "user1:{SHA}hash"}}},
            {"typed_config": api_keys | {"credentials": [{"key": "k-123", "client": "user1"}]}},
            {"typed_config": {"config": {"credentials": oauth2}}},
            {"other": {"users": ["alice", "bob"]}},
            {
                "typed_config": {
                    "@type": "type.googleapis.com/xds.type.v3.TypedStruct",
                    "type_url": basic["@type"],
                    "value": {"users": {"inline_string": "user2:{SHA}hash"}},
                }
            },
        ]
    }
    out = redact.Redactor().json(body).value["filters"]
    assert MARKER.fullmatch(out[0]["typed_config"]["users"]["inline_string"])
    assert out[1]["typed_config"]["credentials"][0]["client"] == "user1"
    assert MARKER.fullmatch(out[1]["typed_config"]["credentials"][0]["key"])
    credentials = out[2]["typed_config"]["config"]["credentials"]
    assert credentials["token_secret"] == oauth2["token_secret"] and credentials["client_id"] == "app"
    assert credentials["cookie_names"] == oauth2["cookie_names"]
    assert MARKER.fullmatch(credentials["hmac_secret"]["inline_string"])
    assert out[3] == {"other": {"users": ["alice", "bob"]}}
    assert MARKER.fullmatch(out[4]["typed_config"]["value"]["users"]["inline_string"])


def test_jwks_public_keys_stay_symmetric_and_private_keys_go() -> None:
    public = json.dumps({"keys": [{"kty": "RSA", "kid": "1", "n": "xAE7", "e": "AQAB"}]})
    symmetric = json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    private = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]})
    providers = {
        "public": {"local_jwks": {"inline_string": public}},
        "public_bytes": {"local_jwks": {"inline_bytes": b64(public)}},
        "symmetric": {"local_jwks": {"inline_string": symmetric}},
        "private": {"local_jwks": {"inline_bytes": b64(private)}},
        "not_json": {"local_jwks": {"inline_string": "{oops"}},
    }
    out = redact.Redactor().json(providers).value
    assert out["public"] == providers["public"] and out["public_bytes"] == providers["public_bytes"]
    assert MARKER.fullmatch(out["symmetric"]["local_jwks"]["inline_string"])
    assert MARKER.fullmatch(unb64(out["private"]["local_jwks"]["inline_bytes"]))
    assert MARKER.fullmatch(out["not_json"]["local_jwks"]["inline_string"])


def test_data_sources_that_name_a_place_are_kept() -> None:
    body = {
        "private_key": {"filename": "/etc/certs/key.pem", "watched_directory": {"path": "/etc/certs"}},
        "password": {"environment_variable": "KEY_PASSWORD"},
        "trusted_ca": {"inline_string": PEM_CERT},
        "ocsp_staple": {"inline_bytes": b64("ocsp response")},
    }
    out = redact.Redactor().json(body)
    assert out.value == body and out.paths == ()


def test_a_cluster_with_sds_references_is_left_alone() -> None:
    response = xds.tcds_response(2)
    method = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
    envelope = discovery.decode(method, model.Direction.RESPONSE, response.SerializeToString())
    bodies = [d.body for d in resources.decode_entries(envelope.resources)]
    assert "tls_certificate_sds_secret_configs" in json.dumps(bodies)
    out = redact.Redactor().json(bodies)
    assert out.value == bodies and out.paths == ()


def test_recorded_headers() -> None:
    redactor = redact.Redactor(b"salt")
    pairs = (
        ("authorization", b"Bearer " + JWT.encode()),
        ("Proxy-Authorization", b"Basic dXNlcjpwYXNz"),
        ("cookie", b"session=abc; theme=dark"),
        ("x-api-key", b"k-123"),
        ("x-auth-token", b"t-456"),
        ("x-forwarded-for", b"10.0.0.1"),
        ("x-debug", b"token=" + JWT.encode()),
        ("grpc-trace-bin", bytes(range(256))),
        ("authorization", b"[redacted]"),
    )
    out = redactor.headers(pairs)
    assert [name for name, _ in out] == [name for name, _ in pairs]
    values = [value.decode("latin-1") for _, value in out]
    assert re.fullmatch(r"Bearer \[redacted:[0-9a-f]{8}\]", values[0])
    assert re.fullmatch(r"Basic \[redacted:[0-9a-f]{8}\]", values[1])
    assert all(MARKER.fullmatch(v) for v in values[2:5])
    assert values[5] == "10.0.0.1" and MARKER.fullmatch(values[6].removeprefix("token="))
    assert out[7][1] == bytes(range(256)) and out[8][1] == b"[redacted]"
    assert values[0] == "Bearer " + redactor.marker(JWT)


def test_headers_in_route_and_health_check_configs() -> None:
    route = {
        "request_headers_to_add": [
            {"header": {"key": "Authorization", "value": "Basic dXNlcjpwYXNz"}, "append_action": "OVERWRITE"},
            {"header": {"key": "x-api-key", "raw_value": b64("k-123")}},
            {"header": {"key": "x-team", "value": "blue"}},
        ],
        "routes": [{"match": {"headers": [{"name": "cookie", "string_match": {"contains": "session=1"}}]}}],
        "health_checks": [
            {
                "http_health_check": {
                    "request_headers_to_add": [{"header": {"key": "x-api-key", "value": "hc"}}]
                }
            }
        ],
        "hash_policy": [{"cookie": {"name": "session", "ttl": "0s"}}],
        "key_sources": [{"cookie": "session"}],
    }
    out = redact.Redactor().json(route)
    added = out.value["request_headers_to_add"]
    assert added[0]["header"]["key"] == "Authorization" and added[0]["append_action"] == "OVERWRITE"
    assert re.fullmatch(r"Basic \[redacted:[0-9a-f]{8}\]", added[0]["header"]["value"])
    assert (
        MARKER.fullmatch(unb64(added[1]["header"]["raw_value"]))
        and added[2] == route["request_headers_to_add"][2]
    )
    assert MARKER.fullmatch(out.value["routes"][0]["match"]["headers"][0]["string_match"]["contains"])
    health = out.value["health_checks"][0]["http_health_check"]["request_headers_to_add"][0]["header"]
    assert MARKER.fullmatch(health["value"])
    assert (
        out.value["hash_policy"] == route["hash_policy"] and out.value["key_sources"] == route["key_sources"]
    )
    assert len(out.paths) == 4


def test_header_maps_and_exported_header_pairs() -> None:
    value = {
        "request_headers": {"Authorization": "Bearer abc", "cookie": "a=b", "accept": "*/*"},
        "metadata": [
            ["authorization", "Bearer abc"],
            ["x-api-key", {"base64": b64("k")}],
            ["te", "trailers"],
        ],
        "from_cookies": ["cookie", "session"],
    }
    out = redact.Redactor().json(value).value
    assert out["request_headers"]["Authorization"].startswith("Bearer [redacted:")
    assert MARKER.fullmatch(out["request_headers"]["cookie"]) and out["request_headers"]["accept"] == "*/*"
    assert out["metadata"][0][1].startswith("Bearer [redacted:") and out["metadata"][2] == ["te", "trailers"]
    assert MARKER.fullmatch(unb64(out["metadata"][1][1]["base64"]))
    assert out["from_cookies"] == ["cookie", "session"]


def test_free_form_structures_mask_by_key_word_and_keep_names_of_secrets() -> None:
    node_metadata = {
        "DB_PASSWORD": "hunter2",
        "clientSecret": "s",
        "apiKey": "k",
        "x-goog-api-key": "g",
        "refresh_tokens": ["t1", "t2"],
        "nested": {"Credentials": {"private_key": "pk", "user": "me"}},
        "note": "use Bearer abc123 to log in",
        "count_tokens": 3,
        "secret_name": "db-creds",
        "token_uri": "https://oauth2.example.com/token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "csrf_token_expires_in": "600s",
        "sds_secret_config": {"name": "db", "sds_config": {"ads": {}}},
        "secret": {"@type": SECRET_URL, "name": "ROOTCA"},
        "keys": ["token", "version"],
    }
    out = redact.Redactor().json({"metadata": node_metadata})
    value = out.value["metadata"]
    masked = ["DB_PASSWORD", "clientSecret", "apiKey", "x-goog-api-key"]
    assert all(MARKER.fullmatch(value[k]) for k in masked)
    assert all(MARKER.fullmatch(t) for t in value["refresh_tokens"])
    assert MARKER.fullmatch(value["nested"]["Credentials"]["private_key"])
    assert value["nested"]["Credentials"]["user"] == "me"
    assert re.fullmatch(r"use Bearer \[redacted:[0-9a-f]{8}\] to log in", value["note"])
    kept = ["count_tokens", "secret_name", "token_uri", "requested_token_type", "csrf_token_expires_in"]
    kept += ["sds_secret_config", "secret", "keys"]
    assert {k: value[k] for k in kept} == {k: node_metadata[k] for k in kept}
    assert len(out.paths) == 8


def test_inline_data_under_any_key_named_key_is_masked_and_plain_strings_stay() -> None:
    body = {
        "signing_key": {"inline_string": "k1"},
        "encryption_keys": [{"inline_bytes": b64("k2")}, {"inline_string": "k3"}],
        "verification_key": {"filename": "/etc/keys/verify.pem"},
        "keys": ["version", "canary"],
        "header": {"key": "x-team", "value": "blue"},
        "key": "runtime.key",
    }
    out = redact.Redactor().json(body)
    assert MARKER.fullmatch(out.value["signing_key"]["inline_string"])
    assert MARKER.fullmatch(unb64(out.value["encryption_keys"][0]["inline_bytes"]))
    assert {k: out.value[k] for k in list(body)[2:]} == {k: body[k] for k in list(body)[2:]}
    assert len(out.paths) == 3


def test_camel_case_json_is_masked_too() -> None:
    body = {
        "tlsCertificate": {"privateKey": {"inlineBytes": b64(PEM_KEY)}, "certificateChain": {"filename": "c"}}
    }
    out = redact.Redactor().json(body).value["tlsCertificate"]
    assert MARKER.fullmatch(unb64(out["privateKey"]["inlineBytes"])) and out["certificateChain"] == {
        "filename": "c"
    }


def test_values_envoy_redacted_stay_redacted_and_count() -> None:
    body = {
        "tls_certificate": {"private_key": {"inline_bytes": "W3JlZGFjdGVkXQ=="}},
        "legacy": {"private_key": {"inline_string": "[redacted]"}},
        "credentials": [{"key": "[redacted]", "client": "[redacted]"}],
    }
    out = redact.Redactor().json(body)
    assert out.value == body
    assert out.paths == (
        "tls_certificate.private_key.inline_bytes",
        "legacy.private_key.inline_string",
        "credentials[0].key",
        "credentials[0].client",
    )


def test_redacting_twice_changes_nothing_more() -> None:
    redactor = redact.Redactor()
    once = redactor.json(sds_secret())
    twice = redactor.json(once.value)
    assert twice.value == once.value and twice.paths == once.paths
    assert redactor.headers(redactor.headers((("authorization", b"Bearer x"),))) == redactor.headers(
        (("authorization", b"Bearer x"),)
    )


def test_markers_compare_secrets_only_under_one_salt() -> None:
    one, same, other = redact.Redactor(b"a"), redact.Redactor(b"a"), redact.Redactor(b"b")
    assert one.marker("hunter2") == same.marker("hunter2") == same.marker(b"hunter2")
    assert one.marker("hunter2") != one.marker("hunter3")
    assert one.marker("hunter2") != other.marker("hunter2")
    assert redact.Redactor().marker("x") != redact.Redactor().marker("x")  # a random salt each
    assert redact.Redactor(b"s" * 100).marker("x") == redact.Redactor(b"s" * 100).marker("x")
    before = one.json(sds_secret()).value
    changed = sds_secret()
    changed["tls_certificate"]["private_key"] = {"inline_string": PEM_KEY}  # same key, as text
    changed["tls_certificate"]["password"] = {"inline_string": "new-passphrase"}
    after = same.json(changed).value
    key_before = unb64(before["tls_certificate"]["private_key"]["inline_bytes"])
    assert key_before == after["tls_certificate"]["private_key"]["inline_string"]
    assert before["tls_certificate"]["password"] != after["tls_certificate"]["password"]


def test_the_input_is_not_changed() -> None:
    body = {
        "a": [sds_secret(), {"header": {"key": "authorization", "value": "Bearer x"}}],
        "b": ("t", b"Bearer y"),
    }
    pristine = copy.deepcopy(body)
    out = redact.Redactor().json(body).value
    assert body == pristine
    assert out["b"][0] == "t" and isinstance(out["b"], tuple) and out["b"][1].startswith(b"Bearer [redacted:")
    out["a"][0]["tls_certificate"]["certificate_chain"]["inline_bytes"] = "changed"
    assert body == pristine


def test_text() -> None:
    redactor = redact.Redactor()
    cluster = "outbound|443||svc-0.ns-0.svc.cluster.local"
    nack = f'Failed to load private key from <inline>: "{PEM_KEY}" for cluster {cluster}'
    masked = redactor.text(nack)
    assert "PRIVATE KEY" not in masked and "MIIEvQ" not in masked
    assert masked.endswith(f"for cluster {cluster}")
    assert redactor.text(f"jwt={JWT}&x=1") == f"jwt={redactor.marker(JWT)}&x=1"
    truncated = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA"
    assert MARKER.fullmatch(redactor.text(truncated))
    plain = "eyJ is how base64 JSON starts; svc-0.ns-0.svc.cluster.local; a.b.c"
    assert redactor.text(plain) == plain


def test_odd_input_never_crashes() -> None:
    redactor = redact.Redactor()
    deep: Any = {"password": "x"}
    for _ in range(50_000):
        deep = [{"a": deep}]
    out = redactor.json(deep)
    assert out.paths and out.paths[0].count("[0]") == redact.MAX_DEPTH // 2
    assert redact.TOO_DEEP in json.dumps(out.value)
    odd = {1: "Bearer abc", None: {"password": "\ud800"}, (1, 2): [b"Bearer abc", 1.5, True, None]}
    out = redactor.json(odd)
    assert set(out.value) == {1, None, (1, 2)} and len(out.paths) == 3
    huge = "x" * 5_000_000 + " " + JWT
    assert redactor.text(huge).endswith(redactor.marker(JWT))
    assert redactor.json("eyJ" * 1_000_000).paths == ()
    assert redactor.headers([("x-api-key", "not bytes")])[0][1].startswith(b"[redacted:")  # type: ignore[list-item]


def istio_fixture_documents() -> list[pathlib.Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".yaml"))


def load(path: pathlib.Path) -> Any:
    text = path.read_text()
    try:
        return json.loads(text)
    except ValueError:
        yaml = pytest.importorskip("yaml")
        return yaml.safe_load(text)


def plant_keys(node: Any) -> int:
    """Puts a PEM private key in every private_key DataSource (Envoy had redacted them); returns how many."""
    planted = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("private_key", "privateKey") and isinstance(value, dict):
                as_bytes = any(k in value for k in ("inline_bytes", "inlineBytes"))
                node[key] = {"inline_bytes": b64(PEM_KEY)} if as_bytes else {"inline_string": PEM_KEY}
                planted += 1
            else:
                planted += plant_keys(value)
    elif isinstance(node, list):
        planted += sum(plant_keys(item) for item in node)
    return planted


def private_key_material(document: Any) -> list[str]:
    text = json.dumps(document)
    found = BEGIN_PRIVATE.findall(text)
    for candidate in re.findall(r'"(LS0tLS1CRUdJT[A-Za-z0-9+/=]*)"', text):
        found += BEGIN_PRIVATE.findall(base64.b64decode(candidate).decode("latin-1"))
    return found


@pytest.mark.parametrize("path", istio_fixture_documents(), ids=lambda p: p.name)
def test_istio_config_dumps_keep_no_private_key(path: pathlib.Path) -> None:
    document = load(path)
    as_dumped = redact.Redactor().json(document)
    envoy_redacted = json.dumps(document).count('"[redacted]"') + json.dumps(document).count(
        '"W3JlZGFjdGVkXQ=="'
    )
    assert as_dumped.value == document  # real dumps hold no secret Envoy had not redacted: nothing changes
    assert len(as_dumped.paths) == envoy_redacted
    planted = plant_keys(document)
    if planted:
        assert private_key_material(document)  # the check below can see a key when there is one
    out = redact.Redactor().json(document)
    assert private_key_material(out.value) == []
    assert len(out.paths) >= planted


def test_the_istio_fixtures_are_there_or_skipped() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(istio_files.ABSENT)
    names = {p.name for p in istio_fixture_documents()}
    assert {"secrets-istio-ca.config_dump.json", "sidecar-details-sds-secrets.config_dump.json"} <= names


def test_the_modern_secret_dump_keeps_its_certificates() -> None:
    path = istio_files.path("modern-v3/secrets-istio-ca.config_dump.json")
    document = load(path)
    plant_keys(document)
    out = redact.Redactor().json(document).value
    secrets = out["configs"][0]["dynamic_active_secrets"]
    original = document["configs"][0]["dynamic_active_secrets"]
    assert (
        secrets[0]["secret"]["tls_certificate"]["certificate_chain"]
        == (original[0]["secret"]["tls_certificate"]["certificate_chain"])
    )
    assert secrets[1] == original[1]  # ROOTCA: trusted_ca only
    assert MARKER.fullmatch(unb64(secrets[0]["secret"]["tls_certificate"]["private_key"]["inline_bytes"]))


def test_the_warning_is_loud() -> None:
    warning = redact.NOT_REDACTED_WARNING
    assert warning.startswith("WARNING") and "--no-redact" in warning and "private keys" in warning


def test_no_ui_grpc_or_decoder_imports() -> None:
    code = "import json, sys, xdsspy.redact; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    bad = [m for m in loaded if m.split(".")[0] in ("rich", "textual", "grpc", "envoy", "google")]
    assert bad == []


def _message_types(messages: Any) -> Any:
    for message in messages:
        yield message
        yield from _message_types(message.nested_types)


def test_the_prefilter_facts_follow_the_rules() -> None:
    """key_matters and names_header search for a rule's words before asking _key: never missing a key."""
    from xdsspy.decode import schemas

    fields = [
        field
        for file in schemas.load_envoy_api()
        for message in _message_types(file.message_types_by_name.values())
        for field in message.fields
    ]
    names = {field.name for field in fields} | {field.json_name for field in fields}
    names |= {"x-api-key", "X-Auth-Token", "proxy-authorization", "Set-Cookie", "clientSecret", "apiKey"}
    names |= {"outbound|8080||reviews.default.svc.cluster.local", "LS0tLS1CRUdJTi", "x-request-id"}
    assert len(names) > 4000
    for name in sorted(names):
        assert redact._known_key(name) == redact._key(name), name
    basic_auth = "envoy.extensions.filters.http.basic_auth.v3.BasicAuth"
    assert redact.key_matters("users", basic_auth, False) and not redact.key_matters("users", "a.B", False)
    assert redact.key_matters("users", None, False), "None: any enclosing type"
    header_value = "envoy.config.core.v3.HeaderValue"
    assert not redact.key_matters("key", header_value, False)
    assert redact.key_matters("key", header_value, True), "an inline DataSource under it"
    assert redact.key_matters("password", "", False) and redact.key_matters("private_key_provider", "", True)
    assert not redact.key_matters("secret_name", "", True) and not redact.key_matters("cluster", "", True)
    assert redact.names_header("Authorization") and redact.names_header("x-goog-api-key")
    assert redact.names_header("x-auth-token") and not redact.names_header("x-request-id")
    assert set(redact.TEXT_HINTS) == {b"PRIVATE KEY", b"earer", b"EARER", b"eyJ", b"LS0tLS1CRUdJ"}
