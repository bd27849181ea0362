"""The capture process: the forwarding loop and the recorder, nothing else.

This process never decodes, prints per message or draws a UI: front ends run
in processes of their own and follow the recording as it grows, so no amount
of work there can take the GIL away from forwarding. The recorder is a thread
that batches records into a few large GIL-releasing calls (the default: least
CPU, which is what limits throughput on a small machine), or a process of its
own fed over a socket (--recorder process). docs/performance.md has the figures.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys

import uvloop

from xdsspy import model
from xdsspy import session
from xdsspy.addresses import Address
from xdsspy.capture import grpc_proxy
from xdsspy.capture import relay
from xdsspy.capture import rest_proxy
from xdsspy.capture import sink as sink_mod
from xdsspy.record import process as recorder_mod
from xdsspy.record import writer as writer_mod


def _say(text: str) -> None:
    print(f"xdsspy: {text}", file=sys.stderr, flush=True)


_M_TRIM_THRESHOLD = -1  # glibc's mallopt() parameters (malloc.h)
_M_MMAP_THRESHOLD = -3


def _keep_freed_memory() -> None:
    """Ask glibc to reuse freed memory rather than hand it back to the kernel after every message.

    Every REST poll and large push allocates and frees a few megabytes; by
    default glibc returns such blocks to the kernel at once, and each new one
    costs a page fault per 4 KiB, more than copying the bytes does: about
    1.4 ms of a 1 MB poll's 3 ms through xdsspy (bench/forwarding.py). Blocks
    up to 32 MiB now come from the heap, and up to 64 MiB of free heap is kept.
    Elsewhere than on glibc this does nothing.
    """
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator has its own policy


async def run_capture(options: session.CaptureOptions) -> int:
    """Forward (and record) until SIGINT or SIGTERM; returns the process exit code."""
    # First of all: a stop asked for while starting up (the supervisor may ask as soon as the
    # recording exists) ends the capture cleanly once it is up, instead of killing it mid-write.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
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
    ids = sink_mod.Ids()  # one id space for both proxies: one recording
    proxies: list[relay.Relay] = []
    routes: list[str] = []
    listening: list[str] = []
    upstreams: list[str] = []
    try:
        planned: list[tuple[relay.Relay, tuple[Address, ...], str]] = []
        if options.upstream is not None:
            grpc = grpc_proxy.GrpcProxy(
                grpc_proxy.ProxyOptions(
                    upstream=options.upstream,
                    max_message_bytes=options.max_message_bytes,
                    upstream_tls=options.upstream_tls,
                    listen_tls=options.listen_tls,
                ),
                sink,
                stamper,
                ids,
            )
            planned.append((grpc, options.listen, ""))
        if options.rest_upstream is not None:
            rest = rest_proxy.RestProxy(
                rest_proxy.RestProxyOptions(
                    upstream=options.rest_upstream,
                    ca_file=options.rest_ca,
                    max_body_bytes=options.max_message_bytes,
                ),
                sink,
                stamper,
                ids,
            )
            planned.append((rest, options.rest_listen, " (REST)"))
        for proxy, listen, kind in planned:
            proxies.append(proxy)
            bound = await _start(proxy, listen)
            listening += bound
            upstreams.append(str(proxy.upstream))
            routes.append(f"{', '.join(bound)} -> {proxy.upstream}{kind}")
    except Exception as e:
        _say(str(e))
        for started in proxies:
            await started.stop(grace=0.0)
        if recorder is not None:
            await recorder.close()
        if thread_writer is not None:
            thread_writer.close()
        return 2
    sink.publish(
        model.CaptureStarted(
            **stamper.stamp(),
            listen=tuple(listening),
            upstream=", ".join(upstreams),
            pid=os.getpid(),
            max_message_bytes=options.max_message_bytes,
        )
    )
    for address in (*options.listen, *options.rest_listen):
        if not address.is_loopback:
            _say(f"WARNING: listening on {address}, which is reachable from other machines")
    where = f", recording to {options.record}" if options.record else " (not recording)"
    _say(f"forwarding {' and '.join(routes)}{where}")

    await stop.wait()
    _say("stopping")
    await asyncio.gather(*(p.stop(grace=1.0) for p in proxies))
    sink.publish(model.CaptureStopped(**stamper.stamp(), records_written=0, records_lost=0, reason="signal"))
    if recorder is not None:
        return await recorder.close()  # the recorder prints what it wrote and what was lost
    if thread_writer is not None:
        stats = await loop.run_in_executor(None, thread_writer.close)
        _say(stats.summary(thread_writer.path))
        return 3 if stats.records_lost else 0
    return 0


async def _start(proxy: relay.Relay, listen: tuple[Address, ...]) -> list[str]:
    try:
        return await proxy.start(listen)
    except Exception as e:
        raise OSError(f"cannot listen on {', '.join(map(str, listen))}: {e}") from e


def main(options: session.CaptureOptions) -> int:
    _keep_freed_memory()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_capture(options))
