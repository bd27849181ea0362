"""The demo's certificate and key belong together and stay valid for years."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from xdsspy.demo import material


def test_the_key_is_the_certificates_and_the_certificate_is_valid() -> None:
    cert = x509.load_pem_x509_certificate(material.CERT_PEM)
    key = serialization.load_pem_private_key(material.KEY_PEM, password=None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365 * 5)
