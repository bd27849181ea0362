"""Remembers each stream's node, because Envoy may send it only in the first request.

With `set_node_on_first_message_only` (Istio's default bootstrap sets it) every
later request of a stream has no `node`; consumers that want to know which
Envoy a NACK came from need the one seen first. Keyed by (connection, stream),
the ids the capture layer gives every event.
"""

from __future__ import annotations

import dataclasses

from xdsspy.decode import envelope

StreamKey = tuple[int, int]
"""(connection, stream) as in `model.EventBase`."""


class NodeMemory:
    """The last node seen per stream; fills it into envelopes that lack one."""

    def __init__(self) -> None:
        self._nodes: dict[StreamKey, envelope.Node] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def observe(self, key: StreamKey, decoded: envelope.Envelope) -> envelope.Envelope:
        """Remember `decoded.node` if present, else return a copy carrying the remembered node.

        Responses get the node too, so every message of a stream can be attributed
        to its Envoy; `node_from_stream` says the node was not in these bytes.
        """
        if decoded.node is not None:
            self._nodes[key] = decoded.node
            return decoded
        remembered = self._nodes.get(key)
        if remembered is None:
            return decoded
        return dataclasses.replace(decoded, node=remembered, node_from_stream=True)

    def remember(self, key: StreamKey, node: envelope.Node) -> None:
        """Remember the node a request of this stream carried (what `observe` does, without a copy)."""
        self._nodes[key] = node

    def get(self, key: StreamKey) -> envelope.Node | None:
        return self._nodes.get(key)

    def forget(self, key: StreamKey) -> None:
        """Drop a closed stream's node (nonces and nodes do not survive reconnects)."""
        self._nodes.pop(key, None)
