"""The recording index: a row for every event, messages read back from their blocks, a growing file."""

from __future__ import annotations

import pathlib
import shutil
import threading

from xdsspy import model
from xdsspy.record import reader
from xdsspy.record import writer
from xdsspy.testing import busy_recording
from xdsspy.testing import factories as f
from xdsspy.viewmodel import index
from xdsspy.viewmodel import rows

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"


def test_every_message_gets_a_row_and_its_bytes_back_from_the_recording() -> None:
    path = RECORDINGS / "sotw-nack.xdsspy"
    ix = index.RecordingIndex(path)
    progress: list[index.Progress] = []
    ix.run(on_progress=progress.append)
    originals = {e.seq: e for e in reader.iter_events(path) if isinstance(e, model.MessageSeen)}
    messages = [r for r in ix.rows if r.kind == rows.RowKind.MESSAGE]
    assert len(messages) == len(originals) == ix.messages == 21
    for row in messages:
        again = ix.message(row)
        assert (
            again is not None and again.raw == originals[row.step.seq].raw and again.method == row.step.method
        )
        assert ix.row_of_seq(row.step.seq) == ix.rows.index(row)
    assert [ix.rows[i].is_nack for i in ix.nack_rows] == [True]
    assert (
        progress[-1].done
        and progress[-1].caught_up
        and progress[-1].nacks == 1
        and progress[-1].messages == 21
    )
    assert ix.started is not None and ix.stopped is not None and ix.problems == [] and ix.error == ""
    assert ix.rows[0].kind == rows.RowKind.CAPTURE_START and ix.message(ix.rows[0]) is None
    found = ix.message_at_seq(messages[3].step.seq)
    assert found is not None and found[0] is messages[3]
    ix.close()


def test_state_at_any_row_holds_where_each_resource_s_bytes_are_not_the_bytes() -> None:
    ix = index.RecordingIndex(RECORDINGS / "delta-nack.xdsspy")
    ix.run()
    last = ix.rows[-1]
    state = ix.timeline.state_after_index(last.position)
    (node,) = state.nodes()
    held = state.resources(node)
    assert held and all(r.entry is None for r in held)
    for resource in held:  # (seq, index) finds it again
        found = ix.message_at_seq(resource.seq)
        assert found is not None
        from xdsspy.decode import discovery

        decoded = discovery.decode(found[1].method, found[1].direction, found[1].raw)
        assert decoded.resources[resource.index].name == resource.name
        assert decoded.resources[resource.index].digest == resource.digest


def test_a_growing_recording_is_followed_until_the_capture_stops(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "live.xdsspy"
    w = writer.RecordingWriter(path, linger_s=0.001)
    w.publish(f.topen(seq=1))
    ix = index.RecordingIndex(path)
    caught_up = threading.Event()
    seen: list[index.Progress] = []

    def report(progress: index.Progress) -> None:
        seen.append(progress)
        if progress.caught_up and progress.messages >= 1:
            caught_up.set()

    follower = threading.Thread(target=lambda: ix.run(follow=True, on_progress=report))
    follower.start()
    w.publish(f.tmessage(b"\x0a\x01x", seq=2, method=f.ADS))
    assert caught_up.wait(10), seen
    assert not ix.done
    w.publish(f.tmessage(b"\x0a\x01y", seq=3, method=f.ADS))
    w.publish(f.tstop(seq=4))
    w.close()
    follower.join(10)
    assert not follower.is_alive() and ix.done and seen[-1].done
    assert [r.kind for r in ix.rows] == [
        rows.RowKind.OPEN,
        rows.RowKind.MESSAGE,
        rows.RowKind.MESSAGE,
        rows.RowKind.CAPTURE_STOP,
    ]


def test_a_follower_stops_when_asked(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "idle.xdsspy"
    w = writer.RecordingWriter(path)
    w.publish(f.topen(seq=1))
    stop = threading.Event()
    ix = index.RecordingIndex(path)
    follower = threading.Thread(target=lambda: ix.run(follow=True, should_stop=stop.is_set))
    follower.start()
    stop.set()
    follower.join(10)
    w.close()
    assert not follower.is_alive() and ix.done


def test_damage_is_reported_and_what_is_intact_is_indexed(tmp_path: pathlib.Path) -> None:
    damaged = tmp_path / "torn.xdsspy"
    shutil.copy(RECORDINGS / "sotw-nack.xdsspy", damaged)
    with damaged.open("r+b") as file:
        file.truncate(damaged.stat().st_size - 40)
    ix = index.RecordingIndex(damaged)
    ix.run()
    assert ix.done and ix.problems and ix.problems[0].kind == "truncated_tail"
    assert 0 < ix.messages <= 21
    garbage = tmp_path / "garbage.xdsspy"
    garbage.write_bytes(b"not a recording at all")
    bad = index.RecordingIndex(garbage)
    bad.run()
    assert bad.done and "not an xdsspy recording" in bad.error and bad.rows == []


def test_a_busy_mesh_indexes_whole_with_envoys_rates_and_nacks(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "busy.xdsspy"
    summary = busy_recording.write(str(path), 3_000, envoys=5, big_pushes=1, big_clusters=300)
    ix = index.RecordingIndex(path, checkpoint_every=100)
    ix.run()
    assert ix.messages == summary.messages and len(ix.envoys.at()) == 6  # 5 sidecars and a gateway
    assert ix.nack_rows and all(ix.rows[i].is_nack for i in ix.nack_rows)
    assert sum(ix.rates.series("EDS", ix.first_ns, ix.last_ns, 10)) == len(ix.rates.times["EDS"])
    assert ix.rates.series("EDS", 0, 0, 5) == [0] * 5
    messages_per_s, bytes_per_s = ix.recent_rates()
    assert messages_per_s > 0 and bytes_per_s > messages_per_s


def test_indexing_stands_aside_while_a_viewer_asks_and_then_finishes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "busy.xdsspy"
    written = busy_recording.write(path, 2_000)
    asked = threading.Event()
    added_when_asked: list[int] = []

    class Watched(index.RecordingIndex):
        def add(self, event: model.Event, block: int = -1) -> None:
            super().add(event, block)
            if len(self.rows) == 300:  # a key arrives mid-indexing: pause, for as long as it takes
                added_when_asked.append(len(self.rows))
                self.step_aside(60)
                asked.set()

    ix = Watched(path)
    ix.step_aside(60)  # a viewer's start-up: nothing is indexed until it is over
    runner = threading.Thread(target=ix.run)
    runner.start()
    runner.join(0.2)
    assert ix.rows == [] and runner.is_alive()
    ix.step_aside(0)  # over
    assert asked.wait(10)
    runner.join(0.2)
    paused_at = len(ix.rows)
    assert runner.is_alive() and paused_at <= added_when_asked[0] + index.ASIDE_CHECK_EVERY
    ix.step_aside(0)
    runner.join(30)
    assert not runner.is_alive() and ix.done and ix.messages == written.messages
