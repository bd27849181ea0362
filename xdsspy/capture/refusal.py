"""xdsspy's own answer when the control plane cannot be reached, in the protocol Envoy spoke.

Without xdsspy, Envoy would have failed to connect and retried after its
back-off. Through xdsspy its connection is accepted first, so xdsspy answers
each request as a gRPC server or HTTP server that is unavailable would:
UNAVAILABLE (grpc-status 14) on every HTTP/2 stream, 503 on an HTTP/1.1
request, with the reason (503 for a poll over h2c). Then it ends the connection (GOAWAY,
or `connection: close`), so Envoy's retry opens a new one and xdsspy tries
the control plane again.

h2 and h11 (python-hyper) speak the two protocols; speed does not matter here.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h11

from xdsspy.capture.h2_observer import PREFACE


class Refusal:
    """Feed it Envoy's bytes; it returns the bytes to answer with and says when to close."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.finished = False
        self._sniffed = b""
        self._h2: h2.connection.H2Connection | None = None
        self._http1: h11.Connection | None = None

    def feed(self, data: bytes) -> bytes:
        if self.finished:
            return b""
        if self._h2 is None and self._http1 is None:
            self._sniffed += data
            head = self._sniffed[: len(PREFACE)]
            if PREFACE.startswith(head) and len(head) < len(PREFACE):
                return b""
            data, self._sniffed = self._sniffed, b""
            if head == PREFACE:
                config = h2.config.H2Configuration(client_side=False, header_encoding=None)
                self._h2 = h2.connection.H2Connection(config=config)
                self._h2.initiate_connection()
            else:
                self._http1 = h11.Connection(h11.SERVER)
        if self._h2 is not None:
            return self._feed_h2(data)
        return self._feed_http1(data)

    def _feed_h2(self, data: bytes) -> bytes:
        assert self._h2 is not None
        conn = self._h2
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.finished = True
            return conn.data_to_send()
        answered = False
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = dict(event.headers or [])
                if headers.get(b"content-type", b"").startswith(b"application/grpc"):
                    conn.send_headers(
                        event.stream_id,
                        [
                            (b":status", b"200"),
                            (b"content-type", b"application/grpc"),
                            (b"grpc-status", b"14"),
                            (b"grpc-message", _percent_encode(f"xdsspy: {self.reason}")),
                        ],
                        end_stream=True,
                    )
                else:  # a REST poll over h2c
                    body = f"xdsspy: {self.reason}\n".encode()
                    conn.send_headers(
                        event.stream_id,
                        [
                            (b":status", b"503"),
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    )
                    conn.send_data(event.stream_id, body, end_stream=True)
                answered = True
        if answered:
            conn.close_connection()
            self.finished = True
        return conn.data_to_send()

    def _feed_http1(self, data: bytes) -> bytes:
        assert self._http1 is not None
        conn = self._http1
        try:
            conn.receive_data(data)
            while (event := conn.next_event()) is not h11.NEED_DATA:
                if isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                    break  # one whole request is enough to answer
        except h11.RemoteProtocolError:
            conn = _ready_to_answer()  # not a request h11 can read: answer all the same
        else:
            if event is h11.NEED_DATA:
                return b""
        self.finished = True
        body = f"xdsspy: {self.reason}\n".encode()
        headers = [
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(body))),
            ("connection", "close"),
        ]
        events = (
            h11.Response(status_code=503, headers=headers, reason=b"Service Unavailable"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        )
        return b"".join(conn.send(event) or b"" for event in events)


def _ready_to_answer() -> h11.Connection:
    """A server-side h11 connection that has read a request, for answering bytes that were none."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"POST / HTTP/1.1\r\nhost: xdsspy\r\ncontent-length: 0\r\n\r\n")
    while not isinstance(conn.next_event(), h11.EndOfMessage):
        pass
    return conn


def _percent_encode(text: str) -> bytes:
    """grpc-message is percent-encoded UTF-8 (gRPC's HTTP/2 spec)."""
    out = bytearray()
    for byte in text.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)
