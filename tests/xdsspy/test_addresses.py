"""Address parsing: the forms users type, and clear refusals."""

from __future__ import annotations

import pytest

from xdsspy import addresses
from xdsspy import errors


@pytest.mark.parametrize(
    ("text", "target", "loopback"),
    [
        ("127.0.0.1:15010", "127.0.0.1:15010", True),
        ("15010", "127.0.0.1:15010", True),
        (":15010", "127.0.0.1:15010", True),
        ("localhost:15010", "localhost:15010", True),
        ("[::1]:15010", "[::1]:15010", True),
        ("0.0.0.0:15010", "0.0.0.0:15010", False),
        ("istiod.istio-system.svc:15012", "istiod.istio-system.svc:15012", False),
        ("unix:/etc/istio/proxy/XDS", "unix:/etc/istio/proxy/XDS", True),
        ("unix:///tmp/x.sock", "unix:/tmp/x.sock", True),
    ],
)
def test_forms(text: str, target: str, loopback: bool) -> None:
    address = addresses.parse(text)
    assert address.grpc_target() == target
    assert address.is_loopback == loopback


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("::1:15010", "brackets"),
        ("[::1]15010", "[IPv6]:PORT"),
        ("host", "HOST:PORT"),
        ("host:99999", "0 to 65535"),
        ("host:http", "0 to 65535"),
        ("unix:", "socket path"),
    ],
)
def test_refusals_say_what_is_expected(text: str, hint: str) -> None:
    with pytest.raises(errors.AddressError, match=hint.replace("[", r"\[").replace("]", r"\]")):
        addresses.parse(text)
