"""Filter expressions over timeline rows (`~t cds & ~nack | reviews`): parsed once, run as closures.

The language follows mitmproxy's filters: `~x ARG` filters from the table
`filters.FILTERS` (which also writes the help screen and the error messages),
bare words as a quick search, `!`, `&` (or just a space), `|` and parentheses,
with `!` binding tightest and `|` loosest. `compile` turns the text into nested
closures, so a row costs a few attribute reads and no tree walk. Whatever the
input, `compile` returns a `Filter` or raises `FilterError` with a column to
point at.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
from collections.abc import Sequence

from xdsspy.viewmodel import filters


class FilterError(ValueError):
    """An expression that does not parse: what is wrong, and the 0-based column to put a caret under."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# -- tokens ---------------------------------------------------------------------------------------


class _Kind(enum.Enum):
    WORD = "word"
    FILTER = "filter"
    NOT = "!"
    AND = "&"
    OR = "|"
    OPEN = "("
    CLOSE = ")"


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str  # a word's text with quotes and escapes removed
    start: int
    end: int
    columns: tuple[int, ...] = ()  # a quoted word: the column of each character of `text`

    def column(self, index: int) -> int:
        """The column of the argument's character at `index` (a regex error's position)."""
        if self.columns:
            return self.columns[index] if 0 <= index < len(self.columns) else self.end - 1
        return min(self.start + max(index, 0), self.end - 1)


_OPERATORS = {"!": _Kind.NOT, "&": _Kind.AND, "|": _Kind.OR, "(": _Kind.OPEN, ")": _Kind.CLOSE}
_FILTER_END = re.compile(r"[\s()&|!'\"]")
_QUOTES = "'\""
_STARTS_A_TERM = frozenset("~!()'\"")


def _quoted(text: str, start: int) -> _Token:
    """A quoted word from text[start] (the quote): backslash escapes quotes and itself, nothing else."""
    quote = text[start]
    chars: list[str] = []
    columns: list[int] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "\\'\"":
            i += 1
            char = text[i]
        elif char == quote:
            return _Token(_Kind.WORD, "".join(chars), start, i + 1, tuple(columns))
        chars.append(char)
        columns.append(i)
        i += 1
    raise FilterError(f"missing closing {quote} for the quote at column {start + 1}", start)


def _word_end(text: str, i: int) -> int:
    """Where an unquoted word starting at i ends: at a space or an unbalanced ), or at an & or | that
    reads as an operator (followed by a space, the end, ~ ! ( ) or a quote). So Istio's
    outbound|9080||reviews, regexes like a|b or ^(a|b)$, and Cluster(v2) need no quotes."""
    depth = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            break
        if depth == 0 and (char == ")" or (char in "&|" and _operator_follows(text, i + 1))):
            break
        depth += char == "("
        depth -= char == ")"
        i += 1
    return i


def _operator_follows(text: str, i: int) -> bool:
    return i == len(text) or text[i].isspace() or text[i] in _STARTS_A_TERM


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    i = 0
    while i < len(text):
        char = text[i]
        kind = _OPERATORS.get(char)
        if char.isspace():
            i += 1
            continue
        if kind is not None:
            token = _Token(kind, char, i, i + 1)
        elif char in _QUOTES:
            token = _quoted(text, i)
        elif char == "~":
            found = _FILTER_END.search(text, i)
            end = found.start() if found is not None else len(text)
            token = _Token(_Kind.FILTER, text[i:end], i, end)
        else:
            end = _word_end(text, i)
            token = _Token(_Kind.WORD, text[i:end], i, end)
        tokens.append(token)
        i = token.end
    return tokens


# -- parsing and compiling ------------------------------------------------------------------------

_MAX_DEPTH = 32
_OR_LEVEL, _AND_LEVEL, _TERM_LEVEL = 0, 1, 2
_NEEDS_QUOTES = re.compile(r"[\s()&|'\"]|^[!~]|^$")


@dataclasses.dataclass(frozen=True, slots=True)
class _Compiled:
    """A parsed piece: its test, its normalized text, and how loosely it binds (for parentheses)."""

    test: filters.Test
    source: str
    level: int


def quote(word: str) -> str:
    """word as one argument of an expression: quoted only when it must be."""
    if _NEEDS_QUOTES.search(word) is None:
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _all(parts: Sequence[_Compiled]) -> _Compiled:
    tests = tuple(part.test for part in parts)
    source = " & ".join(p.source if p.level >= _AND_LEVEL else f"({p.source})" for p in parts)
    if len(tests) == 2:
        first, second = tests
        return _Compiled(lambda s: first(s) and second(s), source, _AND_LEVEL)

    def test(s: filters.Subject) -> bool:
        for each in tests:
            if not each(s):
                return False
        return True

    return _Compiled(test, source, _AND_LEVEL)


def _any(parts: Sequence[_Compiled]) -> _Compiled:
    tests = tuple(part.test for part in parts)
    source = " | ".join(part.source for part in parts)
    if len(tests) == 2:
        first, second = tests
        return _Compiled(lambda s: first(s) or second(s), source, _OR_LEVEL)

    def test(s: filters.Subject) -> bool:
        for each in tests:
            if each(s):
                return True
        return False

    return _Compiled(test, source, _OR_LEVEL)


