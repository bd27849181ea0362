"""The REST side of a capture: Envoy's polling (api_type REST) relayed to a control plane, each poll recorded.

With `api_type: REST` Envoy POSTs a JSON DiscoveryRequest to
`/v3/discovery:<type>` (or `/v2/...`) every refresh_delay and gets a JSON
DiscoveryResponse back, or 304 when nothing changed. The relay forwards the
connection unchanged, HTTP/1.1 or h2c alike (capture.relay); the watcher
publishes each poll as one stream (capture.rest_events), the same events a
gRPC call produces, so one recording holds a mixed deployment. Other paths
pass unrecorded. Bodies stay bytes: the decoder parses JSON in another
process.

The upstream may be https://: xdsspy then speaks TLS to the control plane
(verified against the system's CAs or --rest-ca) and plain HTTP to Envoy.
"""

from __future__ import annotations

import dataclasses
import ssl
import urllib.parse
from collections.abc import Sequence

from xdsspy import errors
from xdsspy.addresses import Address
from xdsspy.capture import relay
from xdsspy.capture import sink as sink_mod
from xdsspy.capture import watch

DEFAULT_MAX_BODY_BYTES = 1 << 30
"""1 GiB, like the gRPC message limit: the largest body kept in a recording (larger ones still pass)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RestProxyOptions:
    upstream: str  # http://HOST:PORT or https://HOST:PORT
    ca_file: str | None = None  # trust these CAs for an https upstream instead of the system's
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def parse_upstream(url: str) -> str:
    """Check an upstream URL (http:// or https://, a host, an optional port, no path) and normalise it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise errors.AddressError(f"{url!r}: the REST upstream must start with http:// or https://")
    try:
        port = parts.port
    except ValueError as e:
        raise errors.AddressError(f"{url!r}: {e}") from e
    if not parts.hostname:
        raise errors.AddressError(f"{url!r}: the REST upstream needs a host, e.g. http://127.0.0.1:8080")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise errors.AddressError(
            f"{url!r}: give only scheme, host and port; Envoy's request paths are forwarded as they are"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def upstream_for(url: str, ca_file: str | None) -> relay.Upstream:
    """Where and how to connect for a normalised upstream URL."""
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    assert parts.hostname is not None
    address = Address(host=parts.hostname, port=parts.port or (443 if tls else 80))
    contexts = None
    if tls:
        contexts = {}
        for http2, alpn in ((False, "http/1.1"), (True, "h2")):
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as e:
                raise errors.XdsspyError(f"cannot load the CA certificates in {ca_file}: {e}") from e
            context.set_alpn_protocols([alpn])
            contexts[http2] = context
    return relay.Upstream(address, tls=contexts, server_hostname=parts.hostname, label=url)


class RestProxy(relay.Relay):
    """Relays HTTP connections to one upstream URL and publishes every xDS poll that passes."""

    def __init__(
        self,
        options: RestProxyOptions,
        sink: sink_mod.Sink,
        stamper: sink_mod.Stamper,
        ids: sink_mod.Ids | None = None,
    ) -> None:
        url = parse_upstream(options.upstream)
        ids = ids or sink_mod.Ids()  # shared with the gRPC proxy when both run
        make_watch = watch.factory(sink, stamper, ids, options.max_body_bytes)
        super().__init__(upstream_for(url, options.ca_file), make_watch, ids)

    async def start(self, listen: Sequence[Address]) -> list[str]:
        """Bind every listen address; returns them as http:// URLs."""
        return [f"http://{bound}" for bound in await super().start(listen)]
