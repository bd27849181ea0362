"""TLS for both legs of a gRPC capture: the contexts xdsspy uses towards each side, and why they failed.

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

A failed handshake is said naming the side and whose certificate was at
fault (`failure`): one xdsspy checked and refused gives OpenSSL's verify
message ("certificate has expired"); one the other side refused comes back
as the alert it sent ("certificate expired"), when it sends one (Envoy and
OpenSSL on a plain socket do; gRPC's C core and asyncio's TLS hang up
without one, and then only the peer itself can say why).
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


_NOT_TLS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
"""OpenSSL's reasons when the bytes that arrived were no TLS at all (h2c, say)."""


def failure(error: ssl.SSLError, *, downstream: bool) -> str:
    """A failed TLS exchange with Envoy (`downstream`) or the control plane, in words: "TLS: ..."."""
    verified = getattr(error, "verify_message", None)
    alert = _alert(error)
    refused = alert and ("certificate" in alert or alert in ("unknown ca", "access denied"))
    if not downstream:  # a verify message is about the control plane's certificate: the caller names it
        if refused:
            return f"TLS: the control plane refused xdsspy's certificate (--upstream-cert): alert {alert!r}"
        return f"TLS: {verified or (f'alert {alert!r}' if alert else error.reason or error)}"
    if verified:
        return f"TLS: Envoy's client certificate failed the check against --tls-client-ca: {verified}"
    if error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return "TLS: Envoy presented no client certificate, and --tls-client-ca asks for one"
    if error.reason in _NOT_TLS:
        return f"TLS: {error.reason.lower().replace('_', ' ')} (does Envoy dial xdsspy without TLS?)"
    if refused:
        return f"TLS: Envoy refused xdsspy's certificate (--tls-cert): alert {alert!r}"
    return f"TLS: {f'alert {alert!r}' if alert else error.reason or error}"


def _alert(error: ssl.SSLError) -> str:
    """The alert the other side ended the exchange with, as words ("certificate expired"), or ""."""
    head, alert, name = (error.reason or "").partition("_ALERT_")
    return name.lower().replace("_", " ") if alert and head in ("SSLV3", "TLSV1", "TLSV13") else ""
