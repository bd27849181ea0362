"""Protocol verdicts: reads decoded xDS messages the way an xDS expert would, one stream at a time.

A pure fold (no I/O, no clocks): feed every message of a stream in order to
`StreamProtocol.observe` and get a `Verdict` per message saying what it was
(initial request, ACK, NACK, stale nonce, subscription change, push, TTL
heartbeat...) and which rule decided it, so a reader can check the reasoning.
The rules follow the xDS protocol documentation (XDS-NOTES 1.3): NACK is
`error_detail` first, and the version/nonce comparison only as a fallback for
clients that omit it; nonces are per stream; LDS and CDS responses carry the
full state, so a resource missing from one is deleted. A push is compared with
what Envoy holds: when Envoy NACKs the newest response it keeps what it had,
so the next push is compared with that, as REST polls are (state.rest).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Mapping
from typing import TypedDict

from xdsspy.decode import envelope

FULL_STATE_TYPES = frozenset(
    "type.googleapis.com/" + t
    for t in (
        "envoy.config.listener.v3.Listener",
        "envoy.config.cluster.v3.Cluster",
        "envoy.api.v2.Listener",
        "envoy.api.v2.Cluster",
    )
)
"""SotW types whose responses hold the whole set: absence means deletion (XDS-NOTES 1.3)."""


class VerdictKind(enum.StrEnum):
    INITIAL = "initial"  # first request for a type on this stream
    RECONNECT = "reconnect"  # first request, but carrying what Envoy already holds
    ACK = "ack"
    NACK = "nack"
    STALE = "stale"  # echoes a nonce older than the newest response: servers ignore it
    SUBSCRIPTION = "subscription_change"
    UNKNOWN_NONCE = "unknown_nonce"  # echoes a nonce this stream never carried
    PUSH = "push"
    HEARTBEAT = "heartbeat"  # TTL refresh: no resource changed
    POLL = "poll"  # REST: a poll with nothing served since the last one
    NOT_MODIFIED = "not_modified"  # REST: HTTP 304
    HTTP_ERROR = "http_error"  # REST: an answer other than 200/304, or a body that is no DiscoveryResponse
    OTHER = "other"  # not an xDS discovery message (LRS, CSDS, HDS, unknown methods)


@dataclasses.dataclass(slots=True)
class Verdict:
    """What one message was, and why xdsspy thinks so (`rule`).

    Treat it as immutable; not frozen for the reason `envelope.Envelope` gives (one per message).
    """

    kind: VerdictKind
    rule: str
    type_url: str = ""
    answers_seq: int | None = None  # request: the response it ACKs or NACKs
    latency_ms: float | None = None  # request: from that response to this answer
    error: str = ""  # NACK: the error_detail message
    nacked_names: tuple[str, ...] = ()  # NACK: resources the error names
    rejected_names: tuple[str, ...] = ()  # NACK: every resource of the rejected response
    subscribed: tuple[str, ...] = ()
    unsubscribed: tuple[str, ...] = ()
    wildcard: str = ""  # "explicit" ("*"), "legacy" (empty, never subscribed), or ""
    added: tuple[str, ...] = ()  # response: names new to this stream
    updated: tuple[str, ...] = ()  # response: names whose bytes changed
    removed: tuple[str, ...] = ()  # response: delta removals, or absent from a full-state response
    unchanged: int = 0  # response: resources resent byte-identical
    heartbeats: tuple[str, ...] = ()  # response: TTL refreshes without a body

    @property
    def is_nack(self) -> bool:
        return self.kind == VerdictKind.NACK

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"verdict": str(self.kind), "rule": self.rule}
        for key in (
            "answers_seq",
            "latency_ms",
            "error",
            "nacked_names",
            "rejected_names",
            "subscribed",
            "unsubscribed",
            "wildcard",
            "added",
            "updated",
            "removed",
            "heartbeats",
        ):
            value = getattr(self, key)
            if value or (key in ("answers_seq", "latency_ms") and value is not None):
                out[key] = list(value) if isinstance(value, tuple) else value
        if self.unchanged:
            out["unchanged"] = self.unchanged
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """What a response carries, read once for everyone who needs it (the verdict, the step, the fold):
    its resource names in order, the digest of each body, the names of TTL heartbeats (wrappers
    without a body), and the resources' own versions where they have one (delta, wrapped)."""

    names: tuple[str, ...]
    digests: Mapping[str, str]
    heartbeats: tuple[str, ...] = ()
    versions: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, resources: tuple[envelope.ResourceEntry, ...]) -> Offer:
        names: list[str] = []
        digests: dict[str, str] = {}
        heartbeats: list[str] = []
        versions: dict[str, str] = {}
        for entry in resources:
            name = entry.name
            names.append(name)
            if entry.heartbeat:
                heartbeats.append(name)
            else:
                digests[name] = entry.digest
            if entry.version:
                versions[name] = entry.version
        return cls(tuple(names), digests, tuple(heartbeats), versions)


