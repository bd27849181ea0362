"""Hostile filter expressions: long runs and deep nests that test_filterexpr's short fuzz texts never reach.

test_filterexpr already fuzzes arbitrary short text and token soup; here the inputs are tens of
thousands of characters (a paste gone wrong, a held key): `compile` still answers with a Filter or a
FilterError pointing inside the text, without recursion past its nesting limit (issue 14, point 5).
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy.state import protocol
from xdsspy.viewmodel import filterexpr


class Row:
    """A timeline row with everything a filter reads (satisfies filters.Subject)."""

    type_url = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    node = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local"
    version = "v1"
    names = ("outbound|9080||reviews.default.svc.cluster.local",)
    verdict = protocol.VerdictKind.NACK
    direction = "response"
    rest = False
    delta = False
    size = 1 << 20


def _check(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # re's "possible nested set" for [[ in a regex
        try:
            flt = filterexpr.compile(text)
        except filterexpr.FilterError as e:
            assert 0 <= e.position <= len(text) and e.message
            return
        assert flt(Row()) in (True, False)
        assert str(filterexpr.compile(str(flt))) == str(flt)


@pytest.mark.parametrize(
    "text",
    [
        "!" * 100_000 + "~nack",
        "(" * 100_000 + "~nack",
        "(" * 32 + "!" * 1000 + "x" + ")" * 32,
        "()" * 50_000,
        ")" * 100_000,
        "~" + "nack" * 25_000,  # an unknown filter: the did-you-mean search must stay quick
        "~n " + "a" * 100_000,
        "~n " + "[" * 50_000,
        "~n '" + "(" * 5_000 + "'",  # a regex nested past re's own limits
        "a " * 50_000,
        "a | " * 50_000 + "a",
        "a & " * 50_000,
        '"' + '\\"' * 50_000 + '"',
        '"' + "a" * 100_000,
        "a(" * 50_000,
        "~big " + "9" * 5_000,  # past int()'s digit limit
        "~big 1e999",
        "\x00" * 1000 + "\udcff",
    ],
    ids=lambda text: f"{text[:12]!r}x{len(text)}",
)
def test_long_and_deep_expressions(text: str) -> None:
    _check(text)


_PIECES = st.sampled_from(
    ["!", "(", ")", "&", "|", " ", "~nack", "~t", "cds", "'", '"', "\\", "~n", "[", "a|b"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_PIECES, st.integers(1, 3000)), min_size=1, max_size=4))
def test_long_runs_of_any_token(runs: list[tuple[str, int]]) -> None:
    _check("".join(piece * count for piece, count in runs))
