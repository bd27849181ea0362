"""Protocol verdicts for REST polling (api_type REST), where there are no nonces and no NACKs.

Envoy polls each type (and, for EDS, each cluster) with a JSON
DiscoveryRequest carrying the version it last applied; the server answers 200
with a DiscoveryResponse or 304 when nothing changed. A rejected update is
only visible as the next poll still carrying the old version_info after a new
one was served (XDS-NOTES 1.3, REST), so that is the rule here. Polls arrive
on short-lived streams, often over new connections, so the state is keyed by
(node, type URL, requested names), not by stream.
"""

from __future__ import annotations

import dataclasses

from xdsspy.decode import envelope
from xdsspy.state import protocol

V = protocol.VerdictKind
PollKey = tuple[str, str, tuple[str, ...]]


@dataclasses.dataclass(slots=True)
class _Served:
    seq: int
    monotonic_ns: int
    version: str
    changed: tuple[str, ...]  # added or updated by this response: where a rejection's culprit is
    held_before: dict[str, str]  # what Envoy held before it: what it still holds if it rejects it


@dataclasses.dataclass(slots=True)
class _Series:
    """One poll series: what was last served, what Envoy last said it holds."""

    held: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> digest Envoy holds, or is served
    served: _Served | None = None  # a 200 not yet judged by a later poll
    polls: int = 0


class RestProtocol:
    """Verdicts for every REST poll of a recording (all nodes, all types)."""

    def __init__(self) -> None:
        self._series: dict[PollKey, _Series] = {}

    @staticmethod
    def key(node: str, decoded: envelope.Envelope, names: tuple[str, ...]) -> PollKey:
        return (node, protocol.type_url_of(decoded), tuple(sorted(names)))

    def request(
        self, key: PollKey, seq: int, monotonic_ns: int, decoded: envelope.Envelope
    ) -> protocol.Verdict:
        series = self._series.get(key) or self._series.setdefault(key, _Series())
        type_url = key[1]
        first = series.polls == 0
        series.polls += 1
        served, series.served = series.served, None
        if served is not None:
            latency = round((monotonic_ns - served.monotonic_ns) / 1e6, 3)
            if decoded.version_info == served.version:
                return protocol.Verdict(
                    V.ACK,
                    f"REST: this poll carries version {served.version!r}, the one the last 200 served: "
                    "Envoy applied it",
                    type_url,
                    answers_seq=served.seq,
                    latency_ms=latency,
                )
            # Envoy kept what it held: a control plane that serves the rejected version again (it sees
            # the old version_info at every poll) sends the same update again, culprit included.
            series.held = served.held_before
            return protocol.Verdict(
                V.NACK,
                f"REST: version {served.version!r} was served, but this poll still carries "
                f"{decoded.version_info!r}: Envoy rejected it (REST has no error_detail; Envoy's "
                "*.update_rejected stats and log say why)",
                type_url,
                answers_seq=served.seq,
                latency_ms=latency,
                rejected_names=served.changed,
            )
        if first:
            if decoded.version_info:
                return protocol.Verdict(
                    V.RECONNECT,
                    f"REST: first poll seen, already at version {decoded.version_info!r}",
                    type_url,
                )
            return protocol.Verdict(V.INITIAL, "REST: first poll, no version_info", type_url)
        return protocol.Verdict(
            V.POLL, f"REST: poll at version {decoded.version_info or '-'!r}, nothing served since", type_url
        )

    def response(
        self,
        key: PollKey,
        seq: int,
        monotonic_ns: int,
        decoded: envelope.Envelope,
        offer: protocol.Offer,
        http_status: int,
    ) -> protocol.Verdict:
        series = self._series.get(key) or self._series.setdefault(key, _Series())
        type_url = key[1]
        if http_status == 304:
            return protocol.Verdict(
                V.NOT_MODIFIED, "HTTP 304 Not Modified: nothing new for this version", type_url
            )
        if http_status != 200:
            return protocol.Verdict(
                V.HTTP_ERROR,
                f"HTTP {http_status}: Envoy counts a failed update attempt and keeps its config",
                type_url,
            )
        if decoded.problem:
            return protocol.Verdict(
                V.HTTP_ERROR,
                f"HTTP 200 but the body is not a DiscoveryResponse ({decoded.problem}): Envoy rejects it",
                type_url,
            )
        digests = offer.digests
        held_before = dict(series.held)
        added = tuple(n for n in digests if n not in series.held)
        updated = tuple(n for n, d in digests.items() if n in series.held and series.held[n] != d)
        unchanged = sum(1 for n, d in digests.items() if series.held.get(n) == d)
        if type_url in protocol.FULL_STATE_TYPES:
            removed = tuple(n for n in series.held if n not in digests)
            series.held = dict(digests)
            rule = "REST 200: full-state type, resources absent from the response are deleted"
        else:
            removed = ()
            series.held.update(digests)
            rule = "REST 200 response"
        series.served = _Served(
            seq, monotonic_ns, decoded.version, added + updated or tuple(digests), held_before
        )
        return protocol.Verdict(
            V.PUSH, rule, type_url, added=added, updated=updated, removed=removed, unchanged=unchanged
        )
