"""The recorder in a process of its own, fed by the capture process over a Unix socket pair.

Compressing and writing in a thread of the forwarding process costs that
process the GIL, and the forwarding loop pays for every switch; measured
here, that cost a quarter of the throughput at 100 KB messages. Here the
forwarding loop only encodes the small record head and hands the bytes to a
non-blocking socket (asyncio buffers what the kernel does not take at once);
the child process owns the file. If the capture process dies, even by
kill -9, the child still writes everything it was given and closes the file.

Run as `python -m xdsspy.record.process --fd N --path FILE ...` by
RecorderProcess; not a user command.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import struct
import subprocess
import sys
import time
import typing
from collections.abc import Callable

from xdsspy import errors
from xdsspy import model
from xdsspy.record import codec
from xdsspy.record import writer as writer_mod

FRAME = struct.Struct("<QQB")
"""Record length, seq, flags (1 = CaptureStopped) ahead of each record on the socket."""

_STOP_FLAG = 1
_READY = b"\x01"
_SOCKET_BUFFER = 8 << 20


class _Protocol(asyncio.Protocol):
    def __init__(self, on_lost: Callable[[Exception | None], None]) -> None:
        self._on_lost = on_lost
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)


class RecorderProcess:
    """A capture Sink whose records are written by a child process. Create with start()."""

    def __init__(
        self,
        child: subprocess.Popen[bytes],
        transport: asyncio.WriteTransport,
        protocol: _Protocol,
        max_pending_bytes: int,
        on_problem: Callable[[str], None],
    ) -> None:
        self._child = child
        self._transport = transport
        self._protocol = protocol
        self._max_pending = max_pending_bytes
        self._on_problem = on_problem
        self._dead = False
        self._loss = writer_mod.Loss()
        self.records_lost = 0

    @classmethod
    async def start(
        cls,
        path: str,
        *,
        compression_level: int = writer_mod.DEFAULT_COMPRESSION_LEVEL,
        max_pending_bytes: int = 1 << 30,
        on_problem: Callable[[str], None] = writer_mod._default_problem,
    ) -> RecorderProcess:
        """Start the recorder and wait until it has created the file; RecordingWriteError if it cannot."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for s in (ours, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        command = [
            sys.executable,
            "-m",
            "xdsspy.record.process",
            "--fd",
            str(theirs.fileno()),
            "--path",
            path,
            "--compression-level",
            str(compression_level),
            "--max-pending-bytes",
            str(max_pending_bytes),
        ]
        child = subprocess.Popen(command, pass_fds=(theirs.fileno(),))  # noqa: ASYNC220 - returns at once
        theirs.close()
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(None, _read_answer, ours)
        if answer != _READY:
            child.wait()
            ours.close()
            message = answer.decode("utf-8", "replace") or "recorder process failed to start"
            raise errors.RecordingWriteError(message)
        ours.setblocking(False)
        recorder: RecorderProcess | None = None

        def lost(exc: Exception | None) -> None:
            if recorder is not None:
                recorder._connection_lost(exc)

        accepted, protocol = await loop.connect_accepted_socket(lambda: _Protocol(lost), ours)
        transport = typing.cast(asyncio.WriteTransport, accepted)  # uvloop's are not subclasses
        # The socket buffer is our bounded buffer: asyncio holds what the kernel cannot take yet.
        transport.set_write_buffer_limits(high=max_pending_bytes)
        recorder = cls(child, transport, protocol, max_pending_bytes, on_problem)
        return recorder

    def publish(self, event: model.Event) -> None:
        """Hand event to the recorder. Never blocks, never raises; drops and counts when it cannot."""
        try:
            chunks = codec.encode(event)
        except Exception as e:  # one bad event must not break forwarding
            self._on_problem(f"could not encode record {event.seq}: {e!r}")
            self._lose(event.seq, 0, f"could not encode: {e!r}")
            return
        size = sum(len(c) for c in chunks)
        if self._dead:
            self._lose(event.seq, size, "the recorder process went away")
            return
        buffered = self._transport.get_write_buffer_size()
        if buffered + size > self._max_pending:
            if not self._loss.records:
                self._on_problem(
                    "recorder cannot keep up (buffer full); records are being DROPPED and "
                    "a Gap record will say what is missing; Envoy's streams are not affected"
                )
            self._lose(event.seq, size, "recorder buffer full (recorder process too slow)")
            return
        if self._loss.records and buffered < self._max_pending // 2:
            self._send_gap()
        stop = _STOP_FLAG if isinstance(event, model.CaptureStopped) else 0
        head = FRAME.pack(size, event.seq, stop) + bytes(chunks[0])
        self._transport.write(head)
        for chunk in chunks[1:]:
            self._transport.write(chunk)

    async def close(self) -> int:
        """Flush, let the recorder finish the file, and return its exit code (3 if records were lost)."""
        if self._loss.records and not self._dead:
            self._send_gap()
        self._transport.close()
        await self._protocol.closed
        code = await asyncio.get_running_loop().run_in_executor(None, self._child.wait)
        if self.records_lost and code == 0:
            code = 3
        return code

    def _lose(self, seq: int, size: int, reason: str) -> None:
        self._loss.add(seq, size, reason)
        self.records_lost += 1

    def _send_gap(self) -> None:
        gap = self._loss.gap(time.time_ns(), time.monotonic_ns())
        self._loss = writer_mod.Loss()
        chunks = codec.encode(gap)
        self._transport.write(FRAME.pack(sum(len(c) for c in chunks), 0, 0) + b"".join(chunks))

    def _connection_lost(self, exc: Exception | None) -> None:
        if not self._transport.is_closing() or exc is not None:
            self._dead = True
            self._on_problem(
                f"the recorder process went away ({exc or 'connection closed'}); NOTHING MORE IS RECORDED; "
                "Envoy's streams keep flowing"
            )


