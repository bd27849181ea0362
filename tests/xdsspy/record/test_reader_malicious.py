"""Recordings crafted to hurt their reader are refused where they lie, in bounded memory, keeping the rest.

Each file is a header, an intact block, one crafted part and another intact block: a length claiming
gigabytes, a zstd bomb, nesting 100,000 deep, bad UTF-8, a flood of broken records. The Python API,
`xdsspy show` and `xdsspy export` each run in a child whose address space is capped (RLIMIT_AS), so a
reader that allocated what a file claims fails there; each must name the file and what is wrong in one
line, and keep every intact record (issue 14, point 5).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pathlib
import subprocess
import sys
import zlib
from collections.abc import Callable

import pytest
import zstandard
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy import model
from xdsspy import varint
from xdsspy._gen.xdsspy.recording.v1 import recording_pb2 as pb
from xdsspy.record import codec
from xdsspy.record import format as fmt
from xdsspy.record import limits
from xdsspy.record import reader
from xdsspy.testing import factories as f
from xdsspy.testing import processes

ADDRESS_SPACE = 384 << 20
"""The children's cap: what Python, the protobuf runtime and xdsspy's imports need, with room to spare,
and far below every claim crafted here (the smallest is 512 MiB)."""

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
REQUEST, RESPONSE = model.Direction.REQUEST, model.Direction.RESPONSE


def _hello() -> bytes:
    hello = discovery_pb2.DiscoveryRequest(type_url=CDS)
    hello.node.id = "n1"
    return bytes(hello.SerializeToString())


def _header() -> bytes:
    header = pb.FileHeader(format_version=fmt.FORMAT_VERSION, writer="crafted").SerializeToString()
    return fmt.FILE_MAGIC + fmt.FILE_HEADER_PREFIX.pack(len(header), zlib.crc32(header)) + header


def _records(*events: model.Event) -> bytes:
    return b"".join(bytes(chunk) for event in events for chunk in codec.encode(event))


def _framed(record: pb.Record | bytes) -> bytes:
    body = record if isinstance(record, bytes) else record.SerializeToString()
    return varint.encode(len(body)) + body


def _block(data: bytes) -> bytes:
    """An honest zstd block holding `data`."""
    return _block_of(zstandard.ZstdCompressor().compress(data), len(data))


def _block_of(
    payload: bytes, decoded: int, *, codec_: int = fmt.Codec.ZSTD, stored: int | None = None
) -> bytes:
    """A block whose header says what the test wants, around whatever payload (CRCs are right)."""
    length = len(payload) if stored is None else stored
    return fmt.BlockHeader(codec_, length, decoded, zlib.crc32(payload)).pack() + payload


BEFORE = _block(_records(f.topen(seq=1), f.tmessage(_hello(), REQUEST, seq=2)))
AFTER = _block(_records(f.tmessage(_hello(), REQUEST, seq=3), f.tstop(seq=4)))
CRAFTED_AT = len(_header()) + len(BEFORE)
"""Byte offset of the crafted part in every file."""


def _zeros_bomb(size: int, *, declared: bool = False) -> bytes:
    """One zstd frame of `size` zero bytes, compressed as it goes (64 KiB for 2 GiB)."""
    zero = bytes(16 << 20)
    compressor = zstandard.ZstdCompressor(level=1).compressobj(size=size if declared else -1)
    parts = [compressor.compress(zero) for _ in range(size // len(zero))]
    return b"".join(parts) + compressor.compress(bytes(size % len(zero))) + compressor.flush()


def _ld(field: int, payload: bytes) -> bytes:
    return varint.encode((field << 3) | 2) + varint.encode(len(payload)) + payload


def _bad_utf8_method() -> bytes:
    record = pb.Record(seq=7, connection=2, stream=2)
    record.stream_open.method = "/x.Y/" + "Z" * 6
    return _block(_framed(record.SerializeToString().replace(b"Z" * 6, b"\xff\xfe\xc0\x80\xed\xa0")))


@dataclasses.dataclass(frozen=True)
class Case:
    crafted: Callable[[], bytes]
    says: str
    """What the one problem line must say (a fragment)."""
    lines: int = 1
    whole_block: bool = True
    """The block is refused (read_block raises); otherwise only records in it are (read_block reads none)."""


CASES = {
    "block length 2^63": Case(
        lambda: _block_of(b"x" * 100, 100, stored=1 << 63), "bytes stored for 100 decoded"
    ),
    "block length past the end of the file": Case(
        lambda: _block_of(b"x" * 100, 512 << 20, codec_=fmt.Codec.NONE, stored=512 << 20),
        "claims 536,870,912 bytes of payload, but the file ends",
    ),
    "block claims 2 GiB decoded": Case(
        lambda: _block_of(_zeros_bomb(2 << 30), 2 << 30), "more than a block can hold"
    ),
    "zstd bomb under a small claim": Case(
        lambda: _block_of(_zeros_bomb(2 << 30), 1000),
        "does not decompress to the 1,000 bytes its header declares",
    ),
    "zstd bomb declaring 2 GiB in its frame": Case(
        lambda: _block_of(_zeros_bomb(2 << 30, declared=True), 1000),
        "its zstd frame declares 2,147,483,648 bytes, its block header 1,000",
    ),
    "zstd bomb within the limits, over the memory cap": Case(
        lambda: _block_of(_zeros_bomb(768 << 20), 768 << 20),
        "block needs 805,306,368 bytes to read, more memory than this process may use",
    ),
    "record length 2^63": Case(
        lambda: _block(varint.encode(1 << 63) + b"\x08\x01"),
        "record of 9,223,372,036,854,775,808 bytes runs past",
        whole_block=False,
    ),
    "record of 8 million empty headers": Case(
        lambda: _block(_framed(b"\x08\x07" + _ld(11, b"\x22\x00" * (8 << 20)))),
        "holds more than 10,000 fields",
        whole_block=False,
    ),
    "record nested 100,000 deep": Case(
        lambda: _block(_framed(b"\x08\x07" + b"\x9b\x06" * 100_000 + b"\x9c\x06" * 100_000)),
        "record does not parse",
        whole_block=False,
    ),
    "bad UTF-8 in a method": Case(_bad_utf8_method, "bad UTF-8", whole_block=False),
    "8 million broken records": Case(
        lambda: _block(b"\x01\xff" * (8 << 20)),
        "100 unreadable records in this block: its last",
        lines=limits.MAX_PROBLEMS_PER_BLOCK + 1,
        whole_block=False,
    ),
}

_API = """
import json, sys, tracemalloc
from xdsspy import errors
from xdsspy.record import reader
tracemalloc.start()
with reader.RecordingReader(sys.argv[1]) as r:
    seqs = [e.seq for e in r.events()]
    try:
        again = [e.seq for e in r.read_block(int(sys.argv[2]))]
    except errors.RecordingReadError as e:
        again = str(e)
    problems = [[p.kind, str(p)] for p in r.problems]
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"seqs": seqs, "problems": problems, "again": again, "peak": peak}))
"""


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    capped = processes.with_address_space(ADDRESS_SPACE, command)
    return subprocess.run(capped, capture_output=True, text=True, timeout=60)


def _xdsspy(*args: str) -> subprocess.CompletedProcess[str]:
    return _run(processes.xdsspy_command(*args))


COMMANDS = {"show": ("show",), "export": ("export", "--no-redact")}
"""Without redaction, whose masks are keyed afresh by each run, so that outputs compare."""


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What show and export print for the file without its crafted part."""
    path = tmp_path_factory.mktemp("clean") / "clean.xdsspy"
    path.write_bytes(_header() + BEFORE + AFTER)
    return {name: _xdsspy(*command, str(path)).stdout for name, command in COMMANDS.items()}


