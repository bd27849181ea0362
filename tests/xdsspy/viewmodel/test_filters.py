"""Filter definitions: every filter on hand-made rows, type matching, sizes, quick search and help."""

from __future__ import annotations

import dataclasses

import pytest

from xdsspy.state import protocol
from xdsspy.viewmodel import filterexpr
from xdsspy.viewmodel import filters
from xdsspy.viewmodel import words

V = protocol.VerdictKind
PREFIX = "type.googleapis.com/"
CLUSTER = PREFIX + "envoy.config.cluster.v3.Cluster"
CLUSTER_V2 = PREFIX + "envoy.api.v2.Cluster"
EDS = PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
EDS_V2 = PREFIX + "envoy.api.v2.ClusterLoadAssignment"
LISTENER = PREFIX + "envoy.config.listener.v3.Listener"
ECDS = PREFIX + "envoy.config.core.v3.TypedExtensionConfig"
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


# -- ~t ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wanted", ["cluster", "Cluster", "CLUSTER", "CDS", "cds", "envoy.config.cluster.v3.Cluster"]
)
def test_type_by_short_name_service_or_full_name(wanted: str) -> None:
    assert matches(f"~t {wanted}", Row(type_url=CLUSTER))
    assert not matches(f"~t {wanted}", Row(type_url=EDS))


def test_type_url_and_full_name_pick_one_api_version() -> None:
    assert matches(f"~t {CLUSTER}", Row(type_url=CLUSTER))
    assert not matches(f"~t {CLUSTER}", Row(type_url=CLUSTER_V2))
    assert matches("~t envoy.api.v2.Cluster", Row(type_url=CLUSTER_V2))
    assert not matches("~t envoy.api.v2.Cluster", Row(type_url=CLUSTER))


def test_short_names_and_services_match_v2_and_v3_alike_and_v2_can_be_asked_for() -> None:
    for text in ("~t cluster", "~t CDS"):
        assert matches(text, Row(type_url=CLUSTER_V2)) and matches(text, Row(type_url=CLUSTER))
    assert matches("~t EDS", Row(type_url=EDS_V2))
    assert matches("~t Cluster(v2)", Row(type_url=CLUSTER_V2))
    assert not matches("~t Cluster(v2)", Row(type_url=CLUSTER))
    assert matches("~t CDS(v2)", Row(type_url=CLUSTER_V2))
    assert not matches("~t CDS(v2)", Row(type_url=CLUSTER))


@pytest.mark.parametrize(
    ("service", "type_name"),
    [
        ("LDS", "envoy.config.listener.v3.Listener"),
        ("RDS", "envoy.config.route.v3.RouteConfiguration"),
        ("SDS", "envoy.extensions.transport_sockets.tls.v3.Secret"),
        ("SDS", "envoy.api.v2.auth.Secret"),
        ("ECDS", "envoy.config.core.v3.TypedExtensionConfig"),
        ("VHDS", "envoy.config.route.v3.VirtualHost"),
        ("VHDS", "envoy.api.v2.route.VirtualHost"),
        ("RTDS", "envoy.service.runtime.v3.Runtime"),
        ("RTDS", "envoy.service.discovery.v2.Runtime"),
        ("SRDS", "envoy.config.route.v3.ScopedRouteConfiguration"),
        ("LEDS", "envoy.config.endpoint.v3.LbEndpoint"),
    ],
)
def test_service_names(service: str, type_name: str) -> None:
    assert matches(f"~t {service}", Row(type_url=PREFIX + type_name))
    assert matches(f"~t {service.lower()}", Row(type_url=PREFIX + type_name))
    assert not matches(f"~t {service}", Row(type_url=CLUSTER))


def test_type_never_matches_rows_without_one() -> None:
    assert not matches("~t cluster", Row(type_url=""))
    assert not filters.type_matcher("")("")


def test_type_matcher_is_public_and_behaves_as_show_type() -> None:
    cds = filters.type_matcher("CDS")
    assert cds(CLUSTER_V2) and cds("x/envoy.config.cluster.v3.Cluster")
    assert not filters.type_matcher("Cluster")(EDS)
    assert filters.type_matcher("eds")(EDS) and filters.type_matcher("ClusterLoadAssignment")(EDS)
    assert filters.type_matcher(" ECDS ")(ECDS)


