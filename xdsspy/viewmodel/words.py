"""How xdsspy names things in plain text: types, nodes, sizes, latencies, verdicts; shared by every front end.

The one copy of each naming rule, free of rich and textual: `frontends.render`
colours these words, the view model's detail, filters and saving use them bare,
and `configdiff` shortens values with the same rule.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from xdsspy import timefmt
from xdsspy.decode import methods
from xdsspy.state import protocol

V = protocol.VerdictKind

ARROWS = {"request": "→", "response": "←"}
"""Read with the node on the left: "node →" is Envoy sending, "node ←" is Envoy receiving."""

VERDICT_LABELS = {
    V.INITIAL: "INITIAL",
    V.RECONNECT: "RECONNECT",
    V.ACK: "ACK",
    V.NACK: "NACK",
    V.STALE: "STALE",
    V.SUBSCRIPTION: "SUBSCRIBE",
    V.UNKNOWN_NONCE: "NONCE?",
    V.PUSH: "PUSH",
    V.HEARTBEAT: "HEARTBEAT",
    V.POLL: "POLL",
    V.NOT_MODIFIED: "304",
    V.HTTP_ERROR: "HTTP ERR",
    V.OTHER: "",
}
ERROR_WIDTH = 300
"""NACK errors longer than this are cut on one-line views (Envoy lists every failing resource)."""
NAMES_SHOWN = 5


def shorten(text: str, width: int) -> str:
    """Keep the head and the tail, which is where nonces and versions differ (UUIDs, counters)."""
    if len(text) <= width:
        return text
    if width < 3:
        return text[:width]
    tail = (width - 1) // 2
    return f"{text[: width - 1 - tail]}…{text[len(text) - tail :]}"


@functools.lru_cache(maxsize=1024)
def _clock_second(seconds: int) -> str:
    return timefmt.clock(seconds * 1_000_000_000)[:8]


def clock(wall_ns: int) -> str:
    """Local time of day with milliseconds (latencies are shown apart, in ms)."""
    seconds, nanos = divmod(wall_ns, 1_000_000_000)
    return f"{_clock_second(seconds)}.{nanos // 1_000_000:03d}"


def size_text(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def latency_text(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def type_name(type_url: str) -> str:
    """The message name of a type URL: "envoy.config.cluster.v3.Cluster"."""
    return type_url[type_url.rfind("/") + 1 :]


def is_v2(name: str) -> bool:
    """Whether a message name (not a type URL) is of Envoy's v2 API, which decodes differently."""
    return name.startswith("envoy.api.v2.") or ".v2." in name


def short_type(type_url: str) -> str:
    """Cluster, Listener, ClusterLoadAssignment...; v2 types say so, since they decode differently."""
    name = type_name(type_url)
    short = name[name.rfind(".") + 1 :]
    if is_v2(name):
        short += "(v2)"
    return short


def short_node(node: str) -> str:
    """Istio's "sidecar~IP~POD.NS~NS.svc.cluster.local" is known by its POD.NS; other ids as they are."""
    parts = node.split("~")
    if len(parts) == 4 and parts[2]:
        return parts[2]
    return node


def method_label(method: str) -> str:
    """A method as people name it: "ADS StreamAggregatedResources", "LRS StreamLoadStats", "CDS /v3/..."."""
    info = methods.classify(method) if method else None
    if info is None or not info.service:
        return method or "?"
    version = " v2" if info.api_version == "v2" else ""
    if info.rest:
        return f"{info.service}{version} {method}"
    return f"{info.service}{version} {method[method.rfind('/') + 1 :]}"


def names_text(names: Sequence[str], limit: int = NAMES_SHOWN) -> str:
    shown = ", ".join(n or '""' for n in names[:limit])
    return shown + (f" … +{len(names) - limit} more" if len(names) > limit else "")


def one_line(text: str) -> str:
    """Envoy's NACK messages hold newlines and runs of spaces; a timeline line must not."""
    return " ".join(text.split())


def nack_error(nack: protocol.Verdict) -> str:
    """A NACK's error on one line; where Envoy sent none (REST, the version rule), why there is none."""
    return one_line(nack.error) or (
        "(REST: the next poll kept the old version)"
        if nack.rule.startswith("REST")
        else "(no error_detail: version not taken)"
    )


def rejected_names(nack: protocol.Verdict, push: protocol.Verdict | None) -> tuple[str, ...]:
    """Which resources a NACK is about: those its error names, else those the rejected push changed.

    Envoy rejects a whole update, but the culprit is among what changed: resources resent
    byte-identical were accepted before (the tracker marks only the changed ones NACKED too).
    """
    if nack.nacked_names:
        return nack.nacked_names
    if push is not None and (push.added or push.updated):
        return push.added + push.updated
    return nack.rejected_names