def _problem_lines(stderr: str, path: pathlib.Path) -> list[str]:
    assert "Traceback" not in stderr and "MemoryError" not in stderr, stderr[-2000:]
    return [line for line in stderr.splitlines() if line.startswith(f"xdsspy: {path}: byte ")]


@pytest.mark.parametrize("name", CASES)
def test_a_crafted_part_is_refused_in_bounded_memory_and_the_rest_is_read(
    name: str, tmp_path: pathlib.Path, clean: dict[str, str]
) -> None:
    case = CASES[name]
    path = tmp_path / "crafted.xdsspy"
    path.write_bytes(_header() + BEFORE + case.crafted() + AFTER)

    done = _run([sys.executable, "-c", _API, str(path), str(CRAFTED_AT)])
    assert done.returncode == 0, done.stderr[-2000:]
    api = json.loads(done.stdout)
    assert api["seqs"] == [1, 2, 3, 4]
    assert len(api["problems"]) == case.lines and case.says in api["problems"][-1][1]
    assert api["problems"][-1][1].startswith(f"byte {CRAFTED_AT}: ")
    if "memory cap" not in name:  # there the allocation failed instead of being traced
        assert api["peak"] < 64 << 20, f"the reader allocated {api['peak']:,} bytes"
    if case.whole_block:  # read_block, the viewer's random access, refuses it as well
        assert api["again"].startswith(f"{path}: ") and f"block at byte {CRAFTED_AT}" in api["again"]
    else:
        assert api["again"] == []

    for name, command in COMMANDS.items():
        done = _xdsspy(*command, str(path))
        assert done.returncode == 0 and done.stdout == clean[name], done.stderr[-2000:]
        lines = _problem_lines(done.stderr, path)
        assert len(lines) == case.lines and case.says in lines[-1], done.stderr[-2000:]


