"""The capture process: the forwarding loop, handing records to the recorder process, nothing else.

This process never decodes, compresses, writes files, prints per message or
draws a UI: the recorder and the front ends run in processes of their own
(front ends follow the recording as it grows), so no amount of work there can
take the GIL away from forwarding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys

from xdsspy import model
from xdsspy.addresses import Address
from xdsspy.capture import grpc_proxy
from xdsspy.capture import sink as sink_mod
from xdsspy.record import process as recorder_mod
from xdsspy.record import writer as writer_mod


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureOptions:
    listen: tuple[Address, ...]
    upstream: Address
    record: str | None = None
    max_message_bytes: int = grpc_proxy.DEFAULT_MAX_MESSAGE_BYTES
    compression_level: int = 3
    max_buffer_bytes: int = 1 << 30
    recorder: str = "process"  # or "thread": see docs/performance.md


def _say(text: str) -> None:
    print(f"xdsspy: {text}", file=sys.stderr, flush=True)


async def run_capture(options: CaptureOptions) -> int:
    """Forward (and record) until SIGINT or SIGTERM; returns the process exit code."""
    stamper = sink_mod.Stamper()
    recorder = None
    sink: sink_mod.Sink = sink_mod.NullSink()
    thread_writer = None
    if options.record and options.recorder == "thread":
        thread_writer = writer_mod.RecordingWriter(
            options.record,
            compression_level=options.compression_level,
            max_pending_bytes=options.max_buffer_bytes,
        )
        sink = thread_writer
    elif options.record:
        recorder = await recorder_mod.RecorderProcess.start(
            options.record,
            compression_level=options.compression_level,
            max_pending_bytes=options.max_buffer_bytes,
        )
        sink = recorder
    proxy = grpc_proxy.GrpcProxy(
        grpc_proxy.ProxyOptions(upstream=options.upstream, max_message_bytes=options.max_message_bytes),
        sink,
        stamper,
    )
    try:
        bound = await proxy.start(options.listen)
    except Exception as e:
        _say(f"cannot listen on {', '.join(map(str, options.listen))}: {e}")
        if recorder is not None:
            await recorder.close()
        if thread_writer is not None:
            thread_writer.close()
        return 2
    sink.publish(
        model.CaptureStarted(
            **stamper.stamp(),
            listen=tuple(bound),
            upstream=str(options.upstream),
            pid=os.getpid(),
            max_message_bytes=options.max_message_bytes,
        )
    )
    for address in options.listen:
        if not address.is_loopback:
            _say(f"WARNING: listening on {address}, which is reachable from other machines")
    where = f", recording to {options.record}" if options.record else " (not recording)"
    _say(f"forwarding {', '.join(bound)} -> {options.upstream}{where}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    _say("stopping")
    await proxy.stop(grace=1.0)
    sink.publish(model.CaptureStopped(**stamper.stamp(), records_written=0, records_lost=0, reason="signal"))
    if recorder is not None:
        return await recorder.close()  # the recorder prints what it wrote and what was lost
    if thread_writer is not None:
        stats = await loop.run_in_executor(None, thread_writer.close)
        _say(stats.summary(thread_writer.path))
        return 3 if stats.records_lost else 0
    return 0


def main(options: CaptureOptions) -> int:
    return asyncio.run(run_capture(options))