def _read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    try:
        data = sock.recv(4096)
    except OSError as e:
        return f"recorder process did not answer: {e}".encode()
    finally:
        sock.settimeout(None)
    return data


# -- the child -----------------------------------------------------------------------------


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xdsspy-recorder")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--compression-level", type=int, default=3)
    parser.add_argument("--max-pending-bytes", type=int, default=1 << 30)
    args = parser.parse_args(argv)
    # The capture process decides when recording ends (by closing the socket): a Ctrl-C
    # sent to the whole process group must not cut the file short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=args.fd)
    try:
        writer = writer_mod.RecordingWriter(
            args.path, compression_level=args.compression_level, max_pending_bytes=args.max_pending_bytes
        )
    except errors.XdsspyError as e:
        sock.sendall(str(e).encode())
        return 2
    sock.sendall(_READY)
    _pump(sock, writer)
    stats = writer.close(timeout=None)
    print(f"xdsspy: {stats.summary(args.path)}", file=sys.stderr, flush=True)
    return 3 if stats.records_lost else 0


def _pump(sock: socket.socket, writer: writer_mod.RecordingWriter) -> None:
    """Move framed records from the socket into the writer until the capture process closes it."""
    buffer = bytearray()
    chunk = bytearray(4 << 20)
    view = memoryview(chunk)
    while True:
        try:
            n = sock.recv_into(view)
        except InterruptedError:
            continue
        except OSError:
            n = 0
        if n == 0:
            if buffer:
                print(
                    f"xdsspy: RECORDING PROBLEM: the capture process ended mid-record; "
                    f"{len(buffer)} bytes of an incomplete record were dropped",
                    file=sys.stderr,
                    flush=True,
                )
            return
        buffer += view[:n]
        pos = 0
        while len(buffer) - pos >= FRAME.size:
            size, seq, flags = FRAME.unpack_from(buffer, pos)
            end = pos + FRAME.size + size
            if end > len(buffer):
                break
            record = bytes(buffer[pos + FRAME.size : end])
            stop = bool(flags & _STOP_FLAG)
            writer.publish_encoded(writer_mod.Encoded(seq=seq, chunks=[record], stop=stop))
            pos = end
        if pos:
            del buffer[:pos]


if __name__ == "__main__":
    sys.exit(_child_main())