def test_type_matching_is_cached_per_type_url(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = words.type_name

    def counting(type_url: str) -> str:
        calls.append(type_url)
        return real(type_url)

    flt = filterexpr.compile("~t eds")
    monkeypatch.setattr(words, "type_name", counting)
    rows = [Row(type_url=CLUSTER), Row(type_url=EDS)] * 500
    assert sum(flt(row) for row in rows) == 500
    assert sorted(calls) == sorted([CLUSTER, EDS])


def test_services_without_a_type_are_refused() -> None:
    e = error("~t ADS")
    assert "ADS streams carry no single resource type" in e.message and e.position == 3


# -- ~n, ~node, ~v ---------------------------------------------------------------------------------


def test_names_regex_searches_every_name() -> None:
    row = Row(names=("a", "outbound|9080||ratings.default.svc.cluster.local"))
    assert matches("~n ratings", row)
    assert matches(r"~n ^outbound\|9080", row)
    assert matches("~n ^a$", row)
    assert not matches("~n ^ratings", row)
    assert not matches("~n Ratings", row), "case-sensitive"
    assert matches('~n "(?i)Ratings"', row)
    assert not matches("~n .", Row(names=()))


def test_a_regex_python_warns_about_prints_nothing_and_still_matches(
    capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    """re warns on stderr about "[[" (possible future set syntax): a full-screen UI draws there."""
    assert matches("~n [[]x", Row(names=("[x",)))
    assert [w for w in recwarn if issubclass(w.category, FutureWarning)] == []
    assert capsys.readouterr().err == ""


def test_a_names_regex_that_matches_everything_because_of_a_pasted_bar_is_refused() -> None:
    e = error("~n outbound|9080||reviews")
    assert e.message == r"~n: this regex matches every name; write \| for a | in a name"
    assert e.position == 3 + len("outbound|9080")
    assert error("~n '|a'").position == 4
    assert matches("~n .*", Row(names=("x",))), "a regex may match everything on purpose"


@pytest.mark.parametrize(
    ("pattern", "node", "expected"),
    [
        ("envoy-1", "envoy-1", True),
        ("envoy-*", "envoy-1", True),
        ("envoy-?", "envoy-12", False),
        ("envoy", "envoy-1", False),
        ("ENVOY-1", "envoy-1", False),
        ("reviews-v1-abc.default", ISTIO_NODE, True),
        ("reviews-*", ISTIO_NODE, True),
        ("*.default", ISTIO_NODE, True),
        ("sidecar~10.0.0.1~*", ISTIO_NODE, True),
        (ISTIO_NODE, ISTIO_NODE, True),
        ("ratings-*", ISTIO_NODE, False),
        ("10.0.0.1", ISTIO_NODE, False),
        ("[x]", "[x]", True),
    ],
)
def test_node_globs_and_the_istio_short_form(pattern: str, node: str, expected: bool) -> None:
    assert matches(f"~node '{pattern}'", Row(node=node)) is expected


def test_node_results_stay_right_past_the_cache_size() -> None:
    flt = filterexpr.compile("~node 'n-1*'")
    nodes = [f"n-{i}" for i in range(5000)]
    assert [n for n in nodes if flt(Row(node=n))] == [n for n in nodes if n.startswith("n-1")]
    assert [n for n in nodes if flt(Row(node=n))] == [n for n in nodes if n.startswith("n-1")]


def test_version_equals_or_matches_a_pattern() -> None:
    assert matches("~v v1", Row(version="v1"))
    assert not matches("~v v1", Row(version="v10"))
    assert matches("~v 'v1*'", Row(version="v10"))
    assert matches("~v '2024-0?-*'", Row(version="2024-05-01T10:00"))
    assert matches("~v ''", Row(version="")) and not matches("~v ''", Row(version="v1"))


# -- flags and sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "kind"),
    [("~nack", V.NACK), ("~ack", V.ACK), ("~push", V.PUSH), ("~stale", V.STALE)],
)
def test_verdict_flags_match_their_kind_only(flag: str, kind: protocol.VerdictKind) -> None:
    for other in [*V, None]:
        assert matches(flag, Row(verdict=other)) is (other is kind), other


def test_heartbeats_are_not_pushes() -> None:
    assert not matches("~push", Row(verdict=V.HEARTBEAT))
    assert "heartbeat" in dict(filters.help_rows())["~push"].lower()


def test_direction_and_transport_flags() -> None:
    assert matches("~req", Row(direction="request")) and not matches("~req", Row(direction="response"))
    assert matches("~resp", Row(direction="response")) and not matches("~resp", Row(direction=""))
    assert matches("~rest", Row(rest=True)) and not matches("~rest", Row())
    assert matches("~delta", Row(delta=True)) and not matches("~delta", Row())
    assert matches("~sotw", Row()) and matches("~sotw", Row(rest=True, verdict=V.POLL))
    assert not matches("~sotw", Row(delta=True))
    assert not matches("~sotw", Row(verdict=V.OTHER)), "LRS and CSDS are not state-of-the-world xDS"


@pytest.mark.parametrize(
    ("size", "least"),
    [
        ("512", 512),
        ("10k", 10 * 1024),
        ("10K", 10 * 1024),
        ("10KiB", 10 * 1024),
        ("1.5M", 1536 * 1024),
        ("1G", 1024**3),
        ("10kB", 10_000),
        ("2MB", 2_000_000),
        ("7b", 7),
        (".5k", 512),
        ("0.1k", 103),
    ],
)
def test_big_sizes(size: str, least: int) -> None:
    assert matches(f"~big {size}", Row(size=least))
    assert not matches(f"~big {size}", Row(size=least - 1))


# -- quick search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "row"),
    [
        ("ENVOY-1", Row(node="envoy-1")),
        ("reviews-v1", Row(node=ISTIO_NODE)),
        ("clusterload", Row(type_url=EDS)),
        ("eds", Row(type_url=EDS, names=())),
        ("RATINGS", Row(names=("x", "outbound|80||ratings"))),
        ("2024-05", Row(version="2024-05-01")),
    ],
)
def test_quick_search_looks_at_node_type_names_and_version(word: str, row: Row) -> None:
    assert matches(word, row)
    assert not matches(word, Row(node="n", type_url=LISTENER, names=("l",), version="1"))


