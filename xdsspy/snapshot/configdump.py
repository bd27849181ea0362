"""Envoy's admin /config_dump and istiod's /debug/config_dump, read into a Snapshot and written from one.

`load` reads every shape these dumps have had: `envoy.admin.v3` and
`envoy.admin.v2alpha` wrappers, Envoy's snake_case and jsonpb's camelCase
(istiod) field names, whole sections or the single entries of
`/config_dump?resource=…`. A section's list says the state (`static_*` is
STATIC, `dynamic_active_*` ACTIVE, `dynamic_warming_*` WARMING, a listener's
`draining_state` DRAINING); an entry's `error_state` is a REJECTED item whose
body is the `failed_configuration` Envoy shows (its `details` the error).
Bodies are kept as given, shared with the document, except that a resource
without "@type" (Envoy 1.12's v2alpha dumps held plain messages) gets the
type its section implies. The bootstrap gives the node and the Envoy and
Istio versions; its static resources are already in the sections'
`static_*` lists, so they are not read twice.

istiod or Envoy: istiod's dump always starts with an empty
BootstrapConfigDump (only its "@type") and stamps no `last_updated` on
anything; Envoy always prints its bootstrap with its node and `last_updated`
(a `?mask=` leaves the bootstrap out, never empty). A dump with an empty
bootstrap and no `last_updated` is istiod's unless `kind` says otherwise.
istiod cannot know the bootstrap (`has_static` False). `has_endpoints` says
whether the dump holds an EndpointsConfigDump: Envoy prints one only for
`?include_eds`, istiod for `?include_eds=true`.

`dump` writes a snapshot as Envoy's v3 /config_dump, sections in Envoy's
order (bootstrap, clusters, ECDS, endpoints, listeners, scoped routes,
routes, secrets), so that `load(dump(s))` gives back the same items. What
no section can hold (virtual hosts, runtimes, other types, a warming route,
an item without a body) goes under a top-level "xdsspy" key, as
`other_resources`, the way the UI's saved state does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import Any

from xdsspy.snapshot import model
from xdsspy.snapshot import problems

State = model.State
Document = dict[str, Any]
ADMIN = "type.googleapis.com/envoy.admin.v3."
NOT_SHOWN = "the dump shows the error but not the rejected configuration"
"""The `problem` of a REJECTED item whose error_state has no failed_configuration."""

_V2 = "type.googleapis.com/envoy.api.v2."
_LISTENER_STATES = (
    ("active_state", State.ACTIVE),
    ("warming_state", State.WARMING),
    ("draining_state", State.DRAINING),
)
_HELD_AS = {"ACKED": State.ACTIVE, "NACKED": State.REJECTED}  # the UI's saved state (tracker.Status)
_STATES = {str(s) for s in State}


@dataclasses.dataclass(frozen=True, slots=True)
class _Type:
    """One resource type's place in a dump: its section message, the entry field holding it, its lists."""

    type_url: str
    v2_url: str  # what a v2alpha dump of Envoy 1.12 held as a plain message
    dump: str
    body: str
    lists: dict[str, State]  # snake_case list fields of the section -> the state of their entries
    name_field: str = "name"
    static: str = ""  # the entry type of `?resource=static_…`
    dynamic: str = ""  # and of the dynamic lists


