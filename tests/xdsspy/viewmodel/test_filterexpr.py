"""Filter expressions: precedence, quoting, normalized text, errors with columns, fuzzing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from xdsspy.state import protocol
from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import filters

V = protocol.VerdictKind
PREFIX = "type.googleapis.com/"
CLUSTER = PREFIX + "envoy.config.cluster.v3.Cluster"
EDS = PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
EDS_V2 = PREFIX + "envoy.api.v2.ClusterLoadAssignment"
ISTIO_NODE = "sidecar~10.0.0.1~reviews-v1-abc.default~default.svc.cluster.local"


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """A timeline row as the filters see it: satisfies filters.Subject."""

    type_url: str = CLUSTER
    node: str = "envoy-1"
    version: str = "v1"
    names: tuple[str, ...] = ("outbound|80||reviews",)
    verdict: protocol.VerdictKind | None = V.PUSH
    direction: str = "response"
    rest: bool = False
    delta: bool = False
    size: int = 100


def matches(text: str, row: Row) -> bool:
    return filterexpr.compile(text)(row)


def error(text: str) -> filterexpr.FilterError:
    with pytest.raises(filterexpr.FilterError) as raised:
        filterexpr.compile(text)
    return raised.value


# -- combinations --------------------------------------------------------------------------------


def test_precedence_not_then_and_then_or() -> None:
    flt = filterexpr.compile("~t cds | ~t eds & ~nack")
    assert str(flt) == "~t cds | ~t eds & ~nack"
    assert flt(Row(type_url=CLUSTER, verdict=V.PUSH)), "parsed as ~t cds | (~t eds & ~nack)"
    assert flt(Row(type_url=EDS, verdict=V.NACK))
    assert not flt(Row(type_url=EDS, verdict=V.PUSH))
    grouped = filterexpr.compile("(~t cds | ~t eds) & ~nack")
    assert str(grouped) == "(~t cds | ~t eds) & ~nack"
    assert not grouped(Row(type_url=CLUSTER, verdict=V.PUSH))
    negated = filterexpr.compile("!~t cds & ~nack")
    assert negated(Row(type_url=EDS, verdict=V.NACK)), "! binds tighter than &"
    assert not negated(Row(type_url=CLUSTER, verdict=V.PUSH))
    assert str(filterexpr.compile("!(~t cds & ~nack)")) == "!(~t cds & ~nack)"


def test_adjacent_terms_mean_and() -> None:
    flt = filterexpr.compile("~t eds ~nack reviews")
    assert str(flt) == "~t eds & ~nack & reviews"
    assert flt(Row(type_url=EDS, verdict=V.NACK, names=("reviews",)))
    assert not flt(Row(type_url=EDS, verdict=V.NACK, names=("ratings",)))
    assert not flt(Row(type_url=EDS, verdict=V.ACK, names=("reviews",)))
    assert str(filterexpr.compile("~nack !~rest")) == "~nack & !~rest"


def test_or_and_not_chains() -> None:
    flt = filterexpr.compile("~ack|~nack|~stale")
    assert [flt(Row(verdict=k)) for k in (V.ACK, V.NACK, V.STALE, V.PUSH)] == [True, True, True, False]
    assert filterexpr.compile("!!~nack")(Row(verdict=V.NACK))
    assert not filterexpr.compile("!!!~nack")(Row(verdict=V.NACK))
    assert str(filterexpr.compile("((~nack)) | ((~ack | ~push))")) == "~nack | ~ack | ~push"


def test_empty_expression_matches_everything() -> None:
    for text in ("", "   ", "\t\n"):
        flt = filterexpr.compile(text)
        assert flt(Row()) and flt(Row(verdict=None, direction="")) and str(flt) == "" and not flt.active
        assert flt.text == text
    assert filterexpr.compile("~nack").active


def test_filter_tokens_ignore_case() -> None:
    assert str(filterexpr.compile("~NACK | ~T cds")) == "~nack | ~t cds"


# -- quoting -------------------------------------------------------------------------------------


def test_quoted_arguments() -> None:
    assert matches('~n "a b"', Row(names=("x a b",)))
    assert matches("~n 'a b'", Row(names=("a b",)))
    assert matches(r"~n 'it\'s'", Row(names=("it's",)))
    assert matches(r'~n "say \"hi\""', Row(names=('say "hi"',)))
    assert matches(r'~n "a\.b"', Row(names=("a.b",))) and not matches(r'~n "a\.b"', Row(names=("axb",)))
    assert matches(r'~n "\\\\"', Row(names=("back\\slash",)))
    assert matches('"~nack"', Row(names=("~nack-ish",), verdict=V.PUSH)), "quoted: a word, not a filter"
    assert matches('~n "!x"', Row(names=("!x",)))


def test_unquoted_words_keep_backslashes_and_balanced_parentheses() -> None:
    assert matches(r"~n a\.b", Row(names=("a.b",))) and not matches(r"~n a\.b", Row(names=("axb",)))
    flt = filterexpr.compile("~n ^(ratings|reviews)$ & ~nack")
    assert flt(Row(names=("reviews",), verdict=V.NACK)) and not flt(Row(names=("reviews2",), verdict=V.NACK))
    assert str(flt) == '~n "^(ratings|reviews)$" & ~nack'
    assert str(filterexpr.compile("(~t Cluster(v2))")) == '~t "Cluster(v2)"'


def test_and_or_inside_a_word_belong_to_it_unless_an_operator_reads_better() -> None:
    istio = "outbound|9080||reviews.default.svc.cluster.local"
    flt = filterexpr.compile("outbound|9080||reviews.default & ~nack")
    assert str(flt) == '"outbound|9080||reviews.default" & ~nack'
    assert flt(Row(names=(istio,), verdict=V.NACK))
    assert not flt(Row(names=("outbound|9080||ratings.default",), verdict=V.NACK))
    assert matches(r"~n ^outbound\|9080\|\|reviews", Row(names=(istio,)))
    assert str(filterexpr.compile("~t cds|~t eds")) == "~t cds | ~t eds"
    assert str(filterexpr.compile("reviews&~nack|(~ack)")) == "reviews & ~nack | ~ack"
    assert str(filterexpr.compile("~n a|b|!~rest")) == '~n "a|b" | !~rest'
    assert str(filterexpr.compile("~nack!~rest|~ack'x'")) == "~nack & !~rest | ~ack & x"
    assert str(filterexpr.compile("~n 'a b'~nack")) == '~n "a b" & ~nack'


def test_normalized_form_quotes_what_needs_it_and_parses_back() -> None:
    flt = filterexpr.compile(r"""~node 'a "b" \\c' | ~v "" | ~n x""")
    again = filterexpr.compile(str(flt))
    assert str(again) == str(flt) == r'~node "a \"b\" \\c" | ~v "" | ~n x'
    assert again(Row(node='a "b" \\c')) and flt(Row(node='a "b" \\c'))


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("~foo", "unknown filter ~foo; filters: ~t ~n ~node ~v ~nack ~ack ~push", 0),
        ("~nack & ~nak", "unknown filter ~nak; did you mean ~nack?", 8),
        ("~", "unknown filter ~;", 0),
        ("~big", "~big needs a size such as 10k or 2M", 4),
        ("~big & ~nack", "~big needs a size such as 10k or 2M", 5),
        ("~big 10x", "~big needs a size such as 10k or 2M, not '10x'", 5),
        ("~big ''", "~big needs a size such as 10k or 2M", 5),
        ("~big 1e3", "~big needs a size such as 10k or 2M, not '1e3'", 5),
        ("~big " + "9" * 400, "~big needs a size", 5),
        ("~t", "~t needs a type such as cluster, CDS", 2),
        ("~t ~nack", "~t needs a type such as cluster, CDS or envoy.config.cluster.v3.Cluster (quote", 3),
        ("~n !x", "~n needs a regular expression such as ^outbound (quote an argument", 3),
        ("~node", "~node needs a node id or a pattern", 5),
        ("~v )", "~v needs a version", 3),
        ("~n 'a[b'", "~n: bad regular expression: unterminated character set", 5),
        ("~n a)b(", "unexpected ) with no ( before it", 4),
        ("~n ab(c", "~n: bad regular expression: missing ), unterminated subpattern", 5),
        pytest.param("~n '" + "(" * 3000 + "a" + ")" * 3000 + "'", "~n: bad regular", 4, id="deep-regex"),
        ("~n 'a{99999999999}'", "~n: bad regular expression", 4),
        ("~t (cds", "~t needs a type", 3),
        ("~nack (~t cds", "missing ) for ( at column 7", 6),
        ("((~nack)", "missing ) for ( at column 1", 0),
        ("(", "missing ) for ( at column 1", 0),
        ("~nack )", "unexpected ) with no ( before it", 6),
        (")", "unexpected ) with no ( before it", 0),
        ("~nack ()", "empty parentheses", 6),
        ("~nack &", "& needs a filter after it", 6),
        ("~nack & | ~ack", "& needs a filter after it", 6),
        ("~nack |", "| needs a filter after it", 6),
        ("(~nack |)", "| needs a filter after it", 7),
        ("| ~nack", "| needs a filter before it", 0),
        ("& ~nack", "& needs a filter before it", 0),
        ("~nack !", "! needs a filter after it", 6),
        ("!!", "! needs a filter after it", 1),
        ("~nack 'abc", "missing closing ' for the quote at column 7", 6),
        ('~n "a\\"', 'missing closing " for the quote at column 4', 3),
        pytest.param("(" * 40 + "~nack" + ")" * 40, "parentheses nested deeper than 32", 32, id="deep"),
    ],
)
def test_errors_say_what_and_where(text: str, message: str, column: int) -> None:
    e = error(text)
    assert isinstance(e, ValueError)
    assert e.message.startswith(message), e.message
    assert str(e) == e.message
    assert e.position == column, (e.message, e.position)


def test_unknown_filter_lists_every_filter_from_the_table() -> None:
    listed = error("~x").message.split("filters: ")[1].split()
    assert listed == [syntax.split()[0] for syntax, _ in filters.help_rows()[: len(listed)]]


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert matches("(" * 32 + "~nack" + ")" * 32, Row(verdict=V.NACK))


# -- fuzzing -------------------------------------------------------------------------------------

SAMPLE_ROWS = [
    Row(),
    Row(type_url="", node="", version="", names=(), verdict=None, direction="", size=0),
    Row(type_url=EDS_V2, node=ISTIO_NODE, verdict=V.NACK, direction="request", delta=True, size=10**6),
    Row(type_url="weird", rest=True, verdict=V.OTHER, names=("(", "~", "\\")),
]
GRAMMAR = st.sampled_from(
    ["~t", "~n", "~node", "~v", "~nack", "~big", "~push", "~x", "~", "!", "&", "|", "(", ")", " ", "'", '"',
     "\\", "cds", "Cluster(v2)", "*", "[", "10k", "1.5M", "a{2", "(?i)", "ADS", "\t", "é"]
)  # fmt: skip


def _check(text: str) -> None:
    try:
        flt = filterexpr.compile(text)
    except filterexpr.FilterError as e:
        assert 0 <= e.position <= len(text) and e.message
        return
    results = [flt(row) for row in SAMPLE_ROWS]
    assert all(isinstance(result, bool) for result in results)
    again = filterexpr.compile(str(flt))
    assert str(again) == str(flt), "the normalized form parses back to itself"
    assert [again(row) for row in SAMPLE_ROWS] == results


@settings(max_examples=1500, deadline=None)
@given(st.text())
def test_any_text_gives_a_filter_or_a_filter_error(text: str) -> None:
    _check(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(GRAMMAR, max_size=14).map("".join))
def test_token_soup_gives_a_filter_or_a_filter_error(text: str) -> None:
    _check(text)


def test_imports_no_ui_or_grpc() -> None:
    code = "import json, sys; from xdsspy.viewmodel import filterexpr; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert [m for m in loaded if m.split(".")[0] in ("rich", "textual", "grpc")] == []
