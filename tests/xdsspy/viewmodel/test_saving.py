"""What the save key writes: a message, a resource, an Envoy's /config_dump-shaped state; redacted, 0600."""

from __future__ import annotations

import enum
import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest
import yaml
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.runtime.v3 import rtds_pb2

from xdsspy import model
from xdsspy import redact
from xdsspy import timefmt
from xdsspy.controlplane import resources as cp
from xdsspy.record import writer
from xdsspy.testing import conversations as conv
from xdsspy.testing import factories as f
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index
from xdsspy.viewmodel import rows
from xdsspy.viewmodel import saving

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
CDS, LDS = cp.CLUSTER, cp.LISTENER
SDS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
RTDS = "type.googleapis.com/envoy.service.runtime.v3.Runtime"
ADMIN = "type.googleapis.com/envoy.admin.v3."
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwgg\n-----END PRIVATE KEY-----\n"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIDUTCCAjmgAwIBAgIQb77iVMIpAGFc\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def sotw() -> index.RecordingIndex:
    return conv.indexed(RECORDINGS / "sotw-nack.xdsspy")


@pytest.fixture
def with_secret(tmp_path: pathlib.Path) -> envoy_config.EnvoyConfig:
    """An Envoy holding an SDS Secret with an inline private key, a runtime layer, a rejected listener."""
    secret = secret_pb2.Secret(name="default")
    secret.tls_certificate.private_key.inline_string = PEM_KEY
    secret.tls_certificate.certificate_chain.inline_string = PEM_CERT
    bad = listener_pb2.Listener(name="only-rejected")
    conv.ads_recording(
        tmp_path / "secret.xdsspy",
        [
            (SDS, [conv.packed(secret)], ""),
            (RTDS, [conv.packed(rtds_pb2.Runtime(name="rt"))], ""),
            (LDS, [conv.packed(bad)], "no address"),
        ],
    )
    return conv.final(conv.indexed(tmp_path / "secret.xdsspy"), "n1")


def by_type(document: saving.Document) -> dict[str, saving.Document]:
    return {section["@type"].removeprefix(ADMIN): section for section in document["configs"]}


# -- the state document ---------------------------------------------------------------------------


def test_the_state_reads_like_envoy_s_config_dump_with_the_nack_as_error_state(
    sotw: index.RecordingIndex,
) -> None:
    config = conv.final(sotw, "sample-sotw")
    document = saving.state_document(config)
    sections = by_type(document)
    assert list(sections) == [
        "ClustersConfigDump",
        "ListenersConfigDump",
        "RoutesConfigDump",
        "SecretsConfigDump",
        "EndpointsConfigDump",
    ]
    clusters = sections["ClustersConfigDump"]["dynamic_active_clusters"]
    assert [(c["cluster"]["name"], c["version_info"]) for c in clusters] == [
        ("backend", "2"),
        ("payments", "2"),
        ("static-svc", "1"),
    ]
    static = clusters[2]
    accepted, rejected = config.accepted(CDS, "static-svc"), config.rejected(CDS, "static-svc")
    assert accepted is not None and rejected is not None
    assert list(static) == ["version_info", "cluster", "last_updated", "error_state"]
    assert static["last_updated"] == timefmt.rfc3339(accepted.wall_ns)
    assert static["error_state"] == {
        "failed_configuration": rejected.body,
        "last_update_attempt": timefmt.rfc3339(rejected.wall_ns),
        "details": rejected.error,
        "version_info": "3",
    }
    assert "error_state" not in clusters[0]
    (listener,) = sections["ListenersConfigDump"]["dynamic_listeners"]
    assert listener["name"] == "ingress" and listener["active_state"]["listener"]["name"] == "ingress"
    assert list(listener["active_state"]) == ["version_info", "listener", "last_updated"]
    (route,) = sections["RoutesConfigDump"]["dynamic_route_configs"]
    assert route["route_config"]["name"] == "ingress-routes"
    endpoints = sections["EndpointsConfigDump"]["dynamic_endpoint_configs"]
    assert [e["endpoint_config"]["cluster_name"] for e in endpoints] == ["backend", "payments"]
    assert sections["SecretsConfigDump"] == {"@type": ADMIN + "SecretsConfigDump"}
    head = document["xdsspy"]
    assert (head["recording"], head["node"], head["seq"]) == (sotw.path, "sample-sotw", config.seq)
    assert head["time"] == timefmt.rfc3339(config.wall_ns)
    assert [(r["name"], r["version_info"], r["seq"]) for r in head["rejected"]] == [
        ("static-svc", "3", rejected.seq)
    ]
    assert "other_resources" not in head and "problems" not in head