NOTHING_OFFERED = Offer((), {})


class _Changes(TypedDict):
    subscribed: tuple[str, ...]
    unsubscribed: tuple[str, ...]
    wildcard: str


@dataclasses.dataclass(slots=True)
class SentResponse:
    """A response as the stream's client will judge it; `answered_by` is set once, by its first answer.

    Not frozen: every ACK pairs with its response, and a copy per pairing cost more than the rest of
    judging the ACK.
    """

    seq: int
    monotonic_ns: int
    nonce: str
    version: str
    names: tuple[str, ...]
    digests: Mapping[str, str]
    order: int  # position among this stream's responses of the type
    answered_by: int | None = None


@dataclasses.dataclass(slots=True)
class _TypeState:
    responses: dict[str, SentResponse] = dataclasses.field(default_factory=dict)
    newest_nonce: str = ""
    count: int = 0  # responses sent
    requests: int = 0
    names: frozenset[str] | None = None  # last requested names (SotW) / subscriptions (delta)
    asked: tuple[str, ...] | None = None  # SotW: resource_names exactly as last asked (most ACKs repeat them)
    ever_subscribed: bool = False
    held: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> digest Envoy holds, as sent
    held_before: dict[str, str] = dataclasses.field(default_factory=dict)  # `held` before the newest response


_NAME_CHARS = r"[\w.|:/-]"


def _mentions(text: str, name: str) -> bool:
    """Whether text names this resource as a whole word (Istio names hold dots, pipes and colons)."""
    # A trailing "." or ":" ends a sentence or a "name: error" pair unless a name character follows.
    if name not in text:  # most names of a rejected push are not in its error: no regex to build for them
        return False
    return _mention_pattern(name).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _mention_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!{_NAME_CHARS}){re.escape(name)}(?![\w|/-]|[.:][^\s])")


def type_url_of(decoded: envelope.Envelope) -> str:
    return decoded.type_url or decoded.method.implied_type_url


