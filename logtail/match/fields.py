"""Fields of structured lines, and the `field=` filters over them.

A line has fields when it is a JSON object, or a logfmt line made only of `key=value` pairs (values may
be quoted: `msg="disk full"`). Only top-level keys count; a nested JSON value is its compact JSON text.
A line that is neither has no fields and never matches a field filter.

A field filter is `KEY OP VALUE`: `:` equals (as text), `!:` differs (a structured line without the key
differs too), `~` RE2 regex searched in the value, `>=` `<=` `>` `<` compare numbers (a value that is not a
number never matches). Parsing a line costs far more than testing a filter, so the hub parses each line of a
batch at most once, on first need, through a `FieldCache` shared by all of the batch's filters.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logtail.match.patterns import CompileBudget, FilterError, searcher

Fields = dict[str, str]

FIELD_HELP = (
    "Only JSON or logfmt lines whose top-level field passes KEY OP VALUE; OP is `:` (equals), `!:` (differs), "
    "`~` (RE2 regex, unanchored) or `>=` `<=` `>` `<` (numbers), e.g. status>=500, path~^/api/, user:alice. "
    "Repeat: all must hold. A plain line never passes."
)
MAX_FIELD_CHARS = 1000
MAX_FIELD_FILTERS = 20
OPERATORS = ("!:", ":", "~", ">=", "<=", ">", "<")  # tried in this order at each position (the page too)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
# The key is everything before the first operator, so `a>=1` is `a` `>=` `1` and `path~a:b` is a regex.
_GRAMMAR = re.compile(r"(?s)(.*?)(" + "|".join(map(re.escape, OPERATORS)) + r")(.*)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# One logfmt pair and the spaces after it; a quoted value may hold escaped quotes. Linear: no nesting.
# Written in the syntax Python and JavaScript share: the dashboard compiles the same text (static/fields.js).
LOGFMT_PAIR = r'([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))(?:\s+|$)'
_PAIR = re.compile(LOGFMT_PAIR)


class FieldedText(str):
    """A line's text that carries fields of its own: a journal entry's MESSAGE with the entry's fields. When
    the text is itself JSON or logfmt its fields count too (parsed on first use; the carried ones win). Field
    filters read `fields` instead of parsing the text; a plain `str` (every file line) is untouched. Two
    entries with the same text may carry different fields, so their fields are never looked up by text
    (`FieldCache` is skipped: see `LineFilter.matches`)."""

    carried: Fields  # the fields it came with
    _merged: Fields | None

    def __new__(cls, text: str, carried: Fields) -> FieldedText:
        self = super().__new__(cls, text)
        self.carried = carried
        self._merged = None
        return self

    @property
    def fields(self) -> Fields:
        if self._merged is None:
            own = parse_fields(str(self))
            self._merged = {**own, **self.carried} if own else self.carried
        return self._merged


def parse_fields(text: str) -> Fields | None:
    """The top-level fields of a JSON object or logfmt line, or None for any other line."""
    if type(text) is not str and isinstance(text, FieldedText):
        return text.fields
    if text.startswith("{"):
        return json_fields(text)
    return logfmt_fields(text)


def json_fields(text: str) -> Fields | None:
    """The top-level fields of a JSON object, or None."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting in untrusted text
        return None
    if not isinstance(obj, dict):
        return None
    return {key: _as_text(value) for key, value in obj.items()}


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value)  # true, false, null and numbers as JSON writes them


def logfmt_fields(text: str) -> Fields | None:
    """The pairs of a line made only of logfmt pairs, or None."""
    pos = len(text) - len(text.lstrip())
    if pos == len(text):
        return None
    fields: Fields = {}
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if m is None:
            return None  # not made only of pairs: a plain line
        quoted = m.group(2)
        fields[m.group(1)] = m.group(3) if quoted is None else _unquote(quoted)
        pos = m.end()
    return fields


def _unquote(inner: str) -> str:
    if "\\" not in inner:
        return inner
    try:
        return str(json.loads(f'"{inner}"'))  # logfmt writers escape like JSON (\" \\ \n \t \uXXXX)
    except ValueError:
        return inner


def as_number(text: str) -> float | None:
    """`text` as a finite number, or None (NaN, infinities and words are not numbers)."""
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def split_field(expr: str) -> tuple[str, str, str]:
    """`KEY OP VALUE` split, and checked as far as it can be without compiling a pattern; FilterError naming
    `field` when malformed."""
    shown = repr(expr[:100])
    if len(expr) > MAX_FIELD_CHARS:
        raise FilterError(f"field: longer than {MAX_FIELD_CHARS} characters")
    m = _GRAMMAR.fullmatch(expr)
    if m is None:
        raise FilterError(f"field: {shown} has no operator (use KEY:VALUE, KEY!:VALUE, KEY~REGEX, "
                          "KEY>=N, KEY<=N, KEY>N or KEY<N)")
    key, op, value = m.group(1), m.group(2), m.group(3)
    if not key:
        raise FilterError(f"field: {shown} has an empty key")
    if op in _COMPARE and as_number(value) is None:
        raise FilterError(f"field: {key}{op} needs a number, not {value[:100]!r}")
    return key, op, value


class FieldCache(dict[str, "Fields | None"]):
    """Fields by line text for one batch of one log: each distinct line is parsed at most once, on first use,
    by `parse` (the log's parser; by default JSON and logfmt lines are recognised)."""

    def __init__(self, parse: Callable[[str], Fields | None] | None = None) -> None:
        super().__init__()
        self.parse = parse or parse_fields

    def __missing__(self, text: str) -> Fields | None:
        fields = self[text] = self.parse(text)
        return fields


@dataclass(frozen=True, order=True)
class FieldFilter:
    key: str
    op: str
    value: str
    _test: Callable[[str], bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_test", self._tester())

    @classmethod
    def parse(cls, expr: str) -> FieldFilter:
        """`KEY OP VALUE`; FilterError naming `field` when malformed."""
        return cls(*split_field(expr))

    def _tester(self) -> Callable[[str], bool]:
        op, value = self.op, self.value
        if op == ":":
            return value.__eq__
        if op == "!:":
            return value.__ne__
        if op == "~":
            return searcher(value, False, f"field: {self.key}~: ")
        limit = as_number(value)
        if limit is None:
            raise FilterError(f"field: {self.key}{op} needs a number, not {value[:100]!r}")
        compare = _COMPARE[op]

        def test(text: str) -> bool:
            number = as_number(text)
            return number is not None and compare(number, limit)

        return test

    def matches(self, fields: Fields | None) -> bool:
        if fields is None:
            return False
        found = fields.get(self.key)
        if found is None:
            return self.op == "!:"
        return self._test(found)


def parse_field_filters(exprs: Iterable[str], budget: CompileBudget | None = None) -> tuple[FieldFilter, ...]:
    """The distinct filters of the `field` parameters in one order, so that equal sets compare equal.

    Repeats are dropped and the count is checked before anything is compiled: a `~` filter compiles an RE2
    pattern, and a thousand copies of one costly pattern must cost one compile or a refusal, not a thousand.
    """
    distinct = list(dict.fromkeys(exprs))
    if len(distinct) > MAX_FIELD_FILTERS:
        raise FilterError(f"field: at most {MAX_FIELD_FILTERS} field filters")
    for expr in distinct:
        split_field(expr)
    filters = set()
    for expr in distinct:
        if budget is not None:
            budget.check("field: ")
        filters.add(FieldFilter.parse(expr))
    return tuple(sorted(filters))
