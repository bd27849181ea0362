"""What each `~x` filter tests on a timeline row, and how a type name or service matches type URLs.

The table `FILTERS` defines the filters of the language in `filterexpr`: a
definition's `build` turns its argument into a test on a `Subject` (a row) or
raises `BadArgument`; the same table writes the help screen (`help_rows`) and
the parser's error messages. Regexes and globs are compiled once per filter,
and type matching is cached per type URL.
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import functools
import math
import re
import warnings
from collections.abc import Callable
from typing import Protocol

from xdsspy.decode import methods
from xdsspy.state import protocol
from xdsspy.viewmodel import words

V = protocol.VerdictKind


class Subject(Protocol):
    """What a filter reads from a row. `names` are the resource names a message carries, asks for or
    rejects; `direction` is "request" (Envoy to control plane), "response", or "" for rows that are
    not messages, whose `verdict` is None too."""

    @property
    def type_url(self) -> str: ...
    @property
    def node(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def verdict(self) -> protocol.VerdictKind | None: ...
    @property
    def direction(self) -> str: ...
    @property
    def rest(self) -> bool: ...
    @property
    def delta(self) -> bool: ...
    @property
    def size(self) -> int: ...


Test = Callable[[Subject], bool]


class BadArgument(Exception):
    """A filter's argument is wrong; `index` is into the argument text, mapped to a column by the parser."""

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


# -- resource types -------------------------------------------------------------------------------


@functools.cache
def _service_types() -> dict[str, frozenset[str]]:
    """CDS -> {envoy.config.cluster.v3.Cluster, envoy.api.v2.Cluster}; ADS, LRS, CSDS, HDS -> {}."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for info in methods.known_methods():
        if info.service:
            names = found[info.service.upper()]
            if info.implied_type_url:
                names.add(words.type_name(info.implied_type_url))
    return {service: frozenset(names) for service, names in found.items()}


def type_matcher(wanted: str) -> Callable[[str], bool]:
    """A test on type URLs: a short name (cluster, any case; "Cluster(v2)" for v2 only), a full message
    name, a type URL, or a service (CDS, EDS, ECDS, ...). Short names and services match v2 and v3
    alike. The empty type URL never matches. Results are cached per type URL."""
    text = wanted.strip()
    if "/" in text or "." in text:
        full = words.type_name(text)

        def matches(type_url: str) -> bool:
            return bool(type_url) and words.type_name(type_url) == full

    else:
        v2_only = text.lower().endswith("(v2)")
        word = text[:-4] if v2_only else text
        short = word.lower()
        services = _service_types().get(word.upper(), frozenset())

        def matches(type_url: str) -> bool:
            name = words.type_name(type_url)
            if not name or (v2_only and not words.is_v2(name)):
                return False
            return name[name.rfind(".") + 1 :].lower() == short or name in services

    return functools.lru_cache(maxsize=1024)(matches)


@functools.lru_cache(maxsize=1024)
def _type_words(type_url: str) -> str:
    """What a quick search sees of a type: its short name and the services that carry it, lower case."""
    name = words.type_name(type_url)
    services = [service for service, names in _service_types().items() if name in names]
    return "\n".join([name[name.rfind(".") + 1 :], *services]).lower()


# -- the filters ----------------------------------------------------------------------------------

_WANTS_A_TYPE = "a type such as cluster, CDS or envoy.config.cluster.v3.Cluster"
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:([kmg])(i?b)?|b)?", re.IGNORECASE)
_CACHED_NODES = 4096


def _type_test(argument: str) -> Test:
    wanted = argument.strip()
    if not wanted:
        raise BadArgument(f"~t needs {_WANTS_A_TYPE}")
    if _service_types().get(wanted.upper()) == frozenset():
        raise BadArgument(f"{wanted} streams carry no single resource type; name {_WANTS_A_TYPE}")
    matches = type_matcher(wanted)
    return lambda s: matches(s.type_url)


def _regex(argument: str, token: str) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            # re warns on stderr about patterns like "[[" (a future set syntax); a full-screen UI is
            # drawing there, and the pattern means today what it always meant.
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(argument)
    except re.error as e:
        raise BadArgument(f"{token}: bad regular expression: {e.msg}", e.pos or 0) from None
    except (OverflowError, RecursionError) as e:
        raise BadArgument(f"{token}: bad regular expression: {e}") from None


def _names_test(argument: str) -> Test:
    search = _regex(argument, "~n").search
    if "|" in argument and search("") is not None:  # a pasted Istio name: outbound|80||reviews
        at = argument.find("||") if "||" in argument else argument.find("|")
        raise BadArgument(r"~n: this regex matches every name; write \| for a | in a name", at)

    def test(s: Subject) -> bool:
        for name in s.names:
            if search(name) is not None:
                return True
        return False

    return test


def _glob(pattern: str, token: str) -> Callable[[str], bool]:
    """Equal to the pattern or matching it as a shell pattern (case-sensitive, like fnmatchcase)."""
    try:
        match = _regex(fnmatch.translate(pattern), token).match
    except BadArgument:  # translate escapes what it does not understand; kept in case it ever does not
        raise BadArgument(f"{token}: bad pattern") from None
    return lambda text: text == pattern or match(text) is not None


def _node_test(argument: str) -> Test:
    matches = _glob(argument, "~node")
    seen: dict[str, bool] = {}  # few nodes, many rows

    def test(s: Subject) -> bool:
        node = s.node
        hit = seen.get(node)
        if hit is None:
            short = words.short_node(node)
            hit = matches(node) or (short != node and matches(short))
            if len(seen) >= _CACHED_NODES:
                seen.clear()
            seen[node] = hit
        return hit

    return test


def _version_test(argument: str) -> Test:
    matches = _glob(argument, "~v")
    return lambda s: matches(s.version)


def _parse_size(text: str) -> int:
    """Bytes from "512", "10k", "1.5M", "1G" (k = 1024; "KiB" too) or "10kB" (= 10000, as the size
    column counts). Raises ValueError."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    number, unit, suffix = found.groups()
    base = 1000 if suffix is not None and suffix.lower() == "b" else 1024
    value = float(number) * float(base) ** " kmg".index((unit or " ").lower())
    if not math.isfinite(value) or value > 2**62:
        raise ValueError(f"size too large: {text!r}")
    return math.ceil(value)