_CLUSTERS = _Type(
    model.CLUSTER,
    _V2 + "Cluster",
    "ClustersConfigDump",
    "cluster",
    {
        "static_clusters": State.STATIC,
        "dynamic_active_clusters": State.ACTIVE,
        "dynamic_warming_clusters": State.WARMING,
    },
    static="StaticCluster",
    dynamic="DynamicCluster",
)
_ECDS = _Type(
    model.EXTENSION,
    model.EXTENSION,
    "EcdsConfigDump",
    "ecds_filter",
    {"ecds_filters": State.ACTIVE},
    dynamic="EcdsFilterConfig",
)
_ENDPOINTS = _Type(
    model.ENDPOINT,
    _V2 + "ClusterLoadAssignment",
    "EndpointsConfigDump",
    "endpoint_config",
    {"static_endpoint_configs": State.STATIC, "dynamic_endpoint_configs": State.ACTIVE},
    name_field="cluster_name",
    static="StaticEndpointConfig",
    dynamic="DynamicEndpointConfig",
)
_LISTENERS = _Type(
    model.LISTENER,
    _V2 + "Listener",
    "ListenersConfigDump",
    "listener",
    {  # v3 lists dynamic listeners in `dynamic_listeners`, by state; v2alpha had a list per state
        "static_listeners": State.STATIC,
        "dynamic_active_listeners": State.ACTIVE,
        "dynamic_warming_listeners": State.WARMING,
        "dynamic_draining_listeners": State.DRAINING,
    },
    static="StaticListener",
    dynamic="DynamicListener",
)
_SCOPED = _Type(
    model.SCOPED_ROUTE,
    _V2 + "ScopedRouteConfiguration",
    "ScopedRoutesConfigDump",
    "scoped_route_configs",  # a list of resources per entry
    {"inline_scoped_route_configs": State.STATIC, "dynamic_scoped_route_configs": State.ACTIVE},
    static="InlineScopedRouteConfigs",
    dynamic="DynamicScopedRouteConfigs",
)
_ROUTES = _Type(
    model.ROUTE,
    _V2 + "RouteConfiguration",
    "RoutesConfigDump",
    "route_config",
    {"static_route_configs": State.STATIC, "dynamic_route_configs": State.ACTIVE},
    static="StaticRouteConfig",
    dynamic="DynamicRouteConfig",
)
_SECRETS = _Type(
    model.SECRET,
    _V2 + "auth.Secret",
    "SecretsConfigDump",
    "secret",
    {
        "static_secrets": State.STATIC,
        "dynamic_active_secrets": State.ACTIVE,
        "dynamic_warming_secrets": State.WARMING,
    },
    static="StaticSecret",
    dynamic="DynamicSecret",
)
_TYPES = (_CLUSTERS, _ECDS, _ENDPOINTS, _LISTENERS, _SCOPED, _ROUTES, _SECRETS)
"""In Envoy's order (config_dump.proto: bootstrap, clusters, ecds_filter_*, endpoints, listeners, …)."""
_BY_DUMP = {t.dump: t for t in _TYPES}
_ENTRIES: dict[str, tuple[_Type, State | None]] = {
    f"{t.dump}.{entry}": (t, state if entry != "DynamicListener" else None)
    for t in _TYPES
    for entry, state in ((t.static, State.STATIC), (t.dynamic, State.ACTIVE))
    if entry
}
"""`?resource=` prints single entries: their type, and their state (dynamic ones: active or warming)."""


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), name)


def _get(obj: dict[str, Any], field: str) -> Any:
    """A field by its proto name (Envoy's admin) or its json_name (jsonpb, istiod)."""
    value = obj.get(field)
    return obj.get(_camel(field)) if value is None else value