def test_secrets_listeners_only_rejected_and_types_without_a_section(
    with_secret: envoy_config.EnvoyConfig,
) -> None:
    document = saving.state_document(with_secret)
    sections = by_type(document)
    (secret,) = sections["SecretsConfigDump"]["dynamic_active_secrets"]
    assert list(secret) == ["name", "version_info", "secret", "last_updated"]
    assert secret["secret"]["tls_certificate"]["private_key"]["inline_string"] == PEM_KEY
    (listener,) = sections["ListenersConfigDump"]["dynamic_listeners"]
    assert list(listener) == ["name", "error_state"]  # as Envoy lists a listener it never accepted
    assert listener["error_state"]["details"] == "no address"
    assert listener["error_state"]["failed_configuration"]["name"] == "only-rejected"
    (runtime,) = document["xdsspy"]["other_resources"]
    assert (runtime["type_url"], runtime["name"], runtime["status"]) == (RTDS, "rt", "ACKED")
    assert "EcdsConfigDump" not in sections


def test_a_body_that_cannot_be_read_back_is_a_problem_in_the_document(
    sotw: index.RecordingIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sotw, "message_at_seq", lambda seq: None)
    document = saving.state_document(conv.final(sotw, "sample-sotw"))
    clusters = by_type(document)["ClustersConfigDump"]["dynamic_active_clusters"]
    assert all("cluster" not in c and "cannot be read back" in c["xdsspy_problem"] for c in clusters)
    assert len(document["xdsspy"]["problems"]) == 8


# -- the resource and message documents -----------------------------------------------------------


def test_a_resource_document_holds_its_accepted_and_rejected_versions(sotw: index.RecordingIndex) -> None:
    config = conv.final(sotw, "sample-sotw")
    document = saving.resource_document(config, CDS, "static-svc")
    assert document["xdsspy"]["name"] == "static-svc" and document["xdsspy"]["type_url"] == CDS
    assert (document["active"]["status"], document["active"]["resource"]["connect_timeout"]) == (
        "ACKED",
        "1s",
    )
    assert document["rejected"]["status"] == "NACKED" and "Invalid duration" in document["rejected"]["error"]
    assert "rejected" not in saving.resource_document(config, CDS, "backend")
    with pytest.raises(KeyError, match="nope"):
        saving.resource_document(config, CDS, "nope")


def test_a_message_document_has_envelope_verdict_and_decoded_resources(sotw: index.RecordingIndex) -> None:
    nack = saving.message_document(sotw, sotw.rows[sotw.nack_rows[0]])
    assert nack["verdict"]["kind"] == "nack" and "Invalid duration" in nack["error_detail"]["message"]
    assert nack["xdsspy"]["direction"] == "request" and nack["xdsspy"]["node"] == "sample-sotw"
    pushed = next(r for r in sotw.rows if r.step.seq == nack["verdict"]["answers_seq"])
    push = saving.message_document(sotw, pushed)
    assert push["verdict"]["kind"] == "push" and push["xdsspy"]["seq"] == pushed.step.seq
    assert [r["body"]["name"] for r in push["resources"]] == ["backend", "static-svc", "payments"]
    assert push["resources"][1]["body"]["connect_timeout"] == "-1s"
    opened = saving.message_document(sotw, next(r for r in sotw.rows if r.kind == rows.RowKind.OPEN))
    assert list(opened) == ["xdsspy"] and opened["xdsspy"]["kind"] == "open" and opened["xdsspy"]["text"]


