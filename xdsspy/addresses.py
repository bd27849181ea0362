"""Parsing of the listen and upstream addresses users type: HOST:PORT, [IPv6]:PORT, unix:PATH."""

from __future__ import annotations

import dataclasses
import ipaddress

from xdsspy import errors


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """A TCP host and port, or a Unix socket path (port is then 0)."""

    host: str = ""
    port: int = 0
    unix_path: str = ""

    @property
    def is_unix(self) -> bool:
        return bool(self.unix_path)

    @property
    def is_loopback(self) -> bool:
        if self.is_unix:
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def grpc_target(self) -> str:
        """The form grpcio accepts for both channels and server ports."""
        if self.is_unix:
            return f"unix:{self.unix_path}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def with_port(self, port: int) -> Address:
        return dataclasses.replace(self, port=port)

    def __str__(self) -> str:
        return self.grpc_target()


def parse(text: str, *, default_host: str = "127.0.0.1") -> Address:
    """Parse HOST:PORT, [IPv6]:PORT, :PORT (on default_host) or unix:PATH.

    A bare PORT is accepted too; it listens on default_host, which is loopback
    so that nothing is exposed unless the user names another interface.
    """
    text = text.strip()
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise errors.AddressError(f"{text!r}: unix: needs a socket path, e.g. unix:/tmp/xds.sock")
        return Address(unix_path=path)
    if text.isdigit():
        return Address(host=default_host, port=_port(text, text))
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1 :].startswith(":"):
            raise errors.AddressError(f"{text!r}: expected [IPv6]:PORT, e.g. [::1]:15010")
        host, port_text = text[1:close], text[close + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise errors.AddressError(f"{text!r}: expected HOST:PORT, [IPv6]:PORT or unix:PATH")
        if ":" in host:
            raise errors.AddressError(f"{text!r}: put IPv6 addresses in brackets, e.g. [{host}]:{port_text}")
    return Address(host=host or default_host, port=_port(port_text, text))


def _port(port_text: str, text: str) -> int:
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise errors.AddressError(f"{text!r}: the port must be a number from 0 to 65535")
    return int(port_text)
