"""TLS for both legs of a gRPC capture: the context xdsspy dials the control plane with, and Envoy's.

Istio's agent reaches istiod over TLS on 15012 (mTLS with a workload
certificate, or TLS plus an `authorization: Bearer` JWT, which the relay
passes through untouched with every other header). xdsspy verifies the
control plane against `ca` (the system's CAs by default) under
`server_name` (the address's host by default), offers ALPN `h2`, and
presents `cert`/`key` when mTLS is asked for. Files are read once, when
the capture starts, so a bad path or a key that does not match its
certificate is one clear line before anything listens.

Envoy's leg: an Envoy whose xDS cluster dials TLS gets xdsspy's `cert`/`key`
(ALPN h2, and http/1.1 for REST), and with `client_ca` must present a
certificate that chains to it (mTLS). Both legs are watched in plaintext.
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


@dataclasses.dataclass(frozen=True, slots=True)
class ServerTls:
    """How Envoy dials xdsspy over TLS: xdsspy's certificate and key, and the CA of Envoys' certificates."""

    cert: str
    key: str
    client_ca: str | None = None


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """A server context for Envoy's leg (mTLS with `client_ca`); errors.XdsspyError names the bad file."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2", "http/1.1"])
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as e:
        raise errors.XdsspyError(f"--tls-cert {tls.cert} / --tls-key {tls.key}: cannot load them: {e}") from e
    if tls.client_ca:
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (OSError, ssl.SSLError) as e:
            raise errors.XdsspyError(
                f"--tls-client-ca {tls.client_ca}: cannot load CA certificates: {e}"
            ) from e
        context.verify_mode = ssl.CERT_REQUIRED
    return context
