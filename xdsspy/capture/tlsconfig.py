"""TLS for the control plane's leg of a gRPC capture: the client context xdsspy dials it with.

Istio's agent reaches istiod over TLS on 15012 (mTLS with a workload
certificate, or TLS plus an `authorization: Bearer` JWT, which the relay
passes through untouched with every other header). xdsspy verifies the
control plane against `ca` (the system's CAs by default) under
`server_name` (the address's host by default), offers ALPN `h2`, and
presents `cert`/`key` when mTLS is asked for. Files are read once, when
the capture starts, so a bad path or a key that does not match its
certificate is one clear line before anything listens.
"""

from __future__ import annotations

import dataclasses
import ssl

from xdsspy import errors


@dataclasses.dataclass(frozen=True, slots=True)
class ClientTls:
    """How xdsspy dials a TLS control plane: CA file, optional client certificate and key, server name."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None


def client_context(tls: ClientTls) -> ssl.SSLContext:
    """A verifying client context offering ALPN h2; errors.XdsspyError naming the file at fault."""
    try:
        context = ssl.create_default_context(cafile=tls.ca)
    except (OSError, ssl.SSLError) as e:
        raise errors.XdsspyError(f"--upstream-ca {tls.ca}: cannot load CA certificates: {e}") from e
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if tls.cert or tls.key:
        if not (tls.cert and tls.key):
            raise errors.XdsspyError(
                "mTLS to the control plane needs both --upstream-cert and --upstream-key"
            )
        try:
            context.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as e:
            raise errors.XdsspyError(
                f"--upstream-cert {tls.cert} / --upstream-key {tls.key}: cannot load them: {e}"
            ) from e
    return context
