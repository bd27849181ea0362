"""Hostile REST bodies for the JSON envelope decoder: malformed JSON, bad UTF-8, huge numbers, deep nesting.

Whatever the body, `decode_json` gives an Envelope whose `problem` says what was wrong, whose summary is
JSON-ready and whose resources decode: never an exception, RecursionError included (issue 14, point 5).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy import model
from xdsspy.decode import envelope
from xdsspy.decode import resources
from xdsspy.decode import rest

PATHS = [
    "/v3/discovery:clusters",
    "/v2/discovery:listeners",
    "/v3/discovery:secrets?x=1",
    "/v3/discovery:nonsense",
    "/v3/discovery:",
]
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
TYPES = [
    CLUSTER,
    "type.googleapis.com/envoy.api.v2.Cluster",
    "type.googleapis.com/google.protobuf.Struct",
    "type.googleapis.com/google.protobuf.Any",
    "type.googleapis.com/istio.unknown.Config",
    "",
    "nonsense",
]
_KEYS = st.sampled_from(
    [
        "version_info",
        "resources",
        "type_url",
        "@type",
        "name",
        "cluster_name",
        "node",
        "id",
        "metadata",
        "error_detail",
        "code",
        "message",
        "details",
        "response_nonce",
        "nonce",
        "resource_names",
        "control_plane",
        "connect_timeout",
        "typed_config",
        "value",
        "x",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(TYPES),
    st.sampled_from(["1s", "-1s", "1e999s", "NaN"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=30,
)


def _check(path: str, direction: model.Direction, body: bytes | str) -> envelope.Envelope:
    decoded = rest.decode_json(path, direction, body)
    assert isinstance(decoded, envelope.Envelope)
    json.dumps(decoded.summary())
    for decoded_resource in resources.decode_entries(decoded.resources):
        json.dumps(decoded_resource.body)
    return decoded


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    direction=st.sampled_from(model.Direction),
    document=st.dictionaries(_KEYS, _JSON, max_size=6),
)
def test_any_json_object(path: str, direction: model.Direction, document: dict[str, object]) -> None:
    _check(path, direction, json.dumps(document))  # NaN and Infinity included, as Python writes them


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    direction=st.sampled_from(model.Direction),
    body=st.one_of(st.binary(max_size=128), st.text(max_size=64)),
)
def test_any_bytes_or_text(path: str, direction: model.Direction, body: bytes | str) -> None:
    _check(path, direction, body)


REAL = json.dumps(
    {
        "version_info": "1",
        "type_url": CLUSTER,
        "nonce": "n",
        "resources": [
            {"@type": CLUSTER, "name": "a", "connect_timeout": "1s", "type": "EDS"},
            {"@type": "type.googleapis.com/istio.unknown.Config", "name": "b", "x": [1, {"y": None}]},
        ],
        "control_plane": {"identifier": "istiod"},
    }
).encode()


@settings(max_examples=300, deadline=None)
@given(
    direction=st.sampled_from(model.Direction),
    flips=st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(1, 255)), max_size=4),
    insert=st.one_of(
        st.binary(max_size=8), st.sampled_from([b"[", b"{", b"]", b"}", b",", b'"', b"\\u", b"9" * 30])
    ),
    at=st.integers(0, len(REAL)),
    cut=st.integers(0, len(REAL) + 8),
)
def test_flipped_spliced_and_cut_real_bodies(
    direction: model.Direction, flips: list[tuple[int, int]], insert: bytes, at: int, cut: int
) -> None:
    data = bytearray(REAL)
    for position, mask in flips:
        data[position] ^= mask
    _check(PATHS[0], direction, bytes(data[:at] + insert + data[at:])[:cut])


def _deep(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    return opening * depth + closing * depth


@pytest.mark.parametrize(
    "body",
    [
        _deep(100_000),
        _deep(100_000, b'{"a":', b"}"),
        b'{"resources":' + _deep(100_000) + b"}",
        b'{"resources":[{"@type":"x","v":' + _deep(100_000) + b"}]}",
        b'{"node":{"metadata":' + _deep(100_000, b'{"a":', b"}") + b"}}",
        *(b'{"node":' + _deep(depth) + b"}" for depth in range(985, 1000)),  # parsed, then too deep to print
        *(b'{"resources":[{"@type":"x","v":' + _deep(depth) + b"}]}" for depth in range(985, 1000)),
    ],
)
@pytest.mark.parametrize("direction", model.Direction)
def test_nesting_past_the_recursion_limit_is_a_problem_not_a_crash(
    body: bytes, direction: model.Direction
) -> None:
    _check(PATHS[0], direction, body)


def test_100000_nested_arrays_say_why_they_are_not_read() -> None:
    decoded = _check(PATHS[0], model.Direction.RESPONSE, _deep(100_000))
    assert decoded.problem == rest._TOO_DEEP


@pytest.mark.parametrize(
    "body",
    [
        b'{"version_info":' + b"9" * 5000 + b"}",  # past int()'s 4300 digits
        b'{"resources":[{"@type":"' + CLUSTER.encode() + b'","per_connection_buffer_limit_bytes":1e999}]}',
        b'{"resources":[{"@type":"' + CLUSTER.encode() + b'","name":"\xff\xfe"}]}',  # bad UTF-8
        b'{"version_info":"\\ud800"}',  # a lone surrogate escaped
        b'{"resources":[{"@type":"' + CLUSTER.encode() + b'","connect_timeout":"99999999999999999999s"}]}',
        b'{"resources":[{"@type":"type.googleapis.com/google.protobuf.Any","value":"!!"}]}',
        b"\xef\xbb\xbf{}",  # a byte order mark
        b'{"resources":[{"@type":null}]}',  # json_format raised AttributeError for an "@type" not a string
        b'{"resources":[{"@type":5}, {"@type":{}}, {"@type":[]}]}',
        b'{"error_detail":{"details":[{"@type":null}]}}',
        b'{"resources":[{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":null}}]}',
        b'{"node":{"id":"n","metadata":{"a":{"@type":null}}}}',
    ],
)
def test_odd_values_are_problems_not_crashes(body: bytes) -> None:
    for direction in model.Direction:
        _check(PATHS[0], direction, body)
