"""What watches one relayed connection: HTTP/2 or HTTP/1.1, chosen by Envoy's first bytes.

The watcher sits beside the forwarding path and must never disturb it: if
the bytes stop making sense (not HTTP, a bug of ours), it says so once in
the recording, closes the streams it had open, and from then on only counts
bytes. Forwarding is the relay's job and goes on regardless.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsspy import model
from xdsspy.capture import h2_observer
from xdsspy.capture import h2_streams
from xdsspy.capture import http1_observer
from xdsspy.capture import sink as sink_mod
from xdsspy.capture.h2_observer import Side

_PREFACE = h2_observer.PREFACE


class ConnectionWatch:
    """Publishes the events of one connection; feed() never raises."""

    def __init__(self, context: sink_mod.ConnectionContext, *, enabled: bool = True) -> None:
        self._context = context
        self._stopped = not enabled
        self._sniffed = b""
        self._early_upstream: list[bytes | memoryview] = []  # a server may speak first (HTTP/2 SETTINGS)
        self._h2: h2_observer.ConnectionObserver | None = None
        self._streams: h2_streams.StreamPublisher | http1_observer.Http1Observer | None = None
        self.is_http2: bool | None = None

    @property
    def connection(self) -> int:
        return self._context.connection

    @property
    def watching(self) -> bool:
        return not self._stopped

    def upstream_unreachable(self, details: str) -> None:
        """xdsspy answers for the control plane from now on: streams that end, end for this reason."""
        self._context.unreachable = details

    def feed(self, side: Side, data: bytes | memoryview) -> None:
        if self._stopped:
            return
        try:
            if self._streams is None:
                if side is Side.UPSTREAM:
                    self._early_upstream.append(data)
                    return
                self._sniffed += data
                if not self._choose():
                    return
                data, self._sniffed = self._sniffed, b""
                early, self._early_upstream = self._early_upstream, []
                for chunk in early:
                    self._feed(Side.UPSTREAM, chunk)
            self._feed(side, data)
        except Exception as e:  # whatever it is, the data path must not notice
            self._stop(f"{type(e).__name__}: {e}" if not isinstance(e, _Expected) else str(e))

    def failed(self, text: str) -> None:
        """Say in the recording why the connection failed where no stream would (a TLS alert, say)."""
        self._note(model.NoteLevel.ERROR, text)

    def side_finished(self, cause: model.CloseCause, details: str) -> None:
        """One side stopped sending (TCP half-close). An HTTP/2 peer never half-closes: it is gone,
        and whatever the other side does next (resets, GOAWAY) is only its reaction."""
        if self.is_http2:
            self.connection_ended(cause, details)

    def connection_ended(self, cause: model.CloseCause, details: str) -> None:
        if self._stopped or self._streams is None:
            return
        self._stopped = True
        try:
            self._streams.connection_ended(cause, details)
        except Exception as e:
            self._note(model.NoteLevel.ERROR, f"xdsspy failed closing the connection's streams: {e}")

    # -- helpers --------------------------------------------------------------------------

    def _choose(self) -> bool:
        """Decide the protocol once enough bytes are in; False while they are not."""
        head = self._sniffed[: len(_PREFACE)]
        if _PREFACE.startswith(head) and len(head) < len(_PREFACE):
            return False
        if head == _PREFACE:
            self.is_http2 = True
            publisher = h2_streams.StreamPublisher(self._context)
            self._h2 = h2_observer.ConnectionObserver(publisher)
            self._streams = publisher
        else:
            self.is_http2 = False
            self._streams = http1_observer.Http1Observer(self._context)
        return True

    def _feed(self, side: Side, data: bytes | memoryview) -> None:
        if self._h2 is not None:
            self._h2.feed(side, data)
        elif isinstance(self._streams, http1_observer.Http1Observer):
            self._streams.feed(side, data)

    def _stop(self, reason: str) -> None:
        self._stopped = True
        self._note(
            model.NoteLevel.ERROR,
            f"xdsspy stopped reading connection {self.connection} ({self._context.peer}): {reason}."
            " Its bytes are still forwarded unchanged, but no longer recorded",
        )
        if self._streams is not None:
            try:
                self._streams.connection_ended(
                    model.CloseCause.PROXY_ERROR, f"xdsspy stopped reading the connection: {reason}"
                )
            except Exception:
                pass

    def _note(self, level: model.NoteLevel, text: str) -> None:
        try:
            self._context.note(level, text)
        except Exception:
            pass


_Expected = (h2_observer.Malformed, http1_observer.Unfollowable)


def factory(
    sink: sink_mod.Sink, stamper: sink_mod.Stamper, ids: sink_mod.Ids, max_message_bytes: int
) -> Callable[[int, str], ConnectionWatch]:
    """What a relay calls for each new connection (its id and peer name) to get the connection's watcher.

    Without a recording (a NullSink) the watchers read nothing: there would be nowhere to put it."""
    enabled = not isinstance(sink, sink_mod.NullSink)

    def make(connection: int, peer: str) -> ConnectionWatch:
        context = sink_mod.ConnectionContext(connection, peer, sink, stamper, ids, max_message_bytes)
        return ConnectionWatch(context, enabled=enabled)

    return make