def test_a_file_header_claiming_4_gib_is_refused_in_one_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "header.xdsspy"
    header = bytearray(_header() + BEFORE)
    header[len(fmt.FILE_MAGIC) : len(fmt.FILE_MAGIC) + 8] = fmt.FILE_HEADER_PREFIX.pack(0xFFFFFFFF, 0)
    path.write_bytes(bytes(header))
    for command in ("show", "export"):
        done = _xdsspy(command, str(path))
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == f"xdsspy: {path}: recording header length 4294967295 is implausible\n"


# -- crafted messages: the reader keeps them byte for byte; the decoders say what they could not read


def _rest_exchange(request: bytes, response: bytes) -> list[model.Event]:
    opened = dataclasses.replace(
        f.topen(seq=1, method="/v3/discovery:clusters"),
        transport=model.Transport.REST,
        http_method="POST",
        http_version="1.1",
    )
    headers = model.ResponseHeadersSeen(
        seq=3, wall_ns=1, monotonic_ns=1, connection=1, stream=1, metadata=(), http_status=200
    )
    return [
        opened,
        f.tmessage(request, REQUEST, seq=2),
        headers,
        f.tmessage(response, RESPONSE, seq=4),
        f.tclose(seq=5),
    ]


def _ads_exchange(request: bytes, response: bytes) -> list[model.Event]:
    return [f.topen(seq=1), f.tmessage(request, REQUEST, seq=2), f.tmessage(response, RESPONSE, seq=3)]


def _nested_fields(depth: int) -> bytes:
    inner = b""
    for _ in range(depth):
        inner = _ld(1, inner)
    return inner


def _deep_struct(depth: int) -> bytes:
    """google.protobuf.Struct nested `depth` deep: {"k": {"k": ...}}."""
    struct = b""
    for _ in range(depth):
        struct = _ld(1, _ld(1, b"k") + _ld(2, _ld(5, struct)))
    return struct


def _unknown_type_nested_deep() -> list[model.Event]:
    response = discovery_pb2.DiscoveryResponse(type_url="type.googleapis.com/foo.Bar", version_info="1")
    response.resources.add(type_url="type.googleapis.com/foo.Bar", value=_nested_fields(100_000))
    return _ads_exchange(_hello(), response.SerializeToString())


def _node_metadata_nested_deep() -> list[model.Event]:
    request = _ld(2, _ld(1, b"n1") + _ld(3, _deep_struct(30_000)))  # DiscoveryRequest.node{id, metadata}
    return _ads_exchange(request, discovery_pb2.DiscoveryResponse(type_url=CDS).SerializeToString())


def _node_id_bad_utf8() -> list[model.Event]:
    request = discovery_pb2.DiscoveryRequest(type_url=CDS)
    request.node.id = "NODEID"
    raw = request.SerializeToString().replace(b"NODEID", b"\xff\xfe\xc0\x80ID")
    return _ads_exchange(raw, discovery_pb2.DiscoveryResponse(type_url=CDS).SerializeToString())