def _size_test(argument: str) -> Test:
    try:
        least = _parse_size(argument)
    except ValueError:
        what = f", not {argument!r}" if argument.strip() else ""
        raise BadArgument(f"~big needs a size such as 10k or 2M{what}") from None
    return lambda s: s.size >= least


_VERDICT_WORDS = {kind.value: kind for kind in protocol.VerdictKind}
"""Verdicts by the word the timeline shows for them: a bare `nack` finds the NACKs, as `~nack` does."""


def quick_test(word: str) -> Test:
    """A bare word's test: node id, version, type (short name, services) or a resource name contains it,
    or the word is the row's verdict (nack, ack, push, stale...)."""
    needle = word.lower()
    verdict = _VERDICT_WORDS.get(needle.replace("-", "_"))

    def test(s: Subject) -> bool:
        if verdict is not None and s.verdict is verdict:
            return True
        if needle in s.node.lower() or needle in s.version.lower() or needle in _type_words(s.type_url):
            return True
        for name in s.names:
            if needle in name.lower():
                return True
        return False

    return test


def _flag(test: Test) -> Callable[[str], Test]:
    return lambda _argument: test


@dataclasses.dataclass(frozen=True, slots=True)
class Definition:
    """One filter: `build` turns its argument ("" for flags) into a test or raises BadArgument."""

    token: str
    help: str
    build: Callable[[str], Test]
    argument: str = ""  # what the help calls the argument; "" when the filter takes none
    wants: str = ""  # completes "~big needs ..."


FILTERS = (
    Definition(
        "~t",
        "resource type: a short name (cluster, Cluster(v2)), a full name, a type URL or a service "
        "(CDS, EDS, ECDS...); v2 and v3 alike",
        _type_test,
        "TYPE",
        _WANTS_A_TYPE,
    ),
    Definition(
        "~n",
        "a resource name carried, asked for or rejected matches REGEX (\\| for a |; (?i) for any case)",
        _names_test,
        "REGEX",
        "a regular expression such as ^outbound",
    ),
    Definition(
        "~node",
        "node id, or its Istio short form (reviews-v1-abc.default), is GLOB or matches it (*, ?, [...])",
        _node_test,
        "GLOB",
        "a node id or a pattern such as reviews-*",
    ),
    Definition(
        "~v",
        "version_info is VERSION or matches it as a pattern (*, ?, [...])",
        _version_test,
        "VERSION",
        "a version or a pattern such as 2024-*",
    ),
    Definition("~nack", "Envoy rejected a response (NACK)", _flag(lambda s: s.verdict is V.NACK)),
    Definition("~ack", "Envoy accepted a response (ACK)", _flag(lambda s: s.verdict is V.ACK)),
    Definition(
        "~push",
        "a response that changes resources (TTL heartbeats, which change none, are not pushes)",
        _flag(lambda s: s.verdict is V.PUSH),
    ),
    Definition(
        "~stale",
        "a request echoing an older nonce than the newest response (servers ignore it)",
        _flag(lambda s: s.verdict is V.STALE),
    ),
    Definition("~req", "a request: Envoy to control plane", _flag(lambda s: s.direction == "request")),
    Definition("~resp", "a response: control plane to Envoy", _flag(lambda s: s.direction == "response")),
    Definition("~rest", "REST polling (not a gRPC stream)", _flag(lambda s: s.rest)),
    Definition("~delta", "Delta xDS", _flag(lambda s: s.delta)),
    Definition(
        "~sotw",
        "state-of-the-world xDS, REST included (LRS, CSDS and other non-xDS messages are not)",
        _flag(lambda s: not s.delta and s.verdict is not V.OTHER),
    ),
    Definition(
        "~big",
        "at least SIZE bytes: 512, 10k, 1.5M, 1G (k = 1024; 10kB = 10000 as the size column counts)",
        _size_test,
        "SIZE",
        "a size such as 10k or 2M",
    ),
)
BY_TOKEN = {definition.token: definition for definition in FILTERS}
"""Each filter's definition by its token (lower case), for the parser."""
_QUICK_HELP = (
    "quick search: node id, type (Cluster, CDS), a resource name or version contains WORD (any case), "
    "or WORD is the row's verdict (nack, ack, push, stale)"
)
_OPERATOR_HELP = (
    ("!X", "not X"),
    ("X & Y, X Y", "both X and Y"),
    ("X | Y", "X or Y or both; ! binds tightest, then &, then |"),
    ("( X )", "grouping"),
    ("\"...\" '...'", 'an argument with spaces or a leading ! ~ (; \\" and \\\\ inside'),
    ("a|b", "& and | inside a word are part of it (outbound|80||reviews), unless a space, ~ ! ( ) follows"),
)


def help_rows() -> list[tuple[str, str]]:
    """(syntax, description) for every filter, the quick search and the operators, for a help screen."""
    rows = [(f"{d.token} {d.argument}".rstrip(), d.help) for d in FILTERS]
    return [*rows, ("WORD", _QUICK_HELP), *_OPERATOR_HELP]
