"""Listeners: TCP and Unix sockets, TLS or not, hand every connection on; failed TLS handshakes are told."""

from __future__ import annotations

import asyncio
import pathlib
import socket
import ssl
from typing import Any

import pytest

from xdsspy import addresses
from xdsspy.capture import listeners
from xdsspy.testing import tls_material


class Echo(asyncio.Protocol):
    """Answers each connection with its peer name, as the listener handed it."""

    made: list[str]

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        name = self.peer or listeners.peer_name(transport.get_extra_info("peername"))
        transport.write(name.encode() + b"\n")
        transport.close()


def _factory(peer: str) -> Any:
    return lambda: Echo(peer)


async def _read_line(reader: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()


def test_peer_names_in_grpc_notation() -> None:
    assert listeners.peer_name(("127.0.0.1", 5000)) == "ipv4:127.0.0.1:5000"
    assert listeners.peer_name(("::1", 5000, 0, 0)) == "ipv6:[::1]:5000"
    assert listeners.peer_name("/run/xds.sock") == "unix:/run/xds.sock"
    assert listeners.peer_name("") == "unix:"


def test_tcp_and_unix_listeners_hand_on_each_connection(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "xds.sock")

    async def main() -> None:
        listening = listeners.Listeners(_factory)
        tcp, unix = await listening.start([addresses.parse("127.0.0.1:0"), addresses.parse(f"unix:{path}")])
        port = addresses.parse(tcp).port
        assert port > 0 and unix == f"unix:{path}"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await _read_line(reader)).startswith("ipv4:127.0.0.1:")
        writer.close()
        reader, writer = await asyncio.open_unix_connection(path)
        assert await _read_line(reader) == f"unix:{path}"
        writer.close()
        await listening.close()
        await listening.wait_closed()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    asyncio.run(main())
    assert (tmp_path / "xds.sock").stat().st_mode & 0o777 == 0o600


def test_a_stale_socket_file_is_replaced_a_live_one_and_other_files_are_kept(tmp_path: pathlib.Path) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(stale))
    listeners.remove_stale_socket(str(stale))
    assert not stale.exists()

    live = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as someone:
        someone.bind(str(live))
        someone.listen()
        with pytest.raises(OSError, match="another process is already listening there"):
            listeners.remove_stale_socket(str(live))
    plain = tmp_path / "plain"
    plain.write_text("not a socket")
    listeners.remove_stale_socket(str(plain))
    listeners.remove_stale_socket(str(tmp_path / "absent"))
    assert plain.read_text() == "not a socket"


def test_tls_connections_are_handed_on_after_the_handshake_and_failures_are_told(
    tmp_path: pathlib.Path,
) -> None:
    pki = tls_material.issue(str(tmp_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pki.cert, pki.key)
    client = ssl.create_default_context(cafile=pki.ca_cert)
    failures: list[tuple[str, OSError]] = []

    async def main() -> None:
        listening = listeners.Listeners(
            _factory, tls=server, on_handshake_failure=lambda peer, e: failures.append((peer, e))
        )
        (bound,) = await listening.start([addresses.parse("127.0.0.1:0")])
        port = addresses.parse(bound).port
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname="localhost"
        )
        assert (await _read_line(reader)).startswith("ipv4:127.0.0.1:")
        writer.close()

        # A TCP probe that closes before a word of TLS failed nothing.
        _, probe = await asyncio.open_connection("127.0.0.1", port)
        probe.close()
        # A client speaking plaintext to the TLS listener did.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        await asyncio.wait_for(reader.read(), 10)  # closed by the listener
        writer.close()
        for _ in range(200):  # bounded: the failure is told as the handshake task ends
            if failures:
                break
            await asyncio.sleep(0.01)
        await listening.close()
        await listening.wait_closed()

    asyncio.run(main())
    assert len(failures) == 1, failures
    peer, error = failures[0]
    assert peer.startswith("ipv4:127.0.0.1:") and isinstance(error, ssl.SSLError)
