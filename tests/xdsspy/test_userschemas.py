"""User schemas from the command line: a protoset or .proto directory makes a schema-less type typed;
every mistake is one clear SchemaError."""

from __future__ import annotations

import pathlib
import sys

import pytest

from xdsspy import userschemas
from xdsspy.decode import resources
from xdsspy.decode import schemas
from xdsspy.testing import user_types


def _registry() -> schemas.Registry:
    return schemas.Registry.layered_over_default()  # private: nothing leaks into other tests


def _decode(registry: schemas.Registry) -> resources.DecodedResource:
    return resources.decode(user_types.WIDGET_URL, user_types.WIDGET_BYTES, registry=registry)


def test_a_protoset_makes_a_schemaless_type_typed(tmp_path: pathlib.Path) -> None:
    registry = _registry()
    assert _decode(registry).status == resources.Status.SCHEMALESS
    path = tmp_path / "widget.protoset"
    path.write_bytes(user_types.tprotoset().SerializeToString())
    reports = userschemas.load(protosets=[str(path)], registry=registry)
    assert reports[0].added == (user_types.PROTO_NAME,)
    decoded = _decode(registry)
    assert decoded.status == resources.Status.TYPED and decoded.body == user_types.WIDGET_JSON


def test_a_proto_directory_is_compiled(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("grpc_tools")
    source = tmp_path / user_types.PROTO_NAME
    source.parent.mkdir()
    source.write_text(user_types.PROTO_SOURCE)
    registry = _registry()
    userschemas.load(proto_paths=[str(tmp_path)], registry=registry)
    assert _decode(registry).body == user_types.WIDGET_JSON


def test_proto_path_without_grpcio_tools_says_what_to_install(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "grpc_tools", None)  # find_spec() now answers None
    with pytest.raises(schemas.SchemaError, match=r"pip install 'xdsspy\[protos\]'"):
        userschemas.load(proto_paths=[str(tmp_path)], registry=_registry())


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "--protoset: cannot read protoset .*: No such file"),
        (b"\xff\xff\xff", "--protoset: .* is not a FileDescriptorSet"),
        (b"", "--protoset .*: holds no .proto file descriptors"),
    ],
)
def test_bad_protosets(tmp_path: pathlib.Path, content: bytes | None, error: str) -> None:
    path = tmp_path / "x.protoset"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(schemas.SchemaError, match=error) as caught:
        userschemas.load(protosets=[str(path)], registry=_registry())
    assert "\n" not in str(caught.value)


def test_a_file_that_does_not_fit_is_refused(tmp_path: pathlib.Path) -> None:
    file_set = user_types.tprotoset()
    file_set.file[0].dependency.append("missing/dep.proto")
    file_set.file[0].message_type[0].field.add(
        name="other", number=3, type=11, label=1, type_name=".missing.Dep", json_name="other"
    )
    path = tmp_path / "broken.protoset"
    path.write_bytes(file_set.SerializeToString())
    with pytest.raises(schemas.SchemaError, match=f"cannot add {user_types.PROTO_NAME}"):
        userschemas.load(protosets=[str(path)], registry=_registry())


def test_bad_proto_directories(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("grpc_tools")
    with pytest.raises(schemas.SchemaError, match="not a directory"):
        userschemas.load(proto_paths=[str(tmp_path / "nope")], registry=_registry())
    with pytest.raises(schemas.SchemaError, match=r"no \.proto files"):
        userschemas.load(proto_paths=[str(tmp_path)], registry=_registry())
    (tmp_path / "bad.proto").write_text(
        'syntax = "proto3";\nmessage X { strin a = 1; }\nmessage Y { in b = 1; }\n'
    )
    with pytest.raises(schemas.SchemaError, match=r"protoc failed: .*strin.*; .*in") as caught:
        userschemas.load(proto_paths=[str(tmp_path)], registry=_registry())
    assert "\n" not in str(caught.value), "protoc's lines are joined into one"
