"""Where message types come from: Envoy's API (xds-protos) plus schemas the user adds at start-up.

A `Registry` wraps one descriptor pool. The default registry is protobuf's
default pool, into which importing xds-protos registers Envoy, xds/udpa and
validate types; they are imported all at once (~0.3-0.6 s) the first time a
type is missing, so envelope-only work never pays for it. Users add schemas as
a `FileDescriptorSet` (a "protoset", as grpcurl takes) or as .proto
directories compiled at start-up with grpc_tools (an optional dependency).

`Registry.layered()` makes a private pool that falls back to the default one:
its own files take precedence (a newer Envoy API, Istio's filters) and nothing
leaks into other registries, which is also what tests need.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message as pb_message
from google.protobuf import message_factory

from xdsspy import errors

API_PACKAGES = ("envoy", "xds", "udpa", "validate")
"""Top-level packages of xds-protos whose `*_pb2` modules make up Envoy's API."""


class SchemaError(errors.XdsspyError):
    """A protoset or .proto directory could not be loaded."""


@dataclasses.dataclass(frozen=True, slots=True)
class LoadReport:
    """What adding schemas did: files added, files skipped (already there) and files refused, with reasons."""

    source: str
    added: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    message_types: int = 0


_api_lock = threading.Lock()
_api_files: list[descriptor.FileDescriptor] = []
_api_loaded = False


def load_envoy_api() -> tuple[descriptor.FileDescriptor, ...]:
    """Import every `*_pb2` module of xds-protos once (never `*_pb2_grpc`: no grpc import)."""
    global _api_loaded
    with _api_lock:
        if not _api_loaded:
            for name in _api_module_names():
                try:
                    module = importlib.import_module(name)
                except Exception:
                    continue
                file_descriptor = getattr(module, "DESCRIPTOR", None)
                if isinstance(file_descriptor, descriptor.FileDescriptor):
                    _api_files.append(file_descriptor)
            _api_loaded = True
        return tuple(_api_files)


def _api_module_names() -> list[str]:
    names: list[str] = []
    for package_name in API_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ImportError:
            continue
        for base in getattr(package, "__path__", ()):
            root = pathlib.Path(base).parent
            for directory, subdirs, files in os.walk(base):
                subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
                for filename in sorted(files):
                    if filename.endswith("_pb2.py"):
                        relative = pathlib.Path(directory, filename[:-3]).relative_to(root)
                        names.append(".".join(relative.parts))
    return names


