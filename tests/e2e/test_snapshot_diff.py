"""Snapshots and diffs against a real Envoy: the recording's final state equals its /config_dump, a changed
field is named, and a real private key pushed over SDS leaks into no output unless --no-redact.

One session is recorded through `xdsspy record` for the module: listeners, routes, EDS clusters, then an
SDS secret holding a freshly generated private key and a cluster whose TLS uses it. Every command runs as
a user would run it, as a child process.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pathlib
import subprocess
import tarfile

import pytest
from envoy.config.core.v3 import config_source_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from xdsspy import addresses
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import server
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy
from xdsspy.harness import proxy
from xdsspy.record import reader
from xdsspy.testing import processes
from xdsspy.testing import tls_material
from xdsspy.viewmodel import envoy_config
from xdsspy.viewmodel import index as index_mod
from xdsspy.viewmodel import saving

pytestmark = pytest.mark.e2e
NODE = "snapshot-envoy"
SECRET = res.TYPE_PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"


@dataclasses.dataclass(frozen=True)
class Session:
    recording: pathlib.Path
    dump: pathlib.Path  # Envoy's /config_dump?include_eds at the end of the session
    material: tls_material.Material
    workdir: pathlib.Path


def _secret(material: tls_material.Material) -> secret_pb2.Secret:
    secret = secret_pb2.Secret(name="client-cert")
    secret.tls_certificate.certificate_chain.inline_bytes = material.cert_pem
    secret.tls_certificate.private_key.inline_bytes = material.key_pem
    return secret


def _secure_cluster() -> object:
    cluster = res.eds_cluster("secure")
    context = tls_pb2.UpstreamTlsContext()
    sds = context.common_tls_context.tls_certificate_sds_secret_configs.add(name="client-cert")
    sds.sds_config.ads.SetInParent()
    sds.sds_config.resource_api_version = config_source_pb2.V3
    context.common_tls_context.tls_params.CopyFrom(common_pb2.TlsParameters())
    cluster.transport_socket.name = "envoy.transport_sockets.tls"
    cluster.transport_socket.typed_config.Pack(context)
    return cluster


def _holds_secure(dump: dict[str, object]) -> str | None:
    text = json.dumps(dump.get("configs", []))
    return None if '"secure"' in text and '"client-cert"' in text else "the secure cluster and its secret"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, envoy_binary: str) -> Session:
    workdir = tmp_path_factory.mktemp("snapshot")
    recording = workdir / "session.xdsspy"
    material = tls_material.make()
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0") as cp:
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", workdir, record=recording, command="record"
        ):
            options = bootstrap.BootstrapOptions(
                xds=addresses.parse(f"127.0.0.1:{listen}"), node_id=NODE, api_type=bootstrap.ApiType.SOTW
            )
            with envoy.Envoy(options, workdir / "envoy", binary=envoy_binary) as proc:
                first = {
                    res.CLUSTER: cp.set_resources(res.CLUSTER, [res.eds_cluster("backend")]),
                    res.ENDPOINT: cp.set_resources(
                        res.ENDPOINT,
                        [res.load_assignment("backend", [("127.0.0.1", 18081), ("127.0.0.1", 18082)])],
                    ),
                    res.LISTENER: cp.set_resources(
                        res.LISTENER, [res.listener("ingress", route_config_name="ingress-routes")]
                    ),
                    res.ROUTE: cp.set_resources(
                        res.ROUTE, [res.route_configuration("ingress-routes", cluster="backend")]
                    ),
                }
                for type_url, version in first.items():
                    cp.wait_for_ack(type_url, version, timeout=30, node_id=NODE)
                mark = cp.mark()
                second = {
                    SECRET: cp.set_resources(SECRET, [_secret(material)]),
                    res.ENDPOINT: cp.set_resources(
                        res.ENDPOINT,
                        [
                            res.load_assignment("backend", [("127.0.0.1", 18081), ("127.0.0.1", 18082)]),
                            res.load_assignment("secure", [("127.0.0.1", 18443)]),
                        ],
                    ),
                    res.CLUSTER: cp.set_resources(
                        res.CLUSTER, [res.eds_cluster("backend"), _secure_cluster()]
                    ),
                }
                for type_url, version in second.items():
                    cp.wait_for_ack(type_url, version, timeout=30, node_id=NODE, after=mark)
                proc.wait_for_config_dump(_holds_secure, timeout=30)
                dump = proc.config_dump(include_eds=True)
    path = workdir / "config_dump.json"
    path.write_text(json.dumps(dump))
    return Session(recording, path, material, workdir)


def xdsspy(*argv: str, check: int | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(processes.xdsspy_command(*argv), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


def test_the_recorded_final_state_equals_envoys_config_dump(session: Session) -> None:
    done = xdsspy("diff", str(session.recording), str(session.dump), check=0)
    assert "no differences" in done.stdout
    # the dump's bootstrap resources are left out, in one line; endpoints compared despite Envoy's defaults
    assert "static (bootstrap) resource(s) of B" in done.stdout
    assert "endpoints not compared" not in done.stdout
    done = xdsspy("diff", str(session.dump), str(session.recording), "--format", "json", check=0)
    assert json.loads(done.stdout)["changes"] == []


def test_a_field_changed_in_the_dump_is_named(session: Session, tmp_path: pathlib.Path) -> None:
    dump = json.loads(session.dump.read_text())
    for config in dump["configs"]:
        for entry in config.get("dynamic_active_clusters", []):
            if entry["cluster"]["name"] == "backend":
                entry["cluster"]["connect_timeout"] = "7s"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(dump))
    done = xdsspy("diff", str(session.recording), str(changed), check=1)
    assert 'clusters[backend].connect_timeout: "1s" → "7s"' in done.stdout
    assert "1 changed" in done.stdout
    data = json.loads(
        xdsspy("diff", str(session.recording), str(changed), "--format", "json", check=1).stdout
    )
    assert [(c["path"], c["old"], c["new"]) for c in data["changes"]] == [
        ("clusters[backend].connect_timeout", "1s", "7s")
    ]


def test_without_include_eds_endpoints_are_left_out_in_one_line(
    session: Session, tmp_path: pathlib.Path
) -> None:
    dump = json.loads(session.dump.read_text())
    dump["configs"] = [c for c in dump["configs"] if not c["@type"].endswith("EndpointsConfigDump")]
    no_eds = tmp_path / "no-eds.json"
    no_eds.write_text(json.dumps(dump))
    done = xdsspy("diff", str(session.recording), str(no_eds), check=0)
    assert "endpoints not compared" in done.stdout


def test_the_private_key_is_in_the_recording(session: Session) -> None:
    """The premise of the next test: the raw recording holds the key, so its absence elsewhere counts."""
    assert any(
        session.material.leaked_in(bytes(e.raw))
        for e in reader.iter_events(session.recording)
        if hasattr(e, "raw")
    )
    done = xdsspy("snapshot", str(session.recording), "--no-redact", check=0)
    assert session.material.leaked_in(done.stdout)
    assert "WITHOUT redaction" in done.stderr


def test_the_private_key_leaks_into_no_shared_output(session: Session, tmp_path: pathlib.Path) -> None:
    rec, leaked = str(session.recording), session.material.leaked_in
    outputs: dict[str, str] = {}
    for fmt in ("yaml", "json", "config_dump"):
        outputs[f"snapshot {fmt}"] = xdsspy("snapshot", rec, "--format", fmt, check=0).stdout
    outputs["snapshot with rejected"] = xdsspy("snapshot", rec, "--with-rejected", check=0).stdout
    for fmt in ("text", "markdown", "json"):
        outputs[f"diff {fmt}"] = xdsspy(
            "diff", f"{rec}@1", rec, "--node", NODE, "--format", fmt, "--context", "5", check=1
        ).stdout
    outputs["export"] = xdsspy("export", rec, check=0).stdout
    outputs["export --decode"] = xdsspy("export", rec, "--decode", check=0).stdout
    ix = index_mod.RecordingIndex(session.recording)
    ix.run()
    config = envoy_config.at(ix, NODE, len(ix.timeline.steps) - 1)
    saved = saving.save(saving.state_document(config), tmp_path / "ui-save.yaml", "yaml")  # the UI's `e` key
    assert saved.redacted and saved.masked >= 1
    outputs["UI save"] = (tmp_path / "ui-save.yaml").read_text()
    ix.close()
    bundle = tmp_path / "report.tar.gz"
    xdsspy("bundle", rec, "-o", str(bundle), "--around", "last", check=0)
    assert bundle.stat().st_mode & 0o777 == 0o600
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        for member in names:
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.endswith(".xdsspy"):
                (tmp_path / member).write_bytes(data)
            else:
                outputs[f"bundle {member}"] = data.decode()
    assert sorted(names) == ["README.md", "after.yaml", "before.yaml", "diff.md", "recording.xdsspy"]
    sliced = tmp_path / "recording.xdsspy"
    for event in reader.iter_events(sliced):
        for field in ("raw", "metadata", "trailers", "details", "text"):
            assert not leaked(repr(getattr(event, field, b""))), (event.seq, field)
    outputs["bundle: show of its recording"] = xdsspy("show", str(sliced), check=0).stdout
    marker_b64 = base64.b64encode(b"[redacted:").decode()[:12]  # inline_bytes hold the marker's base64
    assert "client-cert" in outputs["snapshot yaml"] and marker_b64 in outputs["snapshot yaml"]
    for name, text in outputs.items():
        assert text, name
        assert not leaked(text), f"the private key leaked into {name}"
