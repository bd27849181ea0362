"""Where types come from: Envoy's API, protosets and .proto directories added at start-up."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from google.protobuf import any_pb2
from google.protobuf import descriptor_pb2

from xdsspy.decode import resources
from xdsspy.decode import schemas

THING = """
syntax = "proto3";
package xdsspy.testschema.v1;
import "google/protobuf/duration.proto";
import "envoy/config/core/v3/address.proto";
message Thing {
  string name = 1;
  google.protobuf.Duration ttl = 2;
  envoy.config.core.v3.Address address = 3;
}
"""


def _write_protos(root: pathlib.Path, package_dir: str = "xdsspy/testschema/v1") -> pathlib.Path:
    directory = root / package_dir
    directory.mkdir(parents=True)
    (directory / "thing.proto").write_text(THING)
    return root


def _thing_any(type_name: str = "xdsspy.testschema.v1.Thing") -> any_pb2.Any:
    # name="n", ttl=5s, address.socket_address.port_value=80, built by hand so no schema is needed here.
    duration = b"\x08\x05"
    socket = b"\x18\x50"  # port_value = 80 (field 3)
    address = b"\x0a" + bytes([len(socket)]) + socket
    value = (
        b"\x0a\x01n" + b"\x12" + bytes([len(duration)]) + duration + b"\x1a" + bytes([len(address)]) + address
    )
    return any_pb2.Any(type_url="type.googleapis.com/" + type_name, value=value)


def test_envoy_api_loads_once_without_grpc() -> None:
    code = (
        "import sys, json; from xdsspy.decode import schemas; n = len(schemas.load_envoy_api()); "
        "print(json.dumps([n, len(schemas.load_envoy_api()), 'grpc' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    count, again, grpc_loaded = __import__("json").loads(out)
    assert count > 500 and again == count and not grpc_loaded


def test_find_loads_the_api_on_first_miss() -> None:
    registry = schemas.default()
    assert registry.find("envoy.extensions.filters.http.wasm.v3.Wasm") is not None
    assert registry.find("stats.PluginConfig") is None
    assert registry.message_class("stats.PluginConfig") is None


def test_proto_dirs_compile_against_the_loaded_api(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("grpc_tools")
    registry = schemas.Registry.layered_over_default()
    report = registry.add_proto_dirs([_write_protos(tmp_path)])
    assert report.added == ("xdsspy/testschema/v1/thing.proto",) and report.message_types == 1
    packed = _thing_any()
    decoded = resources.decode(packed.type_url, packed.value, registry=registry)
    assert decoded.status == resources.Status.TYPED and decoded.fully_typed
    assert decoded.body == {
        "@type": packed.type_url,
        "name": "n",
        "ttl": "5s",
        "address": {"socket_address": {"port_value": 80}},
    }
    assert registry.add_proto_dirs([tmp_path]).skipped == ("xdsspy/testschema/v1/thing.proto",)
    assert [f.name for f in registry.user_files] == ["xdsspy/testschema/v1/thing.proto"]


def test_protoset_with_its_imports(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("grpc_tools")
    from grpc_tools import protoc

    roots = _write_protos(tmp_path / "src")
    known = tmp_path / "known.protoset"
    known_set = descriptor_pb2.FileDescriptorSet()
    for file_descriptor in schemas._with_dependencies(schemas.load_envoy_api()):
        file_descriptor.CopyToProto(known_set.file.add())
    known.write_bytes(known_set.SerializeToString())
    out = tmp_path / "thing.protoset"
    status = protoc.main(
        [
            "protoc",
            f"--proto_path={roots}",
            f"--descriptor_set_in={known}",
            f"--descriptor_set_out={out}",
            "--include_imports",
            "xdsspy/testschema/v1/thing.proto",
        ]
    )
    assert status == 0
    registry = schemas.Registry.layered_over_default()
    report = registry.add_protoset(out)
    assert "xdsspy/testschema/v1/thing.proto" in report.added and not report.failed
    packed = _thing_any()
    assert resources.decode(packed.type_url, packed.value, registry=registry).body["ttl"] == "5s"


def test_adding_to_the_default_pool_skips_files_it_has(tmp_path: pathlib.Path) -> None:
    file_set = descriptor_pb2.FileDescriptorSet()
    proto = file_set.file.add(name="xdsspy/testschema/default_only.proto", package="xdsspy.testschema.d1")
    proto.message_type.add(name="OnlyHere").field.add(name="x", number=1, type=9, label=1)
    existing = file_set.file.add()
    any_pb2.Any.DESCRIPTOR.file.CopyToProto(existing)
    registry = schemas.Registry()  # protobuf's default pool, not the shared default() instance
    report = registry.add_file_descriptor_set(file_set)
    assert report.added == ("xdsspy/testschema/default_only.proto",)
    assert report.skipped == ("google/protobuf/any.proto",)
    assert registry.find("xdsspy.testschema.d1.OnlyHere") is not None


def test_conflicting_files_are_reported_not_raised() -> None:
    file_set = descriptor_pb2.FileDescriptorSet()
    broken = file_set.file.add(name="xdsspy/testschema/broken.proto", package="xdsspy.testschema.b1")
    broken.message_type.add(name="B").field.add(name="x", number=1, type=11, label=1, type_name=".no.Such")
    report = schemas.Registry.layered_over_default().add_file_descriptor_set(file_set)
    assert report.added == () and report.failed[0][0] == "xdsspy/testschema/broken.proto"


def test_schema_errors(tmp_path: pathlib.Path) -> None:
    registry = schemas.Registry.layered_over_default()
    with pytest.raises(schemas.SchemaError, match="not a directory"):
        registry.add_proto_dirs([tmp_path / "missing"])
    with pytest.raises(schemas.SchemaError, match=r"no \.proto files"):
        registry.add_proto_dirs([tmp_path])
    with pytest.raises(schemas.SchemaError, match="cannot read protoset"):
        registry.add_protoset(tmp_path / "missing.protoset")
    (tmp_path / "junk.protoset").write_bytes(b"\xff\xff")
    with pytest.raises(schemas.SchemaError, match="not a FileDescriptorSet"):
        registry.add_protoset(tmp_path / "junk.protoset")
    pytest.importorskip("grpc_tools")
    (tmp_path / "bad.proto").write_text('syntax = "proto3"; message {')
    with pytest.raises(schemas.SchemaError, match="protoc failed"):
        registry.add_proto_dirs([tmp_path])
