"""State-of-the-world protocol logic for one ADS stream: subscriptions, ACK/NACK/stale, what to send.

Rules (xds_protocol.rst; Istio's ShouldRespond): a request with error_detail
is a NACK and gets no answer; one naming an older nonce than the newest sent
is stale and ignored; a first request, or a change of subscription, is
answered with the current state. Clusters and listeners are wildcard when the
client never named one (or names "*"), and every answer holds the whole
state of what the client subscribed to, so a missing resource means deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import protocol
from xdsspy.controlplane import resources
from xdsspy.controlplane import store as store_mod


@dataclasses.dataclass(slots=True)
class _Subscription:
    wildcard: bool = False
    names: frozenset[str] = frozenset()
    ever_named: bool = False  # once a name was asked for, an empty list means "none", not "all"
    last_nonce: str = ""
    last_version: str = ""
    sent: protocol.SentVersions = dataclasses.field(default_factory=protocol.SentVersions)

    def wants(self, name: str) -> bool:
        return self.wildcard or name in self.names


class SotwStream:
    """One SotW ADS stream: feed it requests and pushes, send what it returns."""

    def __init__(self, store: store_mod.Store, nonces: Callable[[], str]) -> None:
        self._store = store
        self._nonces = nonces
        self._subscriptions: dict[str, _Subscription] = {}
        self.node_id: str | None = None

    def on_request(self, request: Any) -> protocol.Outcome:
        """Handle one DiscoveryRequest from the client."""
        node = protocol.node_id(request)
        if node is not None and self.node_id is None:
            self.node_id = node
        type_url: str = request.type_url
        nonce: str = request.response_nonce
        subscription = self._subscriptions.get(type_url)
        if request.HasField("error_detail"):
            return protocol.Outcome(
                protocol.Verdict(
                    protocol.RequestKind.NACK,
                    type_url,
                    nonce,
                    version=(subscription.sent.get(nonce) if subscription else None) or "",
                    request_version=request.version_info,
                    error_code=request.error_detail.code,
                    error_message=request.error_detail.message,
                )
            )
        if (
            subscription is not None
            and nonce
            and subscription.last_nonce
            and nonce != subscription.last_nonce
        ):
            # The client will repeat its subscription when it answers the newest response.
            return protocol.Outcome(
                protocol.Verdict(
                    protocol.RequestKind.STALE,
                    type_url,
                    nonce,
                    version=subscription.sent.get(nonce) or "",
                    request_version=request.version_info,
                )
            )
        initial = not nonce or subscription is None or not subscription.last_nonce
        if subscription is None:
            subscription = self._subscriptions[type_url] = _Subscription()
        changed = self._subscribe(subscription, type_url, list(request.resource_names))
        verdict = protocol.Verdict(
            protocol.RequestKind.INITIAL if initial else protocol.RequestKind.ACK,
            type_url,
            nonce,
            version="" if initial else subscription.sent.get(nonce) or "",
            request_version=request.version_info,
            subscription_changed=changed,
        )
        if initial or changed:
            return protocol.Outcome(verdict, self._respond(type_url, subscription, force=True))
        return protocol.Outcome(verdict)

    def on_push(self, type_url: str) -> protocol.Outcome:
        """The store has a new version of type_url: send it to the client if it subscribed."""
        subscription = self._subscriptions.get(type_url)
        if subscription is None or not (subscription.wildcard or subscription.names):
            return protocol.Outcome(None)
        return protocol.Outcome(None, self._respond(type_url, subscription, force=False))

    @staticmethod
    def _subscribe(subscription: _Subscription, type_url: str, names: list[str]) -> bool:
        before = (subscription.wildcard, subscription.names)
        explicit = frozenset(n for n in names if n != "*")
        if "*" in names:
            subscription.wildcard = True
        else:
            legacy = type_url in resources.LEGACY_WILDCARD_TYPES and not names and not subscription.ever_named
            subscription.wildcard = legacy
        subscription.names = explicit
        subscription.ever_named = subscription.ever_named or bool(explicit)
        return (subscription.wildcard, subscription.names) != before

    def _respond(self, type_url: str, subscription: _Subscription, *, force: bool) -> tuple[Any, ...]:
        snapshot = self._store.get(type_url)
        if not snapshot.is_set:
            return ()  # nothing to serve yet: the client waits, as with any control plane
        if not force and snapshot.version == subscription.last_version:
            return ()  # already sent this version (several pushes were queued)
        nonce = self._nonces()
        response = discovery_pb2.DiscoveryResponse(
            version_info=snapshot.version, type_url=type_url, nonce=nonce
        )
        for resource in snapshot.resources.values():
            if subscription.wants(resource.name):
                packed = response.resources.add()
                packed.type_url = type_url
                packed.value = resource.value
        subscription.last_nonce = nonce
        subscription.last_version = snapshot.version
        subscription.sent.add(nonce, snapshot.version)
        return (response,)
