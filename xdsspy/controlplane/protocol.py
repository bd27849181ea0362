"""What the per-stream protocol logic (SotW or Delta) decides: the kind of each request and what to send.

The logic itself is sans-I/O (sotw.py, delta.py): it takes parsed requests
and store snapshots and returns an Outcome, so every protocol rule can be
tested without a socket; ads.py does the I/O and the journal keeps the verdicts.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import itertools
import secrets
from typing import Any


class RequestKind(enum.StrEnum):
    INITIAL = "initial"  # no response_nonce: a first request for the type (also after a reconnect)
    ACK = "ack"  # names a response we sent, without error_detail
    NACK = "nack"  # carries error_detail: the response it names was rejected
    STALE = "stale"  # names a response that is not the newest (SotW) or one we never sent


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """How one request was understood."""

    kind: RequestKind
    type_url: str
    nonce: str
    version: str  # ACK/NACK: the version of the response the nonce names ("" if unknown)
    request_version: str = ""  # SotW version_info: on a NACK, the last version the client accepted
    error_code: int = 0
    error_message: str = ""
    subscription_changed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict | None  # None when a push, not a request, caused the outcome
    responses: tuple[Any, ...] = ()  # DiscoveryResponse or DeltaDiscoveryResponse messages, in order


class Nonces:
    """Fresh nonces for one control plane: a random prefix per instance, then a counter.

    The prefix keeps nonces from a restarted control plane from matching ones a
    client remembers from before, which would make it look like an ACK.
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(3)
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


class SentVersions:
    """The version of each recent nonce sent for one type on one stream (bounded, oldest dropped)."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._versions: collections.OrderedDict[str, str] = collections.OrderedDict()

    def add(self, nonce: str, version: str) -> None:
        self._versions[nonce] = version
        while len(self._versions) > self._limit:
            self._versions.popitem(last=False)

    def get(self, nonce: str) -> str | None:
        return self._versions.get(nonce)

    def pop(self, nonce: str) -> str | None:
        return self._versions.pop(nonce, None)


def node_id(request: Any) -> str | None:
    """The node id a request carries, or None when it has no node (allowed after the first)."""
    if request.HasField("node"):
        return str(request.node.id)
    return None