def test_a_bare_verdict_word_finds_that_verdict_as_its_filter_does() -> None:
    nack, ack = Row(verdict=V.NACK, direction="request"), Row(verdict=V.ACK, direction="request")
    assert matches("nack", nack) and matches("NACK", nack) and not matches("nack", ack)
    assert matches("ack", ack) and not matches("ack", nack)  # the verdict, not a substring of it
    assert matches("push", Row()) and not matches("push", ack)
    assert matches("nack", Row(verdict=V.PUSH, names=("snack-bar",)))  # names are still searched


def test_quick_search_sees_the_short_type_only() -> None:
    assert not matches("envoy", Row(node="n", type_url=CLUSTER, names=(), version=""))
    assert not matches("v3", Row(node="n", type_url=CLUSTER, names=(), version=""))


# -- help ----------------------------------------------------------------------------------------

EXAMPLE_ARGUMENTS = {"TYPE": "cds", "REGEX": "^a", "GLOB": "n*", "VERSION": "1", "SIZE": "10k"}


def test_help_rows_cover_every_filter_and_operator() -> None:
    rows = filters.help_rows()
    assert all(syntax and description for syntax, description in rows)
    filter_rows = [syntax for syntax, _ in rows if syntax.startswith("~")]
    listed = error("~x").message.split("filters: ")[1].split()
    assert [syntax.split()[0] for syntax in filter_rows] == listed
    for syntax in filter_rows:
        token, *argument = syntax.split()
        text = token + (f" {EXAMPLE_ARGUMENTS[argument[0]]}" if argument else "")
        assert str(filterexpr.compile(text)) == text
        if argument:
            assert error(token).message.startswith(f"{token} needs ")
    syntaxes = " ".join(syntax for syntax, _ in rows)
    for operator in ("!", "&", "|", "(", ")", "WORD", '"'):
        assert operator in syntaxes
