"""What a snapshot is: one Envoy's resources at one moment, from wherever they came, in /config_dump JSON.

A `Snapshot` is the common ground of every source (a point in a recording,
Envoy's admin `/config_dump`, istiod's `/debug/config_dump`, xdsspy's own
snapshot files) and of every consumer (`xdsspy snapshot`, `xdsspy diff`,
`bundle`). Resource types are v3 type URLs whatever the source spoke, so a
v2-era dump and a v3 recording sit side by side; bodies keep what the source
said (their own "@type"), and the diff decides what counts as the same.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

from xdsspy.decode import methods
from xdsspy.viewmodel import refs

CLUSTER, LISTENER, ROUTE, ENDPOINT, SECRET = (
    refs.CLUSTER,
    refs.LISTENER,
    refs.ROUTE,
    refs.ENDPOINT,
    refs.SECRET,
)
SCOPED_ROUTE, VIRTUAL_HOST, EXTENSION = refs.SCOPED_ROUTE, refs.VIRTUAL_HOST, refs.EXTENSION
RUNTIME = methods.TYPE_PREFIX + "envoy.service.runtime.v3.Runtime"

PLURALS: dict[str, str] = {
    CLUSTER: "clusters",
    LISTENER: "listeners",
    ROUTE: "routes",
    SCOPED_ROUTE: "scoped_routes",
    VIRTUAL_HOST: "virtual_hosts",
    ENDPOINT: "endpoints",
    SECRET: "secrets",
    EXTENSION: "extension_configs",
    RUNTIME: "runtimes",
}
"""How a type is named in a diff's paths (`clusters[outbound|9080||reviews].…`) and by --type."""

ORDER = (LISTENER, ROUTE, SCOPED_ROUTE, VIRTUAL_HOST, CLUSTER, ENDPOINT, SECRET, EXTENSION, RUNTIME)
"""The order types are printed in: Envoy's own dependency order, from listeners down."""

SHORT: dict[str, str] = {
    CLUSTER: "CDS",
    LISTENER: "LDS",
    ROUTE: "RDS",
    SCOPED_ROUTE: "SRDS",
    VIRTUAL_HOST: "VHDS",
    ENDPOINT: "EDS",
    SECRET: "SDS",
    EXTENSION: "ECDS",
    RUNTIME: "RTDS",
}


def plural(type_url: str) -> str:
    """`clusters`, `listeners`…; another type by its message's last name (`MyConfig`)."""
    return PLURALS.get(type_url) or type_url.rsplit(".", 1)[-1].rsplit("/", 1)[-1]


def type_order(type_url: str) -> tuple[int, str]:
    return (ORDER.index(type_url) if type_url in ORDER else len(ORDER), type_url)


class SourceKind(enum.StrEnum):
    """Where a snapshot came from; decides what it can know (static resources, endpoints, rejections)."""

    RECORDING = "recording"
    CONFIG_DUMP = "config_dump"  # Envoy's admin /config_dump
    ISTIOD = "istiod"  # istiod's /debug/config_dump?proxyID=…: what it would push
    SNAPSHOT = "snapshot"  # a file `xdsspy snapshot` wrote


class State(enum.StrEnum):
    """How the Envoy held a resource, in /config_dump's words."""

    STATIC = "static"  # from the bootstrap: no control plane sent it
    ACTIVE = "active"  # accepted and in use
    WARMING = "warming"  # accepted, waiting for its dependencies (EDS, SDS) before it is used
    DRAINING = "draining"  # a listener being replaced: on its way out
    REJECTED = "rejected"  # NACKED: the control plane sent it, Envoy refused it

    @property
    def accepted(self) -> bool:
        """What the Envoy applied (or is applying): the default content of a snapshot's comparison."""
        return self in (State.STATIC, State.ACTIVE, State.WARMING)


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    """One resource as the Envoy held it: its body is the JSON /config_dump prints, with "@type"."""

    type_url: str  # v3
    name: str
    body: Any
    state: State = State.ACTIVE
    version: str = ""
    last_updated: str = ""  # RFC 3339, "" when the source does not say
    error: str = ""  # REJECTED: Envoy's error_detail
    problem: str = ""  # why `body` is None: it could not be read

    @property
    def key(self) -> tuple[str, str, bool]:
        """What a diff matches items by: a rejected version is a resource of its own beside the accepted."""
        return (self.type_url, self.name, self.state == State.REJECTED)


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """One Envoy's configuration at one moment; see the module docstring."""

    source: str  # as the user named it: "run.xdsspy@17", "envoy-dump.json"
    kind: SourceKind
    items: tuple[Item, ...]
    node: str = ""
    at: str = ""  # RFC 3339 of the moment, "" when unknown
    seq: int | None = None  # the recording event it is the state after
    has_static: bool = False  # the source shows bootstrap (static) resources; a recording cannot
    has_endpoints: bool = True  # endpoints are in it: Envoy's /config_dump without ?include_eds has none
    envoy_version: str = ""
    istio_version: str = ""
    notes: tuple[str, ...] = ()  # what the source could not say or what was left out, one line each

    def selected(self, *, with_rejected: bool = False) -> list[Item]:
        """The accepted items (static, active, warming), and with `with_rejected` the NACKED ones too."""
        return [i for i in self.items if i.state.accepted or (with_rejected and i.state == State.REJECTED)]

    def types(self) -> list[str]:
        return sorted({i.type_url for i in self.items}, key=type_order)

    def with_items(self, items: Iterable[Item], *notes: str) -> Snapshot:
        return dataclasses.replace(self, items=tuple(items), notes=(*self.notes, *notes))
