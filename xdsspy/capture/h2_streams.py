"""The streams of one observed HTTP/2 connection, published as xdsspy events.

gRPC streams (content-type application/grpc) become StreamOpened, one
MessageSeen per message each way, ResponseHeadersSeen and StreamClosed with
the status from the trailers, as a gRPC proxy would have seen them. Discovery
polls over h2c (REST, `/v3/discovery:*`) become the same events a poll over
HTTP/1.1 does (see rest_events). Other streams pass unrecorded.

Only what the peers said is recorded: when a stream ends without trailers
(a reset, a lost connection), StreamClosed says who ended it and how.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
import zlib

from xdsspy import model
from xdsspy.capture import grpc_messages
from xdsspy.capture import rest_events
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Headers
from xdsspy.capture.h2_observer import Side
from xdsspy.grpc_status import Code

# HTTP/2 RST_STREAM error codes, and what a gRPC client reports for each (gRPC's HTTP/2 spec).
_RESET_AS_STATUS = {
    0x0: Code.INTERNAL,
    0x7: Code.UNAVAILABLE,
    0x8: Code.CANCELLED,
    0xB: Code.RESOURCE_EXHAUSTED,
    0xC: Code.PERMISSION_DENIED,
}
# HTTP status of a response without grpc-status, as gRPC clients map it.
_HTTP_AS_STATUS = {
    400: Code.INTERNAL,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.UNIMPLEMENTED,
    429: Code.UNAVAILABLE,
    502: Code.UNAVAILABLE,
    503: Code.UNAVAILABLE,
    504: Code.UNAVAILABLE,
}
_UINT32_MAX = 0xFFFFFFFF
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


@dataclasses.dataclass(slots=True)
class _GrpcStream:
    ident: int
    method: str
    request_encoding: str
    requests: grpc_messages.Assembler
    responses: grpc_messages.Assembler
    response_encoding: str = ""
    http_status: int = 0
    answered: bool = False  # response headers seen


@dataclasses.dataclass(slots=True)
class _Ignored:
    """A stream that is neither gRPC nor a poll: forwarded, not recorded."""


class StreamPublisher:
    """An h2_observer Listener that publishes the connection's gRPC streams and polls."""

    def __init__(self, context: sink_mod.ConnectionContext) -> None:
        self.context = context
        self._max = context.max_message_bytes
        self._streams: dict[int, _GrpcStream | rest_events.Poll | _Ignored] = {}

    # -- Listener -------------------------------------------------------------------------

    def on_headers(self, side: Side, stream_id: int, headers: Headers, end_stream: bool) -> None:
        stream = self._streams.get(stream_id)
        if side is Side.DOWNSTREAM:
            if stream is None:
                stream = self._open(stream_id, headers)
            if end_stream:
                self.on_end_stream(side, stream_id)
            return
        if stream is None or isinstance(stream, _Ignored):
            if end_stream:
                self._streams.pop(stream_id, None)  # an unrecorded stream is over: forget it
            return
        if isinstance(stream, rest_events.Poll):
            if not stream.answered:
                status = _http_status(headers)
                if status >= 200:  # 1xx answers are interim
                    stream.answer(status, _regular(headers))
            if end_stream:
                self._finish_poll(stream_id, stream)
            return
        if not stream.answered and not end_stream:
            stream.answered = True
            stream.http_status = _http_status(headers)
            stream.response_encoding = _value(headers, b"grpc-encoding").decode("latin-1")
            self._publish(
                model.ResponseHeadersSeen(
                    **self.context.stamp(),
                    **self.context.stream_ids(stream.ident),
                    metadata=_metadata(headers),
                    http_status=stream.http_status,
                    method=stream.method,
                )
            )
            return
        if end_stream:
            self._close_with_trailers(stream_id, stream, headers)

    def on_data(self, side: Side, stream_id: int, piece: memoryview) -> None:
        stream = self._streams.get(stream_id)
        if type(stream) is not _GrpcStream:  # called per DATA frame: the gRPC case checks first
            if isinstance(stream, rest_events.Poll):
                stream.body(side is Side.DOWNSTREAM, piece)
            return
        if side is Side.DOWNSTREAM:
            found = stream.requests.feed(piece)
            direction, encoding = model.Direction.REQUEST, stream.request_encoding
        else:
            found = stream.responses.feed(piece)
            direction, encoding = model.Direction.RESPONSE, stream.response_encoding
        for message in found:
            self._message(stream, direction, encoding, message)

    def on_end_stream(self, side: Side, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if isinstance(stream, _Ignored) and side is Side.UPSTREAM:
            self._streams.pop(stream_id, None)
        elif isinstance(stream, rest_events.Poll):
            if side is Side.DOWNSTREAM:
                stream.request_done()
            else:
                self._finish_poll(stream_id, stream)
        elif isinstance(stream, _GrpcStream) and side is Side.UPSTREAM:
            # A gRPC server always ends with trailers; DATA with END_STREAM is a broken response.
            code = _HTTP_AS_STATUS.get(stream.http_status, Code.UNKNOWN)
            self._close(
                stream_id,
                stream,
                code,
                "the control plane ended the stream without trailers",
                (),
                model.CloseCause.UPSTREAM,
            )

    def on_reset(self, side: Side, stream_id: int, error_code: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or isinstance(stream, _Ignored):
            self._streams.pop(stream_id, None)
            return
        who = "Envoy" if side is Side.DOWNSTREAM else "the control plane"
        cause = model.CloseCause.DOWNSTREAM if side is Side.DOWNSTREAM else model.CloseCause.UPSTREAM
        details = f"{who} reset the stream (HTTP/2 error code {error_code})"
        if isinstance(stream, rest_events.Poll):
            self._streams.pop(stream_id, None)
            stream.abandon(Code.CANCELLED if side is Side.DOWNSTREAM else Code.UNAVAILABLE, details, cause)
            return
        code = Code.CANCELLED if side is Side.DOWNSTREAM else _RESET_AS_STATUS.get(error_code, Code.INTERNAL)
        self._close(stream_id, stream, code, details, (), cause)

    def on_goaway(self, side: Side, last_stream_id: int, error_code: int, debug: bytes) -> None:
        who = "Envoy" if side is Side.DOWNSTREAM else "the control plane"
        if side is Side.UPSTREAM and self.context.unreachable:
            who = "xdsspy, answering for the unreachable control plane,"
        text = f"{who} sent GOAWAY (error code {error_code}, last stream {last_stream_id})"
        if debug:
            text += f": {debug.decode('utf-8', 'replace')}"
        self.context.note(model.NoteLevel.INFO, text)

    # -- the connection ended -------------------------------------------------------------

    def connection_ended(self, cause: model.CloseCause, details: str) -> None:
        """Close every stream still open, saying why."""
        for stream_id, stream in list(self._streams.items()):
            if isinstance(stream, _Ignored):
                continue
            code, why, text = self.context.ending(cause, details)
            if isinstance(stream, rest_events.Poll):
                stream.abandon(code, text, why)
                self._streams.pop(stream_id, None)
            else:
                self._close(stream_id, stream, code, text, (), why)
        self._streams.clear()

    # -- helpers --------------------------------------------------------------------------

    def _open(self, stream_id: int, headers: Headers) -> _GrpcStream | rest_events.Poll | _Ignored:
        path = _value(headers, b":path")
        content_type = _value(headers, b"content-type")
        stream: _GrpcStream | rest_events.Poll | _Ignored
        if content_type.startswith(b"application/grpc"):
            method = path.decode("latin-1")
            stream = _GrpcStream(
                ident=self.context.ids.new_stream(),
                method=method,
                request_encoding=_value(headers, b"grpc-encoding").decode("latin-1"),
                requests=grpc_messages.Assembler(self._max),
                responses=grpc_messages.Assembler(self._max),
            )
            self._publish(
                model.StreamOpened(
                    **self.context.stamp(),
                    **self.context.stream_ids(stream.ident),
                    transport=model.Transport.GRPC,
                    method=method,
                    peer=self.context.peer,
                    metadata=_metadata(headers),
                    timeout_seconds=_timeout(_value(headers, b"grpc-timeout")),
                )
            )
        elif rest_events.is_discovery_path(path):
            stream = rest_events.Poll(
                self.context,
                target=path,
                http_method=_value(headers, b":method").decode("latin-1"),
                http_version="2",
                headers=_as_http1(headers),
            )
            stream.open()
        else:
            stream = _Ignored()
        self._streams[stream_id] = stream
        return stream

    def _message(
        self,
        stream: _GrpcStream,
        direction: model.Direction,
        encoding: str,
        message: grpc_messages.Message | grpc_messages.Skipped,
    ) -> None:
        ids = self.context.stream_ids(stream.ident)
        if isinstance(message, grpc_messages.Skipped):
            self._note(
                ids,
                model.NoteLevel.WARNING,
                f"a {direction.value} message of {message.size} bytes was forwarded but not recorded: "
                f"over the limit of {self._max} bytes (--max-message-bytes)",
            )
            return
        raw = message.payload
        if message.compressed and encoding in ("", "identity"):
            self._note(
                ids,
                model.NoteLevel.WARNING,
                f"a {direction.value} message is flagged compressed but has no grpc-encoding; kept as sent",
            )
        elif message.compressed:
            try:
                raw = grpc_messages.decompress(raw, encoding, self._max)
            except grpc_messages.TooLarge:
                self._note(
                    ids,
                    model.NoteLevel.WARNING,
                    f"a compressed {direction.value} message inflates past the limit of {self._max} bytes"
                    " (--max-message-bytes); recorded as sent, compressed",
                )
            except (ValueError, OSError, EOFError, zlib.error) as e:
                self._note(
                    ids,
                    model.NoteLevel.WARNING,
                    f"a compressed {direction.value} message could not be decompressed ({e});"
                    " recorded as sent",
                )
        self._publish(
            model.MessageSeen(
                **self.context.stamp(), **ids, direction=direction, raw=raw, method=stream.method
            )
        )

    def _close_with_trailers(self, stream_id: int, stream: _GrpcStream, headers: Headers) -> None:
        status = _value(headers, b"grpc-status")
        number = _number(status)
        if number is not None:
            code = number
            details = urllib.parse.unquote(
                _value(headers, b"grpc-message").decode("latin-1"), errors="replace"
            )
        elif status:  # what a gRPC client makes of it: an unknown failure, not success
            code = Code.UNKNOWN
            details = f"grpc-status {status.decode('latin-1')!r} is not a status code"
        else:
            http = stream.http_status or _http_status(headers)
            code = _HTTP_AS_STATUS.get(http, Code.UNKNOWN)
            details = f"no grpc-status in the trailers (HTTP status {http})"
        trailers = tuple((k, v) for k, v in _metadata(headers) if k not in ("grpc-status", "grpc-message"))
        cause = model.CloseCause.UPSTREAM
        if self.context.unreachable:  # the trailers were xdsspy's own
            cause = model.CloseCause.UPSTREAM_UNAVAILABLE
        self._close(stream_id, stream, code, details, trailers, cause)

    def _close(
        self,
        stream_id: int,
        stream: _GrpcStream,
        code: int,
        details: str,
        trailers: model.Metadata,
        cause: model.CloseCause,
    ) -> None:
        self._streams.pop(stream_id, None)
        ids = self.context.stream_ids(stream.ident)
        for direction, assembler in (
            (model.Direction.REQUEST, stream.requests),
            (model.Direction.RESPONSE, stream.responses),
        ):
            if assembler.partial_bytes:
                self._note(
                    ids,
                    model.NoteLevel.WARNING,
                    f"the stream ended inside a {direction.value} message:"
                    f" {assembler.partial_bytes} bytes of it passed",
                )
        self._publish(
            model.StreamClosed(
                **self.context.stamp(),
                **ids,
                code=code,
                details=details,
                trailers=trailers,
                cause=cause,
                method=stream.method,
            )
        )

    def _finish_poll(self, stream_id: int, poll: rest_events.Poll) -> None:
        self._streams.pop(stream_id, None)
        poll.response_done()

    def _note(self, ids: model.StreamIds, level: model.NoteLevel, text: str) -> None:
        self.context.note(level, text, ids["stream"])

    def _publish(self, event: model.Event) -> None:
        self.context.publish(event)


def _value(headers: Headers, name: bytes) -> bytes:
    for key, value in headers:
        if key == name:
            return value
    return b""


def _number(text: bytes) -> int | None:
    """A status header's number (grpc-status, :status); None unless it is ASCII digits within the 32 bits
    a recording stores (int() would also take "-1", " 1_0 " and 5,000 digits, and fail on more)."""
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if value <= _UINT32_MAX else None


def _http_status(headers: Headers) -> int:
    """The :status of a response's headers; 0 when it is missing or not a number."""
    return _number(_value(headers, b":status")) or 0


def _regular(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if not k.startswith(b":")]


def _as_http1(headers: Headers) -> Headers:
    """A poll's request headers as HTTP/1.1 would carry them: :authority is the Host header."""
    authority = _value(headers, b":authority")
    return ([(b"host", authority)] if authority else []) + _regular(headers)


def _metadata(headers: Headers) -> model.Metadata:
    """Regular headers as gRPC metadata: names as text, '-bin' values base64-decoded as grpcio gives them."""
    out: list[tuple[str, bytes]] = []
    for key, value in headers:
        if key.startswith(b":"):
            continue
        name = key.decode("latin-1")
        if name.endswith("-bin"):
            if value.startswith(b"\0"):  # grpc's "true binary" form, between peers that both allow it
                out.append((name, value[1:]))
                continue
            try:
                value = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
            except ValueError:
                pass
        out.append((name, value))
    return tuple(out)


def _timeout(text: bytes) -> float:
    if len(text) < 2:
        return 0.0
    unit = _TIMEOUT_UNITS.get(chr(text[-1]))
    if unit is None or not text[:-1].isdigit() or len(text) > 9:  # gRPC allows 8 digits at most
        return 0.0
    return int(text[:-1]) * unit