def _what(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    for kind, what in ((dict, "an object"), (list, "a list"), (str, "a string"), (int | float, "a number")):
        if isinstance(value, kind):
            return what
    return type(value).__name__


def _body_name(t: _Type, body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    name = _get(body, t.name_field)
    return name if isinstance(name, str) else ""


class _Reader:
    """One document's walk: items in document order, notes, and what the bootstrap said."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[model.Item] = []
        self.notes: list[str] = []
        self.node = self.envoy_version = self.istio_version = ""
        self.empty_bootstrap = False
        self.endpoints = False
        self.single_entries = False

    def fail(self, where: str, expected: str, value: Any) -> problems.SnapshotError:
        return problems.SnapshotError(f"{self.source}: {where}: expected {expected}, found {_what(value)}")

    def text(self, where: str, field: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a YAML dump's unquoted version_info
        raise self.fail(f"{where}.{field}", "a string", value)

    def body(self, where: str, field: str, value: Any, type_url: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where}.{field}", "an object (a resource)", value)
        return value if "@type" in value else {"@type": type_url, **value}

    def config(self, where: str, config: Any) -> None:
        if not isinstance(config, dict):
            raise self.fail(where, 'an object with an "@type"', config)
        url = config.get("@type")
        if not isinstance(url, str):
            raise problems.SnapshotError(
                f'{self.source}: {where}: no "@type" saying which part of the dump it is'
            )
        name = url.rpartition("/")[2]
        v2 = name.startswith("envoy.admin.v2alpha.")
        if not (v2 or name.startswith("envoy.admin.v3.")):
            self.notes.append(f"{where}: {url} is not a part of a config dump xdsspy reads; left out")
            return
        name = name.split(".", 3)[3]
        if name == "BootstrapConfigDump":
            self.bootstrap(where, config)
        elif name in _BY_DUMP:
            self.section(f"{where} ({name})", _BY_DUMP[name], config, v2)
        elif name in _ENTRIES:
            t, state = _ENTRIES[name]
            self.single_entries = True
            self.endpoints |= t is _ENDPOINTS
            self.entry(where, t, state, config, t.v2_url if v2 else t.type_url)
        else:
            self.notes.append(f"{where}: {url} is not a part of a config dump xdsspy reads; left out")

    def bootstrap(self, where: str, config: dict[str, Any]) -> None:
        if config.keys() <= {"@type"}:
            self.empty_bootstrap = True
            return
        bootstrap = _get(config, "bootstrap")
        if bootstrap is None:
            return
        if not isinstance(bootstrap, dict):
            raise self.fail(f"{where}.bootstrap", "an object", bootstrap)
        node = bootstrap.get("node")
        if not isinstance(node, dict):
            return
        self.node = self.text(f"{where}.bootstrap.node", "id", node.get("id"))
        self.envoy_version = _envoy_version(node)
        metadata = node.get("metadata")
        istio = metadata.get("ISTIO_VERSION") if isinstance(metadata, dict) else None
        self.istio_version = istio if isinstance(istio, str) else ""

    def section(self, where: str, t: _Type, config: dict[str, Any], v2: bool) -> None:
        self.endpoints |= t is _ENDPOINTS
        type_url = t.v2_url if v2 else t.type_url
        for key, entries in config.items():
            field = _snake(str(key))
            if key == "@type" or field == "version_info" or entries is None:
                continue  # a section's version_info is its type's latest; each entry says its own
            state = t.lists.get(field)
            if state is None and not (t is _LISTENERS and field == "dynamic_listeners"):
                self.notes.append(f"{where}: {key} is not a field xdsspy reads; left out")
                continue
            if not isinstance(entries, list):
                raise self.fail(f"{where}.{key}", "a list", entries)
            for j, entry in enumerate(entries):
                self.entry(f"{where}.{key}[{j}]", t, state, entry, type_url)

    def entry(self, where: str, t: _Type, state: State | None, entry: Any, type_url: str) -> None:
        """One entry of a section's list; `state` None for v3's dynamic_listeners, which say it per entry."""
        if not isinstance(entry, dict):
            raise self.fail(where, "an object", entry)
        wrapper = self.text(where, "name", entry.get("name"))
        accepted = ""
        if t is _SCOPED:
            bodies = _get(entry, t.body)
            if bodies is not None and not isinstance(bodies, list):
                raise self.fail(f"{where}.{t.body}", "a list", bodies)
            for k, raw in enumerate(bodies or ()):
                self.accept(f"{where}.{t.body}[{k}]", t, state or State.ACTIVE, entry, raw, "", type_url)
        elif state is None:
            for field, listener_state in _LISTENER_STATES:
                held = _get(entry, field)
                if held is None:
                    continue
                if not isinstance(held, dict):
                    raise self.fail(f"{where}.{field}", "an object", held)
                raw = _get(held, t.body)
                if raw is not None:
                    accepted = self.accept(
                        f"{where}.{field}", t, listener_state, held, raw, wrapper, type_url
                    )
        else:
            raw = _get(entry, t.body)
            if raw is not None:
                accepted = self.accept(where, t, state, entry, raw, wrapper, type_url)
        error = _get(entry, "error_state")
        if error is not None:
            self.reject(
                f"{where}.error_state", t, error, (wrapper if t is not _SCOPED else "") or accepted, type_url
            )

    def accept(
        self, where: str, t: _Type, state: State, entry: dict[str, Any], raw: Any, name: str, type_url: str
    ) -> str:
        body = self.body(where, t.body, raw, type_url)
        name = name or _body_name(t, body)
        version = self.text(where, "version_info", _get(entry, "version_info"))
        updated = self.text(where, "last_updated", _get(entry, "last_updated"))
        self.items.append(model.Item(t.type_url, name, body, state, version, updated))
        return name

    def reject(self, where: str, t: _Type, error: Any, name: str, type_url: str) -> None:
        if not isinstance(error, dict):
            raise self.fail(where, "an object", error)
        raw = _get(error, "failed_configuration")
        body = None if raw is None else self.body(where, "failed_configuration", raw, type_url)
        self.items.append(
            model.Item(
                t.type_url,
                name or _body_name(t, body),
                body,
                State.REJECTED,
                self.text(where, "version_info", _get(error, "version_info")),
                self.text(where, "last_update_attempt", _get(error, "last_update_attempt")),
                self.text(where, "details", error.get("details")),
                "" if body is not None else NOT_SHOWN,
            )
        )

    def others(self, where: str, entries: Any) -> None:
        """`xdsspy.other_resources`: what `dump` (or the UI's saved state) could not put in a section."""
        if not isinstance(entries, list):
            raise self.fail(where, "a list", entries)
        for j, entry in enumerate(entries):
            here = f"{where}[{j}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("type_url"), str):
                raise self.fail(here, 'an object with a "type_url"', entry)
            held = entry.get("state") or _HELD_AS.get(str(entry.get("status")))
            if not isinstance(held, str) or held not in _STATES:
                self.notes.append(
                    f"{here}: held as {held or entry.get('status')!r}, which is not a state; left out"
                )
                continue
            self.items.append(
                model.Item(
                    entry["type_url"],
                    self.text(here, "name", entry.get("name")),
                    entry.get("resource"),
                    State(held),
                    self.text(here, "version_info", entry.get("version_info")),
                    self.text(here, "last_updated", entry.get("last_updated")),
                    self.text(here, "error", entry.get("error")),
                    self.text(here, "problem", entry.get("problem", entry.get("xdsspy_problem"))),
                )
            )


def _envoy_version(node: dict[str, Any]) -> str:
    """1.40.0, as a recording shows it: from user_agent_version, user_agent_build_version or build_version."""
    text = _get(node, "user_agent_version")
    if isinstance(text, str) and text:
        return text
    build = _get(node, "user_agent_build_version")
    semantic = _get(build, "version") if isinstance(build, dict) else None
    if isinstance(semantic, dict):
        numbers = [_get(semantic, f) or 0 for f in ("major_number", "minor_number", "patch")]
        return ".".join(str(n) for n in numbers)
    legacy = _get(node, "build_version")  # "sha/1.12.0-dev/Clean/RELEASE/BoringSSL"
    if isinstance(legacy, str):
        parts = legacy.split("/")
        return parts[1] if len(parts) > 1 else legacy
    return ""


def load(document: Any, source: str, *, kind: model.SourceKind | None = None) -> model.Snapshot:
    """The snapshot a config dump shows (see the module docstring); raises problems.SnapshotError."""
    if not isinstance(document, dict):
        raise problems.SnapshotError(
            f'{source}: not a config dump: expected an object with "configs", found {_what(document)}'
        )
    configs = document.get("configs")
    if configs is None:
        hint = " (it looks like a bootstrap)" if "static_resources" in document or "node" in document else ""
        raise problems.SnapshotError(f'{source}: not a config dump: no "configs"{hint}')
    reader = _Reader(source)
    if not isinstance(configs, list):
        raise reader.fail("configs", "a list", configs)
    for i, config in enumerate(configs):
        reader.config(f"configs[{i}]", config)
    head = document.get("xdsspy")
    recording = False
    if isinstance(head, dict):
        if head.get("other_resources") is not None:
            reader.others("xdsspy.other_resources", head["other_resources"])
        if not reader.node and isinstance(head.get("node"), str):
            reader.node = head["node"]
        recording = isinstance(head.get("recording"), str)
    if reader.single_entries:
        reader.notes.append(
            "a dump of single entries (?resource=): only the resources asked for; "
            "dynamic ones show as active, as the dump does not say which were warming"
        )
    if kind is None:
        istiod = reader.empty_bootstrap and not any(i.last_updated for i in reader.items)
        kind = (
            model.SourceKind.ISTIOD
            if istiod
            else model.SourceKind.RECORDING
            if recording
            else model.SourceKind.CONFIG_DUMP
        )
    seq = head.get("seq") if isinstance(head, dict) else None
    at = head.get("time") if isinstance(head, dict) else None
    return model.Snapshot(
        source=source,
        kind=kind,
        items=tuple(reader.items),
        node=reader.node,
        at=at if isinstance(at, str) else "",
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        has_static=kind not in (model.SourceKind.ISTIOD, model.SourceKind.RECORDING),
        has_endpoints=reader.endpoints,
        envoy_version=reader.envoy_version,
        istio_version=reader.istio_version,
        notes=tuple(reader.notes),
    )


# -- writing ---------------------------------------------------------------------------------------


def dump(snapshot: model.Snapshot) -> Document:
    """The snapshot as Envoy's v3 /config_dump (see the module docstring)."""
    configs: list[Document] = [_bootstrap(snapshot)]
    by_type: dict[str, list[model.Item]] = {}
    for item in snapshot.items:
        by_type.setdefault(item.type_url, []).append(item)
    other: list[model.Item] = []
    for t in _TYPES:
        section = _Section(t)
        items = by_type.pop(t.type_url, [])
        for item in items:  # accepted first: a rejected version joins its accepted one's entry
            if item.state != State.REJECTED and not section.add(item):
                other.append(item)
        for item in items:
            if item.state == State.REJECTED and not section.join(item):
                other.append(item)
        if section.lists or (t is _ENDPOINTS and snapshot.has_endpoints):
            configs.append(section.document())
    other.extend(item for items in by_type.values() for item in items)
    out: Document = {"configs": configs}
    if other:
        out["xdsspy"] = {"other_resources": [_other(item) for item in other]}
    return out


def _bootstrap(snapshot: model.Snapshot) -> Document:
    """What the snapshot knows of the node; empty for istiod's, as istiod prints it."""
    out: Document = {"@type": ADMIN + "BootstrapConfigDump"}
    if snapshot.kind == model.SourceKind.ISTIOD:
        return out
    node: Document = {}
    if snapshot.node:
        node["id"] = snapshot.node
    version = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", snapshot.envoy_version)
    if version:
        numbers = dict(
            zip(("major_number", "minor_number", "patch"), map(int, version.groups()), strict=True)
        )
        node["user_agent_build_version"] = {"version": numbers}
    elif snapshot.envoy_version:
        node["user_agent_version"] = snapshot.envoy_version
    if snapshot.istio_version:
        node["metadata"] = {"ISTIO_VERSION": snapshot.istio_version}
    out["bootstrap"] = {"node": node} if node else {}  # present, so the dump does not read as istiod's
    return out


class _Section:
    """One section being written: its lists, and the dynamic entry of each name a rejected version joins."""

    def __init__(self, t: _Type) -> None:
        self.t = t
        self.lists: dict[str, list[Document]] = {}
        self.by_name: dict[str, Document] = {}
        self.fields = {state: field for field, state in t.lists.items()}
        if t is _LISTENERS:  # v3 lists dynamic listeners in `dynamic_listeners`
            self.fields = {State.STATIC: "static_listeners"}

    def document(self) -> Document:
        return {"@type": ADMIN + self.t.dump, **self.lists}

    def _named(self, item: model.Item) -> bool:
        """Whether the entry names the item (so its body need not): dynamic listeners and secrets."""
        return bool(item.name) and (
            self.t is _SECRETS or (self.t is _LISTENERS and item.state != State.STATIC)
        )

    def add(self, item: model.Item) -> bool:
        """Write an accepted item where Envoy would; False when it would not read back the same."""
        t = self.t
        if item.problem or not isinstance(item.body, dict) or "@type" not in item.body:
            return False
        if not (self._named(item) or item.name == _body_name(t, item.body)):
            return False
        if t is _LISTENERS and item.state != State.STATIC:
            return self._listener(item)
        field = self.fields.get(item.state)
        if field is None:
            return False
        entry: Document = {"name": item.name} if t is _SECRETS else {}
        if item.version:
            entry["version_info"] = item.version
        entry[t.body] = [item.body] if t is _SCOPED else item.body
        if item.last_updated:
            entry["last_updated"] = item.last_updated
        self.lists.setdefault(field, []).append(entry)
        if item.state != State.STATIC and t is not _SCOPED and item.name:
            self.by_name.setdefault(item.name, entry)
        return True

    def _listener(self, item: model.Item) -> bool:
        slot = next(s for s, state in _LISTENER_STATES if state == item.state)
        entry = self.by_name.get(item.name)
        if entry is None or slot in entry or "error_state" in entry:
            entry = {"name": item.name}
            self.lists.setdefault("dynamic_listeners", []).append(entry)
            self.by_name[item.name] = entry
        state: Document = {"version_info": item.version} if item.version else {}
        state["listener"] = item.body
        if item.last_updated:
            state["last_updated"] = item.last_updated
        entry[slot] = state
        return True

    def join(self, item: model.Item) -> bool:
        """A rejected version: beside its accepted one, else (when it says its own name) an entry alone."""
        t = self.t
        if item.problem not in ("", NOT_SHOWN) or (item.problem == NOT_SHOWN) != (item.body is None):
            return False
        if item.body is not None and not (isinstance(item.body, dict) and "@type" in item.body):
            return False
        entry = self.by_name.get(item.name) if item.name else None
        if entry is None or "error_state" in entry:
            field = "dynamic_listeners" if t is _LISTENERS else self.fields.get(State.ACTIVE)
            if t is _SCOPED or field is None:
                return False
            if self._named(item):
                entry = {"name": item.name}
            elif item.body is not None and item.name == _body_name(t, item.body):
                entry = {}
            else:
                return False
            self.lists.setdefault(field, []).append(entry)
        error: Document = {}
        if item.body is not None:
            error["failed_configuration"] = item.body
        if item.last_updated:
            error["last_update_attempt"] = item.last_updated
        if item.error:
            error["details"] = item.error
        if item.version:
            error["version_info"] = item.version
        entry["error_state"] = error
        return True


def _other(item: model.Item) -> Document:
    out: Document = {"type_url": item.type_url, "name": item.name, "state": str(item.state)}
    for key, value in (
        ("version_info", item.version),
        ("last_updated", item.last_updated),
        ("error", item.error),
        ("problem", item.problem),
    ):
        if value:
            out[key] = value
    if item.body is not None:
        out["resource"] = item.body
    return out