MESSAGES: dict[str, Callable[[], list[model.Event]]] = {
    "protobuf of an unknown type nested 100,000 deep": _unknown_type_nested_deep,
    "node metadata nested 30,000 deep": _node_metadata_nested_deep,
    "a node id in bad UTF-8": _node_id_bad_utf8,
    "REST JSON nested 100,000 deep": lambda: _rest_exchange(
        b'{"node":{"id":"n1","metadata":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_002,
        b"[" * 100_000 + b"]" * 100_000,
    ),
    "REST JSON in bad UTF-8": lambda: _rest_exchange(
        b'{"node":{"id":"\xff\xfe"}}', b'{"version_info":"\xc0\x80","resources":[]}'
    ),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_hostile_message_bodies_are_kept_raw_and_never_crash_show_or_export(
    name: str, tmp_path: pathlib.Path
) -> None:
    events = MESSAGES[name]()
    path = tmp_path / "hostile.xdsspy"
    path.write_bytes(_header() + _block(_records(*events, f.tstop(seq=9))))
    with reader.RecordingReader(path) as r:
        assert [(e.seq, getattr(e, "raw", None)) for e in r.events()] == [
            *((e.seq, getattr(e, "raw", None)) for e in events),
            (9, None),
        ]
        assert r.problems == []
    shown = _xdsspy("show", str(path))
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr[-2000:]
    exported = _xdsspy("export", "--decode", "--no-redact", str(path))
    assert exported.returncode == 0 and "Traceback" not in exported.stderr, exported.stderr[-2000:]
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [*(e.seq for e in events), 9]
    messages = [e for e in events if isinstance(e, model.MessageSeen)]
    exported_raw = [base64.b64decode(line["raw"]) for line in lines if line["event"] == "message"]
    assert exported_raw == [bytes(e.raw) for e in messages]  # byte for byte, whatever the decoders thought


# -- lies the reader passes on as they are, and the tables a file could make it grow


def test_counts_that_lie_are_passed_on_as_written_and_cost_nothing(tmp_path: pathlib.Path) -> None:
    most = 2**64 - 1
    gap = pb.Record(seq=0)
    gap.gap.first_seq, gap.gap.last_seq, gap.gap.records_lost, gap.gap.bytes_lost = 1, most, most, most
    stop = pb.Record(seq=most)
    stop.capture_stop.records_written, stop.capture_stop.records_lost = most, most
    path = tmp_path / "lies.xdsspy"
    path.write_bytes(_header() + BEFORE + _block(_framed(gap) + _framed(stop)) + AFTER)
    with reader.RecordingReader(path) as r:
        events = list(r.events())
        assert r.problems == []
    assert [e.seq for e in events] == [1, 2, 0, most, 3, 4]
    assert isinstance(events[2], model.Gap) and events[2].records_lost == most
    for command in ("show", "export"):
        done = _xdsspy(command, str(path))
        assert done.returncode == 0 and "Traceback" not in done.stderr and str(most) in done.stdout


def test_header_values_in_bad_utf8_are_kept_byte_for_byte(tmp_path: pathlib.Path) -> None:
    opened = dataclasses.replace(f.topen(seq=1), metadata=(("x-bad", b"\xff\xfe\xc0\x80"),))
    path = tmp_path / "values.xdsspy"
    path.write_bytes(_header() + _block(_records(opened, f.tstop(seq=2))))
    assert next(iter(reader.iter_events(path))) == opened
    done = _xdsspy("export", str(path))
    assert json.loads(done.stdout.splitlines()[0])["metadata"] == [["x-bad", {"base64": "//7AgA=="}]]


def test_streams_past_the_limit_are_forgotten_oldest_first_and_said_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_OPEN_STREAMS", 3)
    opens = [f.topen(stream=s, method=f"/m.S/M{s}", seq=s) for s in range(1, 6)]
    messages = [f.tmessage(stream=s, seq=10 + s) for s in range(1, 6)]
    path = tmp_path / "streams.xdsspy"
    path.write_bytes(_header() + _block(_records(*opens, *messages)))
    with reader.RecordingReader(path) as r:
        methods = [e.method for e in r.events() if isinstance(e, model.MessageSeen)]
        assert [p.kind for p in r.problems] == ["too_many_streams"]
    assert methods == ["", "", "/m.S/M3", "/m.S/M4", "/m.S/M5"]


def test_problems_past_the_limit_are_counted_not_listed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_PROBLEMS", 5)
    broken = _block_of(b"\x01\xff", 2, codec_=fmt.Codec.NONE)
    path = tmp_path / "problems.xdsspy"
    path.write_bytes(_header() + BEFORE + broken * 20 + AFTER)
    with reader.RecordingReader(path) as r:
        assert [e.seq for e in r.events()] == [1, 2, 3, 4]
        problems = r.problems
    assert [p.kind for p in problems] == ["bad_record"] * 5 + ["too_many_problems"]
    assert "15 more problems are not listed" in problems[-1].message


def test_the_writer_refuses_what_the_reader_would(tmp_path: pathlib.Path) -> None:
    flood = dataclasses.replace(f.topen(seq=1), metadata=(("k", b"v" * 8),) * (limits.MAX_RECORD_FIELDS + 1))
    with pytest.raises(ValueError, match="more than 10,000 fields"):
        codec.encode(flood)
    just_right = dataclasses.replace(flood, metadata=flood.metadata[:-1000])
    assert list(reader.iter_events(_written(tmp_path, just_right))) == [just_right]


def _written(tmp_path: pathlib.Path, event: model.Event) -> pathlib.Path:
    path = tmp_path / "written.xdsspy"
    path.write_bytes(_header() + _block(_records(event)))
    return path
