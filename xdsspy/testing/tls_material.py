"""Fresh keys and certificates for tests: a secret that must never leak, and a CA with a leaf for TLS.

Needs the `cryptography` package (a test dependency). The keys are EC P-256
keys, which Envoy accepts in an SDS `TlsCertificate`. `make()` gives a
self-signed one whose `leak_markers` are the pieces of it a leak would show in
any output: a line of its PEM body, and the start of the PEM's base64 (how JSON
prints a `bytes` field such as `inline_bytes`). `issue()` writes a CA and a
certificate it signed as PEM files, valid for a day or, with `expired`,
expired since yesterday (for the errors a TLS peer must report).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclasses.dataclass(frozen=True, slots=True)
class Material:
    key_pem: bytes
    cert_pem: bytes

    @property
    def leak_markers(self) -> tuple[str, ...]:
        """Texts that appear in an output only if the private key leaked into it."""
        body = [line for line in self.key_pem.decode().splitlines() if not line.startswith("-----")]
        # The first body line is mostly the fixed ASN.1 prefix of every P-256 key; the second is secret.
        start = self.key_pem.index(body[1].encode()) // 3 * 3 + 3
        return (body[1][:40], base64.b64encode(self.key_pem).decode()[start * 4 // 3 :][:60])

    def leaked_in(self, text: str | bytes) -> bool:
        data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return any(marker in data for marker in self.leak_markers)


def make(common_name: str = "xdsspy-test") -> Material:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Material(key_pem, cert.public_bytes(serialization.Encoding.PEM))


@dataclasses.dataclass(frozen=True, slots=True)
class Pki:
    """A CA and a certificate it signed, as PEM files in `directory`."""

    ca_cert: str
    cert: str
    key: str


def issue(
    directory: str,
    names: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
    prefix: str = "",
    *,
    expired: bool = False,
) -> Pki:
    """A fresh CA, and a certificate for `names` and `ips` signed by it; written as PEM files.

    With `expired`, the certificate's validity ended a day ago (the CA's has not), so a peer that
    checks it fails on its date and nothing else."""
    import ipaddress
    import os

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{prefix}xdsspy test CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=1)
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "leaf")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - datetime.timedelta(days=1, minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {}
    for name, data in (
        ("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
        ("cert.pem", cert.public_bytes(serialization.Encoding.PEM)),
        (
            "key.pem",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        ),
    ):
        path = os.path.join(directory, prefix + name)
        with open(path, "wb") as f:
            f.write(data)
        paths[name] = path
    return Pki(paths["ca.pem"], paths["cert.pem"], paths["key.pem"])