class StreamProtocol:
    """Verdicts for the messages of one stream; see the module docstring."""

    def __init__(self) -> None:
        self._types: dict[str, _TypeState] = {}
        self._by_nonce: dict[str, tuple[str, SentResponse]] = {}

    def _type_state(self, type_url: str) -> _TypeState:
        state = self._types.get(type_url)
        if state is None:  # not setdefault: a _TypeState built per message only to be dropped cost 1 us
            state = self._types[type_url] = _TypeState()
        return state

    def response_for(self, nonce: str) -> SentResponse | None:
        found = self._by_nonce.get(nonce)
        return found[1] if found else None

    def observe(
        self,
        seq: int,
        monotonic_ns: int,
        decoded: envelope.Envelope,
        offer: Offer | None = None,
    ) -> Verdict:
        """The verdict of the stream's next message; a response's `offer` when its resources come apart
        from `decoded` (Offer.of them)."""
        kind = decoded.kind
        if kind == envelope.Kind.SOTW_REQUEST:
            return self._sotw_request(decoded, seq, monotonic_ns)
        if kind == envelope.Kind.DELTA_REQUEST:
            return self._delta_request(decoded, seq, monotonic_ns)
        if kind in (envelope.Kind.SOTW_RESPONSE, envelope.Kind.DELTA_RESPONSE):
            return self._response(
                seq, monotonic_ns, decoded, Offer.of(decoded.resources) if offer is None else offer
            )
        return Verdict(VerdictKind.OTHER, f"{decoded.method.service or 'unknown'} message, not xDS discovery")

    # -- requests -----------------------------------------------------------------------------

    def _answer(self, decoded: envelope.Envelope, state: _TypeState) -> tuple[SentResponse | None, str]:
        """The response this request's nonce refers to, and "" or why the nonce is not current."""
        found = self._by_nonce.get(decoded.response_nonce)
        if found is None:
            return None, "unknown"
        response = found[1]
        if decoded.response_nonce != state.newest_nonce:
            return response, "stale"
        return response, ""

    def _pair(self, response: SentResponse, seq: int, request_mono: int, type_url: str) -> tuple[int, float]:
        """Remember that request seq answered response; returns (response seq, latency in ms)."""
        latency = (request_mono - response.monotonic_ns) / 1e6
        if response.answered_by is None:
            response.answered_by = seq
        return response.seq, round(latency, 3)

    def _nack(
        self,
        decoded: envelope.Envelope,
        response: SentResponse | None,
        type_url: str,
        seq: int,
        monotonic_ns: int,
        rule: str,
    ) -> Verdict:
        error = decoded.error_detail.message if decoded.error_detail else ""
        answers, latency = (None, None)
        rejected: tuple[str, ...] = ()
        named: tuple[str, ...] = ()
        if response is not None:
            answers, latency = self._pair(response, seq, monotonic_ns, type_url)
            rejected = response.names
            named = tuple(n for n in response.names if n and _mentions(error, n))
            state = self._types[type_url]
            if response.nonce == state.newest_nonce:
                # Envoy keeps what it had: the next response is an update to that, so a rejected
                # response served again reads as the change it still is, not as "+0 ~0 -0".
                state.held = state.held_before
        return Verdict(
            VerdictKind.NACK,
            rule,
            type_url,
            answers_seq=answers,
            latency_ms=latency,
            error=error,
            nacked_names=named,
            rejected_names=rejected,
        )

    def _sotw_request(self, decoded: envelope.Envelope, seq: int, monotonic_ns: int) -> Verdict:
        type_url = type_url_of(decoded)
        state = self._type_state(type_url)
        previous = state.names
        subscribed: tuple[str, ...]
        unsubscribed: tuple[str, ...]
        if decoded.resource_names == state.asked and previous is not None:
            names = previous  # the same list as last time: no set to build, nothing (un)subscribed
            subscribed = unsubscribed = ()
        else:
            names = frozenset(decoded.resource_names)
            subscribed = tuple(sorted(names - (previous or frozenset())))
            unsubscribed = tuple(sorted((previous or frozenset()) - names))
            state.asked = decoded.resource_names
        wildcard = ""
        if "*" in names:
            wildcard = "explicit"
        elif not names and not state.ever_subscribed:
            wildcard = "legacy"
        if names - {"*"}:
            state.ever_subscribed = True
        state.names = names
        changes = _Changes(subscribed=subscribed, unsubscribed=unsubscribed, wildcard=wildcard)
        if not decoded.response_nonce:
            if decoded.version_info:
                return Verdict(
                    VerdictKind.RECONNECT,
                    "no response_nonce but a version_info: a new stream of an Envoy that already "
                    "holds this type",
                    type_url,
                    **changes,
                )
            rule = "no response_nonce: first request for this type on the stream"
            if wildcard == "legacy":
                rule += " (empty resource_names: legacy wildcard)"
            return Verdict(VerdictKind.INITIAL, rule, type_url, **changes)
        response, staleness = self._answer(decoded, state)
        if decoded.error_detail is not None:
            rule = "error_detail present"
            if staleness == "stale":
                rule += " (its nonce is not the newest)"
            return dataclasses.replace(
                self._nack(decoded, response, type_url, seq, monotonic_ns, rule), **changes
            )
        if response is None:
            return Verdict(
                VerdictKind.UNKNOWN_NONCE,
                f"response_nonce {decoded.response_nonce!r} was never sent on this stream "
                "(the recording may have started mid-stream)",
                type_url,
                **changes,
            )
        if staleness == "stale":
            answers, latency = self._pair(response, seq, monotonic_ns, type_url)
            return Verdict(
                VerdictKind.STALE,
                f"nonce {decoded.response_nonce!r} is older than the newest response's "
                f"{state.newest_nonce!r}: servers ignore it",
                type_url,
                answers_seq=answers,
                latency_ms=latency,
                **changes,
            )
        first_answer = response.answered_by is None
        if not first_answer and (subscribed or unsubscribed):
            return Verdict(
                VerdictKind.SUBSCRIPTION,
                "current nonce already answered; resource_names changed",
                type_url,
                **changes,
            )
        if decoded.version_info == response.version:
            answers, latency = self._pair(response, seq, monotonic_ns, type_url)
            return Verdict(
                VerdictKind.ACK,
                "nonce of the newest response echoed with its version_info, no error_detail",
                type_url,
                answers_seq=answers,
                latency_ms=latency,
                **changes,
            )
        if subscribed or unsubscribed:
            return Verdict(
                VerdictKind.SUBSCRIPTION,
                "resource_names changed (version_info differs from the response, so no ACK is implied)",
                type_url,
                **changes,
            )
        rule = (
            f"no error_detail, but version_info {decoded.version_info!r} is not the version "
            f"{response.version!r} sent with this nonce (fallback rule for clients that omit error_detail)"
        )
        return dataclasses.replace(
            self._nack(decoded, response, type_url, seq, monotonic_ns, rule), **changes
        )

    def _delta_request(self, decoded: envelope.Envelope, seq: int, monotonic_ns: int) -> Verdict:
        type_url = type_url_of(decoded)
        state = self._type_state(type_url)
        subscribed = tuple(decoded.subscribe)
        unsubscribed = tuple(decoded.unsubscribe)
        wildcard = ""
        if "*" in subscribed:
            wildcard = "explicit"
        elif not subscribed and not state.ever_subscribed and state.names is None:
            wildcard = "legacy"
        first_request = state.requests == 0
        state.requests += 1
        current = set(state.names or ())
        current.update(subscribed)
        current.difference_update(unsubscribed)
        if set(subscribed) - {"*"}:
            state.ever_subscribed = True
        state.names = frozenset(current)
        changes = _Changes(subscribed=subscribed, unsubscribed=unsubscribed, wildcard=wildcard)
        if not decoded.response_nonce:
            if decoded.initial_resource_versions:
                return Verdict(
                    VerdictKind.RECONNECT,
                    f"no response_nonce, initial_resource_versions for "
                    f"{len(decoded.initial_resource_versions)} resource(s): a reconnect of an Envoy "
                    "that already holds them",
                    type_url,
                    **changes,
                )
            if first_request:
                rule = "no response_nonce: first request for this type on the stream"
                if wildcard == "legacy":
                    rule += " (empty subscribe list: implicit wildcard)"
                return Verdict(VerdictKind.INITIAL, rule, type_url, **changes)
            return Verdict(
                VerdictKind.SUBSCRIPTION,
                "subscribe/unsubscribe without a nonce (delta allows it at any time)",
                type_url,
                **changes,
            )
        response, staleness = self._answer(decoded, state)
        if decoded.error_detail is not None:
            return dataclasses.replace(
                self._nack(decoded, response, type_url, seq, monotonic_ns, "error_detail present"), **changes
            )
        if response is None:
            return Verdict(
                VerdictKind.UNKNOWN_NONCE,
                f"response_nonce {decoded.response_nonce!r} was never sent on this stream",
                type_url,
                **changes,
            )
        if response.answered_by is not None and (subscribed or unsubscribed):
            return Verdict(
                VerdictKind.SUBSCRIPTION,
                "nonce already answered; subscribe/unsubscribe changed (delta servers must honour it "
                "even with a stale nonce)",
                type_url,
                **changes,
            )
        answers, latency = self._pair(response, seq, monotonic_ns, type_url)
        if staleness == "stale":
            return Verdict(
                VerdictKind.STALE,
                f"nonce {decoded.response_nonce!r} is older than the newest response's "
                f"{state.newest_nonce!r}",
                type_url,
                answers_seq=answers,
                latency_ms=latency,
                **changes,
            )
        return Verdict(
            VerdictKind.ACK,
            "response_nonce echoed without error_detail",
            type_url,
            answers_seq=answers,
            latency_ms=latency,
            **changes,
        )

    # -- responses ----------------------------------------------------------------------------

    def _response(
        self,
        seq: int,
        monotonic_ns: int,
        decoded: envelope.Envelope,
        offer: Offer,
    ) -> Verdict:
        type_url = type_url_of(decoded)
        state = self._type_state(type_url)
        delta = decoded.kind == envelope.Kind.DELTA_RESPONSE
        heartbeats = offer.heartbeats
        digests = offer.digests
        held = state.held
        added_list: list[str] = []
        updated_list: list[str] = []
        unchanged = 0
        for name, digest in digests.items():
            before = held.get(name)
            if before is None:
                added_list.append(name)
            elif before == digest:
                unchanged += 1
            else:
                updated_list.append(name)
        added, updated = tuple(added_list), tuple(updated_list)
        removed: tuple[str, ...]
        if delta:
            removed = tuple(decoded.removed_resources)
            rule = "delta response"
        elif type_url in FULL_STATE_TYPES:
            # A heartbeat names a resource that stays: only names absent altogether are deleted.
            removed = tuple(n for n in state.held if n not in digests and n not in heartbeats)
            rule = "SotW full-state type: resources absent from the response are deleted"
        else:
            removed = ()
            rule = "SotW response (this type is not full-state: absence deletes nothing)"
        # A new dict each time: the one before stays as it was, for a NACK to go back to.
        state.held_before = state.held
        if delta or type_url not in FULL_STATE_TYPES:
            state.held = {**state.held, **digests}
            for name in removed:
                state.held.pop(name, None)
        else:
            state.held = {**{n: state.held[n] for n in heartbeats if n in state.held}, **digests}
        sent = SentResponse(
            seq=seq,
            monotonic_ns=monotonic_ns,
            nonce=decoded.nonce,
            version=decoded.version,
            names=offer.names,
            digests=digests,
            order=state.count,
        )
        state.count += 1
        if decoded.nonce:
            state.responses[decoded.nonce] = sent
            state.newest_nonce = decoded.nonce
            self._by_nonce[decoded.nonce] = (type_url, sent)
        if heartbeats and not digests and not removed:
            return Verdict(
                VerdictKind.HEARTBEAT,
                "every resource is a Resource wrapper without a body: a TTL refresh, not an update",
                type_url,
                heartbeats=heartbeats,
            )
        return Verdict(
            VerdictKind.PUSH,
            rule,
            type_url,
            added=added,
            updated=updated,
            removed=removed,
            unchanged=unchanged,
            heartbeats=heartbeats,
        )
