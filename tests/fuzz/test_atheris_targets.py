"""The atheris harness keeps working without atheris: its targets run on their seeds and on random input.

atheris is not installed by the test extra, so the default suite never fuzzes with it; this keeps the
harness from rotting between the hunts it is for (see atheris_targets.py for how to run one).
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

HARNESS = pathlib.Path(__file__).with_name("atheris_targets.py")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("atheris_targets", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


targets = _load()


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_every_target_runs_its_seeds(target: str) -> None:
    for seed in targets.seeds(target):
        targets.TARGETS[target](seed)


@settings(max_examples=200, deadline=None)
@given(target=st.sampled_from(sorted(targets.TARGETS)), data=st.binary(max_size=512))
def test_every_target_takes_random_input(target: str, data: bytes) -> None:
    targets.TARGETS[target](data)


def test_the_seeded_h2_exchange_is_published() -> None:
    from xdsspy import model
    from xdsspy.capture import h2_observer
    from xdsspy.capture import h2_streams
    from xdsspy.capture import sink as sink_mod
    from xdsspy.testing.sinks import ListSink

    sink = ListSink()
    context = sink_mod.ConnectionContext(1, "seed", sink, sink_mod.Stamper(), sink_mod.Ids(), 1 << 16)
    observer = h2_observer.ConnectionObserver(h2_streams.StreamPublisher(context))
    observer.feed(h2_observer.Side.DOWNSTREAM, targets.PREFACE + targets.SETTINGS)
    observer.feed(h2_observer.Side.UPSTREAM, targets.SETTINGS)
    for from_envoy, chunk in targets._chunks(targets.seeds("h2")[0]):
        observer.feed(h2_observer.Side.DOWNSTREAM if from_envoy else h2_observer.Side.UPSTREAM, chunk)
    assert sink.kinds()[:2] == ["StreamOpened", "MessageSeen"]
    assert sink.of(model.StreamClosed)[0].code == 0


def test_without_a_target_it_prints_how_to_run_it() -> None:
    done = subprocess.run([sys.executable, str(HARNESS)], capture_output=True, text=True)
    assert done.returncode == 2 and "python tests/fuzz/atheris_targets.py h2" in done.stderr
