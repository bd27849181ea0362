"""The gRPC side of a capture: Envoy's xDS connections relayed to one control plane, every stream recorded.

Every gRPC method passes, whatever its service or call shape (ADS SotW and
Delta, per-type services, Fetch*, LRS, HDS, CSDS, methods nobody has
invented yet), because nothing on the forwarding path reads them: the relay
moves each connection's bytes and the watcher records the streams it sees
in a copy (capture.relay, capture.watch).
"""

from __future__ import annotations

import dataclasses

from xdsspy.addresses import Address
from xdsspy.capture import relay
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import tlsconfig
from xdsspy.capture import watch

DEFAULT_MAX_MESSAGE_BYTES = 1 << 30
"""1 GiB: the largest message kept in a recording. Istio pushes for 10k+ clusters reach 100 MB and
more; a larger message is still forwarded, and the recording notes that it was left out."""


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyOptions:
    upstream: Address
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    upstream_tls: tlsconfig.ClientTls | None = None  # None: plaintext (h2c) to the control plane
    listen_tls: tlsconfig.ServerTls | None = None  # None: Envoy dials xdsspy in plaintext (h2c)


def _upstream(options: ProxyOptions) -> relay.Upstream:
    """Where the relay dials the control plane; over TLS (ALPN h2) when the options say so."""
    if options.upstream_tls is None or options.upstream.is_unix:
        return relay.Upstream(options.upstream)
    context = tlsconfig.client_context(options.upstream_tls)
    name = options.upstream_tls.server_name or options.upstream.host
    label = f"{options.upstream} (TLS as {name})"
    return relay.Upstream(
        options.upstream, tls={True: context, False: context}, server_hostname=name, label=label
    )


class GrpcProxy(relay.Relay):
    """Relays every connection to the control plane and publishes the streams on it."""

    def __init__(
        self,
        options: ProxyOptions,
        sink: sink_mod.Sink,
        stamper: sink_mod.Stamper,
        ids: sink_mod.Ids | None = None,
    ) -> None:
        ids = ids or sink_mod.Ids()  # shared with the REST proxy when both run, so ids stay unique
        make_watch = watch.factory(sink, stamper, ids, options.max_message_bytes)
        super().__init__(_upstream(options), make_watch, ids)
        if options.listen_tls is not None:
            self.listen_tls = tlsconfig.server_context(options.listen_tls)