class _Parser:
    """Recursive descent: or := and ("|" and)*; and := not (["&"] not)*; not := "!"* atom;
    atom := "(" or ")" | FILTER [WORD] | WORD."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def parse(self) -> _Compiled | None:
        if not self.tokens:
            return None
        parsed = self._or()
        extra = self.peek()
        if extra is not None:  # only an unmatched ) stops _or early
            raise FilterError("unexpected ) with no ( before it", extra.start)
        return parsed

    def _after(self, operator: _Token) -> None:
        following = self.peek()
        if following is None or following.kind in (_Kind.CLOSE, _Kind.AND, _Kind.OR):
            raise FilterError(f"{operator.text} needs a filter after it", operator.start)

    def _or(self) -> _Compiled:
        parts = [self._and()]
        while (token := self.peek()) is not None and token.kind is _Kind.OR:
            self.at += 1
            self._after(token)
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _any(parts)

    def _and(self) -> _Compiled:
        parts = [self._not()]
        while (token := self.peek()) is not None and token.kind not in (_Kind.OR, _Kind.CLOSE):
            if token.kind is _Kind.AND:
                self.at += 1
                self._after(token)
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else _all(parts)

    def _not(self) -> _Compiled:
        bangs = 0
        while (token := self.peek()) is not None and token.kind is _Kind.NOT:
            self.at += 1
            bangs += 1
            self._after(token)
        inner = self._atom()
        if not bangs:
            return inner
        source = inner.source if inner.level >= _TERM_LEVEL else f"({inner.source})"
        test = inner.test
        negated: filters.Test = (lambda s: not test(s)) if bangs % 2 else test
        return _Compiled(negated, "!" * bangs + source, _TERM_LEVEL)

    def _atom(self) -> _Compiled:
        token = self.tokens[self.at]  # _after and the loops above make sure there is one
        self.at += 1
        if token.kind is _Kind.OPEN:
            return self._group(token)
        if token.kind is _Kind.FILTER:
            return self._filter(token)
        if token.kind is _Kind.WORD:
            return _Compiled(filters.quick_test(token.text), quote(token.text), _TERM_LEVEL)
        if token.kind is _Kind.CLOSE:  # only a leading ) gets here
            raise FilterError("unexpected ) with no ( before it", token.start)
        raise FilterError(f"{token.text} needs a filter before it", token.start)  # a leading & or |

    def _group(self, opening: _Token) -> _Compiled:
        if self.depth >= _MAX_DEPTH:
            raise FilterError(f"parentheses nested deeper than {_MAX_DEPTH}", opening.start)
        first = self.peek()
        if first is not None and first.kind is _Kind.CLOSE:
            raise FilterError("empty parentheses", opening.start)
        inner = None
        if first is not None:
            self.depth += 1
            inner = self._or()
            self.depth -= 1
        if inner is None or self.peek() is None:  # _or stops only at the end or at a )
            raise FilterError(f"missing ) for ( at column {opening.start + 1}", opening.start)
        self.at += 1
        return inner

    def _filter(self, token: _Token) -> _Compiled:
        definition = filters.BY_TOKEN.get(token.text.lower())
        if definition is None:
            raise FilterError(_unknown(token.text), token.start)
        if not definition.argument:
            return _Compiled(definition.build(""), definition.token, _TERM_LEVEL)
        argument = self.peek()
        if argument is None or argument.kind is not _Kind.WORD:
            message = f"{definition.token} needs {definition.wants}"
            if argument is not None and argument.kind in (_Kind.NOT, _Kind.FILTER):
                message += " (quote an argument that starts with ! or ~)"
            raise FilterError(message, argument.start if argument is not None else len(self.text))
        self.at += 1
        try:
            test = definition.build(argument.text)
        except filters.BadArgument as e:
            raise FilterError(e.message, argument.column(e.index)) from None
        return _Compiled(test, f"{definition.token} {quote(argument.text)}", _TERM_LEVEL)


def _unknown(token: str) -> str:
    tokens = [definition.token for definition in filters.FILTERS]
    close = difflib.get_close_matches(token.lower(), tokens, n=1)
    hint = f" did you mean {close[0]}?" if close else ""
    return f"unknown filter {token};{hint} filters: {' '.join(tokens)}"


# -- the API --------------------------------------------------------------------------------------


def _everything(_subject: filters.Subject) -> bool:
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """A compiled expression. Call it on a row; `matches` is the same test without the method call,
    for loops over many rows. `str()` gives the normalized form ("" when it matches everything)."""

    text: str
    matches: filters.Test
    normalized: str

    @property
    def active(self) -> bool:
        """False when the filter matches everything (an empty expression)."""
        return bool(self.normalized)

    def __call__(self, subject: filters.Subject) -> bool:
        return self.matches(subject)

    def __str__(self) -> str:
        return self.normalized


def compile(text: str) -> Filter:
    """Parse `text` into a Filter; raises FilterError (a ValueError) with the column of the problem."""
    parsed = _Parser(text).parse()
    if parsed is None:
        return Filter(text, _everything, "")
    return Filter(text, parsed.test, parsed.source)
