"""Hostile recordings: random flips, cuts and splices of a real one, or random bytes after its header.

Whatever the bytes, the reader yields only events it could read and names the rest as problems, or
refuses the file with RecordingReadError: never another exception, never a hang (issue 14, point 5).
"""

from __future__ import annotations

import pathlib

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import errors
from xdsspy import model
from xdsspy.record import reader

SAMPLE = pathlib.Path(__file__).resolve().parents[3] / "recordings" / "sotw-nack.xdsspy"
DATA = SAMPLE.read_bytes()


def _read(path: pathlib.Path) -> None:
    try:
        with reader.RecordingReader(path) as r:
            for event in r.events():
                assert isinstance(event, model.EventBase)
            assert all(p.kind for p in r.problems)
    except errors.RecordingReadError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(st.tuples(st.integers(0, len(DATA) - 1), st.integers(1, 255)), max_size=8),
    cut=st.integers(0, len(DATA)),
    insert=st.binary(max_size=64),
    at=st.integers(0, len(DATA)),
)
def test_flipped_cut_and_spliced_recordings_never_crash_the_reader(
    tmp_path_factory: object, flips: list[tuple[int, int]], cut: int, insert: bytes, at: int
) -> None:
    data = bytearray(DATA)
    for position, mask in flips:
        data[position] ^= mask
    data = data[:at] + insert + data[at:]
    path = pathlib.Path(tmp_path_factory.mktemp("fuzz")) / "r.xdsspy"  # type: ignore[attr-defined]
    path.write_bytes(bytes(data[:cut]))
    _read(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=4096))
def test_random_bytes_after_a_valid_header_never_crash_the_reader(
    tmp_path_factory: object, tail: bytes
) -> None:
    header_end = DATA.index(b"XDSB")
    path = pathlib.Path(tmp_path_factory.mktemp("fuzz")) / "r.xdsspy"  # type: ignore[attr-defined]
    path.write_bytes(DATA[:header_end] + b"XDSB" + tail)
    _read(path)