def test_an_unreadable_message_and_an_unknown_method_still_make_documents(
    tmp_path: pathlib.Path, sotw: index.RecordingIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "odd.xdsspy"
    w = writer.RecordingWriter(path)
    w.publish(f.topen(seq=1, method="/never.Heard/Of"))
    w.publish(f.tmessage(b"\x0a\x03abc", seq=2))
    w.publish(f.topen(stream=3, seq=3))
    torn = discovery_pb2.DiscoveryResponse(type_url=CDS, resources=[conv.packed(cp.eds_cluster("c"))])
    w.publish(f.tmessage(torn.SerializeToString()[:-3], model.Direction.RESPONSE, stream=3, seq=4))
    w.close()
    ix = conv.indexed(path)
    unknown, truncated = (saving.message_document(ix, r) for r in ix.rows if r.kind == rows.RowKind.MESSAGE)
    assert unknown["raw_base64"] == "CgNhYmM="
    assert "did not parse" in truncated["problem"] and truncated["raw_base64"]
    monkeypatch.setattr(sotw, "message", lambda row: None)
    gone = saving.message_document(sotw, sotw.rows[sotw.nack_rows[0]])
    assert "cannot be read back" in gone["problem"]


# -- render and save ------------------------------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"


def test_render_keeps_the_document_s_order_and_prints_shared_parts_in_full() -> None:
    shared = {"cluster_name": "b", "weights": (1, 2)}
    document = {"z": 1, "a": shared, "b": shared, "colour": Colour.RED, "text": "naïve"}
    as_json = saving.render(document, "json")
    assert as_json.index('"z"') < as_json.index('"a"') and "naïve" in as_json and as_json.endswith("}\n")
    as_yaml = saving.render(document, "yaml")
    assert "&id" not in as_yaml and "*id" not in as_yaml and "naïve" in as_yaml
    assert yaml.safe_load(as_yaml) == json.loads(as_json) == {**document, "a": {**shared, "weights": [1, 2]},
                                                              "b": {**shared, "weights": [1, 2]}}  # fmt: skip
    assert list(yaml.safe_load(as_yaml)) == ["z", "a", "b", "colour", "text"]
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        saving.render(document, "xml")


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_saved_state_loads_back_as_the_document(
    fmt: str, sotw: index.RecordingIndex, tmp_path: pathlib.Path
) -> None:
    document = saving.state_document(conv.final(sotw, "sample-sotw"))
    result = saving.save(document, tmp_path / f"state.{fmt}", fmt)
    text = (tmp_path / f"state.{fmt}").read_text(encoding="utf-8")
    assert (json.loads(text) if fmt == "json" else yaml.safe_load(text)) == document  # nothing secret in it
    assert result.bytes_written == len(text.encode()) and result.masked == 0 and result.redacted


def test_saving_masks_the_private_key_and_writes_mode_0600(
    with_secret: envoy_config.EnvoyConfig, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "state.yaml"
    redactor = redact.Redactor(salt=b"fixed salt")
    result = saving.save(saving.state_document(with_secret), path, "yaml", redactor=redactor)
    text = path.read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in text and redactor.marker(PEM_KEY) in text and "BEGIN CERTIFICATE" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result == saving.SaveResult(str(path), path.stat().st_size, 1, True) and result.warning == ""


def test_saving_without_redaction_keeps_secrets_and_says_so_loudly(
    with_secret: envoy_config.EnvoyConfig, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "state.json"
    path.write_text("an older, world-readable file")
    path.chmod(0o644)
    result = saving.save(saving.resource_document(with_secret, SDS, "default"), path, "json", redact=False)
    assert "BEGIN PRIVATE KEY" in path.read_text(encoding="utf-8") and "older" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not result.redacted and result.masked == 0 and result.warning == redact.NOT_REDACTED_WARNING


def test_saving_refuses_to_follow_a_symlink(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "state.json"
    link.symlink_to(target)
    with pytest.raises(OSError):
        saving.save({"a": 1}, link, "json")
    assert target.read_text() == "keep me" and os.path.islink(link)


# -- names ----------------------------------------------------------------------------------------


def test_default_names_use_the_short_istio_node_and_only_safe_characters() -> None:
    istio = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local"
    assert saving.default_name("state", istio, 1234, "yaml") == "xdsspy-state-reviews-v1.default-at-1234.yaml"
    assert (
        saving.default_name("resource", "../etc/pass wd:1", 7, "json")
        == "xdsspy-resource-etc_pass_wd_1-at-7.json"
    )
    assert saving.default_name("message", "", 5, "json") == "xdsspy-message-at-5.json"
    assert saving.default_name("state", "n" * 300, 1, "yaml") == f"xdsspy-state-{'n' * 80}-at-1.yaml"


def test_the_module_loads_no_ui_and_no_grpc() -> None:
    code = "import json, sys, xdsspy.viewmodel.saving; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert [
        m for m in loaded if m.split(".")[0] in ("rich", "textual", "grpc") or m.startswith("xdsspy.tui")
    ] == []