class _LayeredDatabase:
    """Feeds a layered pool: the user's files first, then the default pool's, on demand by name or symbol."""

    def __init__(self) -> None:
        self._default = descriptor_pool.Default()
        self._files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        self._symbols: dict[str, str] = {}

    def add(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self._files[proto.name] = proto
        prefix = f"{proto.package}." if proto.package else ""
        for name in _symbols(proto):
            self._symbols[prefix + name] = proto.name

    def has(self, name: str) -> bool:
        return name in self._files

    def discard(self, name: str) -> None:
        proto = self._files.pop(name, None)
        if proto is not None:
            self._symbols = {k: v for k, v in self._symbols.items() if v != name}

    def _proto(self, file_descriptor: descriptor.FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        return proto

    def FindFileByName(self, name: str) -> descriptor_pb2.FileDescriptorProto:
        if name in self._files:
            return self._files[name]
        try:
            return self._proto(self._default.FindFileByName(name))
        except KeyError:
            load_envoy_api()
            return self._proto(self._default.FindFileByName(name))

    def FindFileContainingSymbol(self, symbol: str) -> descriptor_pb2.FileDescriptorProto:
        owner = self._symbols.get(symbol)
        if owner is None and "." in symbol:
            owner = self._symbols.get(symbol.rsplit(".", 1)[0])  # a field or nested name
        if owner is not None:
            return self._files[owner]
        try:
            return self._proto(self._default.FindFileContainingSymbol(symbol))
        except KeyError:
            load_envoy_api()
            return self._proto(self._default.FindFileContainingSymbol(symbol))

    def FindFileContainingExtension(self, extendee: str, number: int) -> Any:
        raise KeyError(extendee)

    def FindAllExtensionNumbers(self, extendee: str) -> list[int]:
        return []


def _symbols(proto: descriptor_pb2.FileDescriptorProto) -> list[str]:
    names: list[str] = []

    def messages(items: Iterable[descriptor_pb2.DescriptorProto], prefix: str) -> None:
        for item in items:
            names.append(prefix + item.name)
            names.extend(f"{prefix}{item.name}.{e.name}" for e in item.enum_type)
            messages(item.nested_type, f"{prefix}{item.name}.")

    messages(proto.message_type, "")
    names.extend(e.name for e in proto.enum_type)
    names.extend(s.name for s in proto.service)
    names.extend(x.name for x in proto.extension)
    return names


class Registry:
    """A descriptor pool plus the bookkeeping to find types by name and to add user schemas."""

    def __init__(
        self, pool: descriptor_pool.DescriptorPool | None = None, *, database: _LayeredDatabase | None = None
    ) -> None:
        self.pool = pool if pool is not None else descriptor_pool.Default()
        self._database = database
        self._user_files: list[descriptor.FileDescriptor] = []
        self._classes: dict[str, type[pb_message.Message] | None] = {}
        self.generation = 0
        """Bumped whenever schemas are added, so caches keyed on a registry know to start over."""

    @classmethod
    def layered_over_default(cls) -> Registry:
        """A private pool whose misses are served from the default pool (Envoy's API)."""
        database = _LayeredDatabase()
        return cls(descriptor_pool.DescriptorPool(database), database=database)

    @property
    def files(self) -> tuple[descriptor.FileDescriptor, ...]:
        """Every file this registry knows it has: Envoy's API and the user's additions."""
        return (*load_envoy_api(), *self._user_files)

    @property
    def user_files(self) -> tuple[descriptor.FileDescriptor, ...]:
        return tuple(self._user_files)

    def find(self, full_name: str) -> descriptor.Descriptor | None:
        """The message type `full_name`, loading Envoy's API on the first miss; None if nobody defines it."""
        try:
            return self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            pass
        if _api_loaded:
            return None
        load_envoy_api()
        try:
            return self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            return None

    def message_class(self, full_name: str) -> type[pb_message.Message] | None:
        """The generated (or dynamically built) class for `full_name`, cached."""
        try:
            return self._classes[full_name]
        except KeyError:
            pass
        message_descriptor = self.find(full_name)
        cls = None if message_descriptor is None else message_factory.GetMessageClass(message_descriptor)
        if cls is not None or _api_loaded:
            self._classes[full_name] = cls
        return cls

    def add_file_descriptor_set(
        self, file_set: descriptor_pb2.FileDescriptorSet, source: str = "<FileDescriptorSet>"
    ) -> LoadReport:
        """Add each file of `file_set`, dependencies first; files already there are skipped, not replaced."""
        by_name = {proto.name: proto for proto in file_set.file}
        added: list[str] = []
        skipped: list[str] = []
        failed: list[tuple[str, str]] = []
        message_types = 0
        for proto in _dependency_order(by_name):
            if self._database is not None:
                # A layered pool takes files through its database, and the user's win over the defaults.
                if self._database.has(proto.name):
                    skipped.append(proto.name)
                    continue
            else:
                try:
                    self.pool.FindFileByName(proto.name)
                except KeyError:
                    pass
                else:
                    skipped.append(proto.name)
                    continue
            try:
                if self._database is not None:
                    self._database.add(proto)
                else:
                    self.pool.Add(proto)
                file_descriptor = self.pool.FindFileByName(proto.name)
            except Exception as exc:
                if self._database is not None:
                    self._database.discard(proto.name)
                failed.append((proto.name, str(exc) or type(exc).__name__))
                continue
            self._user_files.append(file_descriptor)
            added.append(proto.name)
            message_types += _count_messages(file_descriptor.message_types_by_name.values())
        if added:
            self._classes.clear()
            self.generation += 1
        return LoadReport(source, tuple(added), tuple(skipped), tuple(failed), message_types)

    def add_protoset(self, path: str | os.PathLike[str]) -> LoadReport:
        """Load a binary FileDescriptorSet (`protoc --descriptor_set_out`, grpcurl's -protoset)."""
        file_set = descriptor_pb2.FileDescriptorSet()
        try:
            file_set.ParseFromString(pathlib.Path(path).read_bytes())
        except OSError as exc:
            raise SchemaError(f"cannot read protoset {path}: {exc.strerror or exc}") from exc
        except Exception as exc:
            raise SchemaError(f"{path} is not a FileDescriptorSet: {exc}") from exc
        return self.add_file_descriptor_set(file_set, str(path))

    def add_proto_dirs(self, directories: Sequence[str | os.PathLike[str]]) -> LoadReport:
        """Compile every .proto under `directories` (each also an import root) and add the result.

        Imports of Envoy, xds/udpa, validate and well-known types resolve
        against the types already loaded, so users only supply their own files.
        """
        roots = [pathlib.Path(d).resolve() for d in directories]
        for root in roots:
            if not root.is_dir():
                raise SchemaError(f"--proto-path {root}: not a directory")
        sources = sorted({str(p.relative_to(root)) for root in roots for p in root.rglob("*.proto")})
        if not sources:
            raise SchemaError(f"no .proto files under {', '.join(map(str, roots))}")
        file_set = compile_protos(roots, sources, self.files)
        return self.add_file_descriptor_set(file_set, ", ".join(map(str, roots)))


def compile_protos(
    roots: Sequence[pathlib.Path], sources: Sequence[str], known: Iterable[descriptor.FileDescriptor]
) -> descriptor_pb2.FileDescriptorSet:
    """Run grpc_tools' protoc in a subprocess; `known` files are given to it as --descriptor_set_in."""
    if importlib.util.find_spec("grpc_tools") is None:
        raise SchemaError("compiling .proto files needs grpcio-tools (pip install grpcio-tools)")
    known_set = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()
    for file_descriptor in _with_dependencies(known):
        if file_descriptor.name not in seen:
            seen.add(file_descriptor.name)
            file_descriptor.CopyToProto(known_set.file.add())
    with tempfile.TemporaryDirectory(prefix="xdsspy-protoc-") as tmp:
        known_path = pathlib.Path(tmp, "known.protoset")
        out_path = pathlib.Path(tmp, "out.protoset")
        known_path.write_bytes(known_set.SerializeToString())
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            *(f"--proto_path={root}" for root in roots),
            f"--descriptor_set_in={known_path}",
            f"--descriptor_set_out={out_path}",
            *sources,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SchemaError(f"protoc failed: {result.stderr.strip() or result.stdout.strip()}")
        file_set = descriptor_pb2.FileDescriptorSet()
        file_set.ParseFromString(out_path.read_bytes())
    return file_set


def _with_dependencies(files: Iterable[descriptor.FileDescriptor]) -> list[descriptor.FileDescriptor]:
    ordered: list[descriptor.FileDescriptor] = []
    seen: set[str] = set()

    def visit(file_descriptor: descriptor.FileDescriptor) -> None:
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for dependency in file_descriptor.dependencies:
            visit(dependency)
        ordered.append(file_descriptor)

    for file_descriptor in files:
        visit(file_descriptor)
    return ordered


def _dependency_order(
    by_name: dict[str, descriptor_pb2.FileDescriptorProto],
) -> list[descriptor_pb2.FileDescriptorProto]:
    ordered: list[descriptor_pb2.FileDescriptorProto] = []
    state: dict[str, bool] = {}

    def visit(name: str) -> None:
        if name in state or name not in by_name:
            return
        state[name] = False
        for dependency in by_name[name].dependency:
            visit(dependency)
        state[name] = True
        ordered.append(by_name[name])

    for name in by_name:
        visit(name)
    return ordered


def _count_messages(messages: Iterable[descriptor.Descriptor]) -> int:
    return sum(1 + _count_messages(m.nested_types) for m in messages)


_default: Registry | None = None


def default() -> Registry:
    """The process-wide registry over protobuf's default pool."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
