"""The terminal UI on a big recording: first paint, key latency, indexing speed, memory, and a live capture.

Run: python bench/tui.py [--messages N] [--recording FILE] [--live-seconds S] [--parts ...]

Builds a realistic recording (xdsspy.testing.busy_recording: 20 sidecars, mostly
small EDS pushes and their ACKs, CDS pushes of 50 clusters, some NACKs, five
10k-cluster pushes to a gateway; 100k messages by default), then, each part in a
fresh process so that memory and imports are its own:
  index   RecordingIndex.run alone (what the UI's worker does), side by side with
          reading the file alone and with the eager timeline of bench/timeline.py
  ui      the real app headless (App.run_test): time to first paint (a row drawn),
          key latency while the index is still being built and after (G, g, n, N,
          pagedown, down), time until the whole recording is indexed, peak memory
  live    a writer process appends 2,000 messages/s to a recording the app follows;
          the delay from each message's write to the app having it on screen
Targets (issue 10): first paint <= 1 s; every key <= 50 ms, also while indexing;
indexing >= 30,000 messages/s; <= 1 GB for 100k messages; live on screen <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from xdsspy.testing import procstat

TARGET_FIRST_PAINT_S = 1.0
TARGET_KEY_MS = 50.0
TARGET_INDEX_PER_S = 30_000
TARGET_MEMORY_MB = 1024
TARGET_LIVE_S = 1.0
KEYS_AFTER = ("G", "g", "n", "N", "pagedown", "down", "G", "n")


def _peak_rss_mb() -> float:
    return procstat.status_kb("self", "VmHWM") / 1024


# -- parts, each run in a child process -----------------------------------------------------------


def part_index(path: str) -> dict[str, float]:
    from xdsspy.record import reader
    from xdsspy.state import timeline
    from xdsspy.viewmodel import index

    started, cpu = time.perf_counter(), time.process_time()
    count = sum(1 for _ in reader.iter_events(path))
    read_s, read_cpu = time.perf_counter() - started, time.process_time() - cpu
    ix = index.RecordingIndex(path)
    started, cpu = time.perf_counter(), time.process_time()
    ix.run()
    index_s, index_cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_rss_mb()
    started = time.perf_counter()
    ix.timeline.fold_to(len(ix.timeline.steps) - 1)  # the state, folded lazily when first asked
    fold_s = time.perf_counter() - started
    out = {
        "events": count,
        "messages": ix.messages,
        "read_s": read_s,
        "read_cpu": read_cpu,
        "index_s": index_s,
        "index_cpu": index_cpu,
        "state_fold_s": fold_s,
        "peak_rss_mb": peak,
    }
    if ix.messages <= 120_000:  # the eager timeline of issue 3, on the same file, for the ratio
        started = time.perf_counter()
        timeline.Timeline.from_events(reader.iter_events(path))
        out["eager_timeline_s"] = time.perf_counter() - started
    return out


async def _ui(path: str, *, keys_while_indexing: bool = True) -> dict[str, object]:
    from textual import events

    from xdsspy.tui import app as app_mod
    from xdsspy.tui.widgets import timeline_view

    first: list[float] = []  # the first row drawn
    moved: list[float] = []  # when the timeline took each key (its cursor moved)
    frames: list[float] = []  # when the screen computed each frame (headless: not written anywhere)
    draw = timeline_view.TimelineView.render_line
    watch = timeline_view.TimelineView.watch_cursor

    def render_line(self: timeline_view.TimelineView, y: int) -> object:
        if not first and len(self.view):
            first.append(time.perf_counter())
        return draw(self, y)

    def watch_cursor(self: timeline_view.TimelineView, old: int, new: int) -> None:
        moved.append(time.perf_counter())
        watch(self, old, new)

    timeline_view.TimelineView.render_line = render_line  # type: ignore[method-assign]
    timeline_view.TimelineView.watch_cursor = watch_cursor  # type: ignore[method-assign]
    started = time.perf_counter()
    app = app_mod.make_app(path)
    shown = app._display

    def display(screen: object, renderable: object) -> None:
        if renderable is not None:
            frames.append(time.perf_counter())
        shown(screen, renderable)  # type: ignore[arg-type]

    app._display = display  # type: ignore[method-assign]

    async def key(pilot: object, name: str) -> float:
        """From the key sent to the first frame computed after the timeline took it, in ms."""
        taken = len(moved)
        event = events.Key(name, name if len(name) == 1 else None)
        event.set_sender(app)
        sent = time.perf_counter()
        app._driver.send_message(event)  # type: ignore[union-attr]  # as the terminal driver does it
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            mark = moved[taken] if len(moved) > taken else sent  # a key that moves nothing: its frame
            frame = next((f for f in reversed(frames) if f > mark), None)
            if frame is not None:
                return (min(f for f in frames if f > mark) - sent) * 1e3
            await asyncio.sleep(0.001)
        return float("inf")

    during: list[float] = []
    slow: list[tuple[int, str, int]] = []  # (ms, key, messages indexed then): where the slow keys were
    after: dict[str, float] = {}
    every: list[tuple[str, float]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not first:  # noqa: ASYNC110 - the first frame is seen by a hook, not an event
            await asyncio.sleep(0.005)
        first_paint = first[0] - started
        keys = ("pagedown", "down", "G", "up", "g")
        while keys_while_indexing and not app.index.done and len(during) < 500:
            during.append(await key(pilot, keys[len(during) % len(keys)]))
            if during[-1] > TARGET_KEY_MS:
                slow.append((round(during[-1]), keys[(len(during) - 1) % len(keys)], app.index.messages))
        await app.workers.wait_for_complete()
        indexed_s = time.perf_counter() - started
        await pilot.pause()
        for name in KEYS_AFTER:
            took = await key(pilot, name)
            after[name] = max(after.get(name, 0.0), took)
            every.append((name, round(took, 1)))
        rows = len(app.index.rows)
        messages = app.index.messages
    return {
        "first_paint_s": first_paint,
        "keys_during_ms": during,
        "slow_keys": slow,
        "keys_after_ms": after,
        "keys_after_each": every,
        "indexed_s": indexed_s,
        "messages": messages,
        "rows": rows,
        "peak_rss_mb": _peak_rss_mb(),
    }


def part_ui(path: str) -> dict[str, object]:
    return asyncio.run(_ui(path))


def part_ui_idle(path: str) -> dict[str, object]:
    """The app indexing while nobody presses a key: how long until the whole recording is in."""
    return asyncio.run(_ui(path, keys_while_indexing=False))


def part_live_writer(path: str, rate: int, seconds: float) -> dict[str, float]:
    """Append `rate` messages/s of a busy mesh to path, each stamped when it is written."""
    from xdsspy import model
    from xdsspy.record import writer
    from xdsspy.testing import busy_recording

    source = busy_recording.events(int(rate * seconds * 1.2) + 1000, envoys=10, big_pushes=0)
    w = writer.RecordingWriter(path)
    written = 0
    seq = 0
    start = time.monotonic()
    for event in source:
        seq += 1
        w.publish(
            dataclasses.replace(event, seq=seq, wall_ns=time.time_ns(), monotonic_ns=time.monotonic_ns())
        )
        if isinstance(event, model.MessageSeen):
            written += 1
            if written % 20 == 0:
                ahead = start + written / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        if time.monotonic() - start >= seconds:
            break
    w.publish(model.CaptureStopped(seq=seq + 1, wall_ns=time.time_ns(), monotonic_ns=time.monotonic_ns(),
                                   records_written=seq, records_lost=0, reason="bench"))  # fmt: skip
    w.close()
    return {"written": written, "seconds": time.monotonic() - start}


async def _live(path: str) -> dict[str, object]:
    from xdsspy.tui import app as app_mod
    from xdsspy.tui import messages

    for _ in range(1000):  # the writer child creates it within a second or so
        if os.path.exists(path):  # noqa: ASYNC240 - a bench, nothing else runs on this loop yet
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    delays: list[float] = []
    shown = 0
    app = app_mod.make_app(path, follow=True)

    def hook(message: object) -> None:
        nonlocal shown
        if isinstance(message, messages.IndexProgress) and app.main is not None:
            view = app.main.timeline.view
            now = time.time_ns()
            for i in range(shown, len(view)):
                row = view.row(i)
                if row.kind == "message":
                    delays.append((now - row.step.wall_ns) / 1e9)
            shown = len(view)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        while not app.index.done:
            await pilot.pause(0.05)
    return {"delays_s": delays}


def part_live(path: str) -> dict[str, object]:
    return asyncio.run(_live(path))


# -- the parent: run each part in its own process and print side by side -------------------------------


def _child(part: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", part, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"part {part} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return 0.0, 0.0, 0.0
    ordered = sorted(values)
    return (
        statistics.median(ordered),
        ordered[int(len(ordered) * 0.95) - 1 if len(ordered) > 1 else 0],
        ordered[-1],
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--recording", help="use this recording instead of building one")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--live-rate", type=int, default=2000)
    parser.add_argument("--parts", default="index,ui,live", help="any of index, ui, live")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part, *rest = args.child
        if part == "index":
            print(json.dumps(part_index(rest[0])))
        elif part == "ui":
            print(json.dumps(part_ui(rest[0])))
        elif part == "ui-idle":
            print(json.dumps(part_ui_idle(rest[0])))
        elif part == "live-writer":
            print(json.dumps(part_live_writer(rest[0], int(rest[1]), float(rest[2]))))
        elif part == "live":
            print(json.dumps(part_live(rest[0])))
        return 0

    parts = args.parts.split(",")
    workdir = tempfile.mkdtemp(prefix="xdsspy-bench-tui-")
    path = args.recording
    if path is None:
        from xdsspy.testing import busy_recording

        path = os.path.join(workdir, "busy.xdsspy")
        started = time.perf_counter()
        summary = busy_recording.write(path, args.messages)
        print(
            f"recording: {summary.messages:,} messages, {summary.raw_bytes / 1e6:,.0f} MB of xDS, "
            f"{os.path.getsize(path) / 1e6:.1f} MB on disk (built in {time.perf_counter() - started:.1f} s)"
        )
    failed = False
    if "index" in parts:
        r = _child("index", path)
        per_s = r["messages"] / r["index_s"]
        read_per_s = r["events"] / r["read_s"]
        cpu_us = r["index_cpu"] / r["messages"] * 1e6
        print(
            f"index: {r['messages']:,} messages in {r['index_s']:.2f} s = {per_s:,.0f} messages/s "
            f"(CPU {cpu_us:.1f} us/message)  "
            f"target >= {TARGET_INDEX_PER_S:,}: {_verdict(per_s >= TARGET_INDEX_PER_S)}"
        )
        share = r["read_s"] / r["index_s"]
        print(f"  reading alone: {read_per_s:,.0f} events/s ({share:.0%} of the index's time)")
        if "eager_timeline_s" in r:
            eager = r["messages"] / r["eager_timeline_s"]
            print(
                f"  eager timeline (bench/timeline.py's fold): {eager:,.0f} messages/s; "
                f"the index is {per_s / eager:.1f}x faster"
            )
        print(
            f"  state folded afterwards, when first asked: {r['state_fold_s']:.2f} s; "
            f"peak memory {r['peak_rss_mb']:.0f} MB"
        )
        failed |= per_s < TARGET_INDEX_PER_S
    if "ui" in parts:
        r = _child("ui", path)
        first, indexed, peak = r["first_paint_s"], r["indexed_s"], r["peak_rss_mb"]
        print(
            f"ui: first paint {first:.2f} s  target <= {TARGET_FIRST_PAINT_S} s: "
            + _verdict(first <= TARGET_FIRST_PAINT_S)
        )
        p50, p95, worst = _quantiles(r["keys_during_ms"])
        n = len(r["keys_during_ms"])
        print(
            f"  keys while indexing ({n}): median {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms  "
            f"target <= {TARGET_KEY_MS:.0f} ms: {_verdict(worst <= TARGET_KEY_MS)}"
        )
        if r["slow_keys"]:
            print(f"    over {TARGET_KEY_MS:.0f} ms (ms, key, messages indexed by then): {r['slow_keys']}")
        after = r["keys_after_ms"]
        worst_after = max(after.values()) if after else 0.0
        shown = ", ".join(f"{k} {v:.1f}" for k, v in after.items())
        print(
            f"  keys after indexing (ms): {shown}  target <= {TARGET_KEY_MS:.0f} ms: "
            + _verdict(worst_after <= TARGET_KEY_MS)
        )
        busy_rate = r["messages"] / indexed
        idle = _child("ui-idle", path)
        idle_rate = idle["messages"] / idle["indexed_s"]
        print(
            f"  whole recording indexed in the app after {idle['indexed_s']:.2f} s "
            f"({idle_rate:,.0f} messages/s) with nobody at the keys;"
        )
        print(
            f"  {indexed:.2f} s ({busy_rate:,.0f} messages/s) while keys kept coming "
            "(indexing steps aside for each)"
        )
        print(
            f"  peak memory {peak:.0f} MB for {r['messages']:,} messages  "
            f"target <= {TARGET_MEMORY_MB} MB: {_verdict(peak <= TARGET_MEMORY_MB)}"
        )
        slow_ui = first > TARGET_FIRST_PAINT_S or worst > TARGET_KEY_MS
        failed |= slow_ui or worst_after > TARGET_KEY_MS
        failed |= peak > TARGET_MEMORY_MB
    if "live" in parts:
        live_path = os.path.join(workdir, "live.xdsspy")
        writer = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                "live-writer",
                live_path,
                str(args.live_rate),
                str(args.live_seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        r = _child("live", live_path)
        out, _ = writer.communicate(timeout=60)
        wrote = json.loads(out.strip().splitlines()[-1])
        delays = r["delays_s"]
        p50, p95, worst = _quantiles(delays)
        rate = wrote["written"] / wrote["seconds"]
        print(
            f"live: {wrote['written']:,} messages written at {rate:,.0f}/s; on screen after "
            f"median {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s  "
            f"target <= {TARGET_LIVE_S} s: {_verdict(worst <= TARGET_LIVE_S)}"
        )
        failed |= worst > TARGET_LIVE_S
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
