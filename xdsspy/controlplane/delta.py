"""Delta (incremental) protocol logic for one ADS stream: per-type subscriptions and per-resource versions.

Rules (xds_protocol.rst, "Incremental xDS"): subscription changes are honoured
whatever the nonce; clusters and listeners are wildcard when the first
request subscribes to nothing (or to "*"); a response carries only resources
whose version differs from what the client holds, which starts from its
initial_resource_versions after a reconnect; deletions, and explicitly
subscribed names that do not exist, go in removed_resources. What a response
sends counts as held even if NACKed: re-sending the same rejected bytes would
only be rejected again, and any change gets a new version and is sent.
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
    names: set[str] = dataclasses.field(default_factory=set)
    held: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> version the client has
    told_absent: set[str] = dataclasses.field(default_factory=set)  # named, absent, and told so
    answered: bool = False  # a first response is due even if it has nothing in it
    sent: protocol.SentVersions = dataclasses.field(default_factory=protocol.SentVersions)

    def wants(self, name: str) -> bool:
        return self.wildcard or name in self.names


class DeltaStream:
    """One Delta ADS stream: feed it requests and pushes, send what it returns."""

    def __init__(self, store: store_mod.Store, nonces: Callable[[], str]) -> None:
        self._store = store
        self._nonces = nonces
        self._subscriptions: dict[str, _Subscription] = {}
        self.node_id: str | None = None

    def on_request(self, request: Any) -> protocol.Outcome:
        """Handle one DeltaDiscoveryRequest from the client."""
        node = protocol.node_id(request)
        if node is not None and self.node_id is None:
            self.node_id = node
        type_url: str = request.type_url
        nonce: str = request.response_nonce
        subscription = self._subscriptions.get(type_url)
        first = subscription is None
        if subscription is None:
            subscription = self._subscriptions[type_url] = _Subscription(
                held=dict(request.initial_resource_versions)
            )
        sent_version = subscription.sent.pop(nonce) if nonce else None
        if request.HasField("error_detail"):
            kind = protocol.RequestKind.NACK
        elif not nonce:
            kind = protocol.RequestKind.INITIAL
        elif sent_version is not None:
            kind = protocol.RequestKind.ACK
        else:
            kind = protocol.RequestKind.STALE
        changed = self._subscribe(
            subscription,
            type_url,
            first,
            list(request.resource_names_subscribe),
            list(request.resource_names_unsubscribe),
        )
        verdict = protocol.Verdict(
            kind,
            type_url,
            nonce,
            version=sent_version or "",
            error_code=request.error_detail.code,
            error_message=request.error_detail.message,
            subscription_changed=changed,
        )
        return protocol.Outcome(verdict, self._respond(type_url, subscription))

    def on_push(self, type_url: str) -> protocol.Outcome:
        """The store has a new version of type_url: send the client what changed for it, if anything."""
        subscription = self._subscriptions.get(type_url)
        if subscription is None:
            return protocol.Outcome(None)
        return protocol.Outcome(None, self._respond(type_url, subscription))

    @staticmethod
    def _subscribe(
        subscription: _Subscription, type_url: str, first: bool, subscribe: list[str], unsubscribe: list[str]
    ) -> bool:
        before = (subscription.wildcard, frozenset(subscription.names))
        if first and not subscribe and type_url in resources.LEGACY_WILDCARD_TYPES:
            subscription.wildcard = True
        for name in subscribe:
            if name == "*":
                subscription.wildcard = True
            else:
                subscription.names.add(name)
        for name in unsubscribe:
            if name == "*":
                subscription.wildcard = False
            else:
                subscription.names.discard(name)
            # The client drops what it unsubscribed from; if "*" still covers it, it must be sent again.
            subscription.held.pop(name, None)
            subscription.told_absent.discard(name)
        for name in [n for n in subscription.held if not subscription.wants(n)]:
            del subscription.held[name]
        return (subscription.wildcard, frozenset(subscription.names)) != before

    def _respond(self, type_url: str, subscription: _Subscription) -> tuple[Any, ...]:
        snapshot = self._store.get(type_url)
        if not snapshot.is_set:
            return ()  # nothing to serve yet: not even removals
        current = snapshot.resources
        updated = [
            r
            for r in current.values()
            if subscription.wants(r.name) and subscription.held.get(r.name) != r.version
        ]
        removed = [n for n in subscription.held if n not in current]
        removed += [
            n
            for n in sorted(subscription.names)
            if n not in current and n not in subscription.held and n not in subscription.told_absent
        ]
        if not updated and not removed and subscription.answered:
            return ()
        nonce = self._nonces()
        response = discovery_pb2.DeltaDiscoveryResponse(
            system_version_info=snapshot.version, type_url=type_url, nonce=nonce, removed_resources=removed
        )
        for resource in updated:
            entry = response.resources.add(name=resource.name, version=resource.version)
            entry.resource.type_url = type_url
            entry.resource.value = resource.value
            subscription.held[resource.name] = resource.version
            subscription.told_absent.discard(resource.name)
        for name in removed:
            subscription.held.pop(name, None)
            if name in subscription.names:
                subscription.told_absent.add(name)
        subscription.answered = True
        subscription.sent.add(nonce, snapshot.version)
        return (response,)
