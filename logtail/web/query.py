"""Stream parameters, parsed once: the one parser behind the stream shortcut and the FastAPI routes.

A stream request is answered by `fastpath.StreamFastPath` (past FastAPI's routing, for memory per connection)
and is described by the FastAPI routes in `routes.py` (the OpenAPI schema). Both take their parameters from
here: `PARAMETERS` is the schema and `parse_stream` the rules, so a parameter cannot be accepted by one path
and refused or ignored by the other. Parsing is pure: it needs the query string, the `Last-Event-ID` header
and the settings, and raises `QueryError` with the status and a message that names the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import parse_qsl

from logtail.config import Settings
from logtail.core.cursor import Cursor, parse_cursors
from logtail.core.frames import Format
from logtail.core.ranges import NumberTooLong, refuse_long_number
from logtail.core.subscription import OVERFLOWS, Overflow
from logtail.match.fields import FIELD_HELP, MAX_FIELD_FILTERS, parse_field_filters, split_field
from logtail.match.filters import MAX_PATTERN_CHARS, FilterError, LineFilter
from logtail.match.levels import LEVELS
from logtail.match.patterns import CompileBudget
from logtail.match.timestamps import SINCE_HELP, parse_since

MAX_BACKLOG = 100_000
MAX_LOGS = 200
MAX_ID_CHARS = 65536
MAX_SINCE_CHARS = 64
MAX_FIELDS = 1000  # query parameters read at the most: past that the request is refused, not truncated
FORMATS: tuple[str, ...] = get_args(Format)
_DIGITS = re.compile(r"[0-9]{1,9}")
# The spellings of a boolean that FastAPI (pydantic) accepts, which links in the wild already use.
_BOOLS = {"1": True, "true": True, "t": True, "yes": True, "y": True, "on": True,
          "0": False, "false": False, "f": False, "no": False, "n": False, "off": False}


# The parameters that hold numbers (a cursor holds an offset): over-long ones are refused first, with 400.
NUMERIC_STREAM = ("backlog", "since", "last_event_id")


class QueryError(Exception):
    """A parameter is wrong: answer `status` with `detail`, which names the parameter."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class StreamParams:
    """What a stream request asks for, once its parameters are known to be valid."""

    names: list[str]
    filter: LineFilter
    fmt: Format
    backlog: int
    cursors: dict[str, Cursor]
    multi: bool
    since: float | None = None  # start at the lines written from this moment on (time.time() seconds)
    overflow: Overflow = "catchup"


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


FILTER_PARAMETERS: list[dict[str, Any]] = [
    _param("q", {"type": "string", "maxLength": MAX_PATTERN_CHARS}, "Only lines containing this substring"),
    _param("regex", {"type": "string", "maxLength": MAX_PATTERN_CHARS}, "Only lines matching this RE2 pattern"),
    _param("ignore_case", {"type": "boolean"}, "Case-insensitive q and regex"),
    _param("invert", {"type": "boolean"}, "Only lines that do NOT match q/regex"),
    _param("level", {"type": "array", "items": {"type": "string"}},
           f"Only these levels: {', '.join(LEVELS)} (repeat or comma-separate)", style="form", explode=True),
    _param("field", {"type": "array", "items": {"type": "string"}}, FIELD_HELP, style="form", explode=True),
]
PARAMETERS: list[dict[str, Any]] = [
    *FILTER_PARAMETERS,
    _param("backlog", {"type": "integer", "minimum": 0, "maximum": MAX_BACKLOG},
           "Last N complete lines first (default --backlog, at most --window-lines)"),
    _param("format", {"type": "string", "enum": list(FORMATS), "default": "sse"}, "Wire format"),
    _param("last_event_id", {"type": "string", "maxLength": MAX_ID_CHARS},
           "Resume after this event id (the Last-Event-ID header wins)"),
    _param("since", {"type": "string", "maxLength": MAX_SINCE_CHARS}, SINCE_HELP),
    _param("overflow", {"type": "string", "enum": list(OVERFLOWS), "default": "catchup"},
           "When this client reads slower than lines arrive and its queue is full: `catchup` (default) serves it "
           "the lines it is behind on from memory and the files, at its pace, then live again, none lost or "
           "repeated; `skip` drops newer lines until it drains, then sends a `gap` notice with the number "
           "missed (for viewers that only want the latest lines)"),
]
LOG_PARAMETER = _param("log", {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_LOGS},
                       "Log names (repeat)", style="form", explode=True, required=True)
_SINGLE = {p["name"] for p in PARAMETERS if p["schema"]["type"] != "array"}


def parse_stream(query_string: bytes, last_event_id_header: str | None, path_name: str | None,
                 settings: Settings, now: float) -> StreamParams:
    """The parameters of `/api/logs/{path_name}/stream`, or with `path_name` None of `/api/stream`;
    `now` is the time a relative `since=` counts back from."""
    return check_stream(query_string, last_event_id_header, path_name, settings, now).build()


def check_stream(query_string: bytes, last_event_id_header: str | None, path_name: str | None,
                 settings: Settings, now: float) -> StreamRequest:
    """Every parameter checked, and nothing compiled yet: the first half of `parse_stream`, cheap enough for
    the event loop (counts and sizes are known before any pattern is compiled)."""
    single, many = _split(query_string, {"level", "field", "log"} if path_name is None else {"level", "field"})
    refuse_long_numbers(single.items(), NUMERIC_STREAM)
    spec = filter_spec(single, many.get("level", []), many.get("field", []))
    fmt = single.get("format", "sse")
    if fmt not in FORMATS:
        raise QueryError(422, f"format: must be one of {', '.join(FORMATS)}")
    overflow = single.get("overflow", "catchup")
    if overflow not in OVERFLOWS:
        raise QueryError(422, f"overflow: must be one of {', '.join(OVERFLOWS)}")
    backlog = _backlog(single.get("backlog"), settings)
    last_event_id = single.get("last_event_id")
    if last_event_id is not None and len(last_event_id) > MAX_ID_CHARS:
        raise QueryError(422, f"last_event_id: at most {MAX_ID_CHARS} characters")
    # The header wins: browsers send it only on their own reconnect, so it is newer than any id that was
    # written into the URL when the stream was first opened.
    cursors = parse_cursors(last_event_id_header or last_event_id)
    # A reconnect carries an id: it resumes from there and must not replay from `since` again.
    since = _since(single.get("since"), now) if not cursors else None
    names = _names(many.get("log", [])) if path_name is None else [path_name]
    return StreamRequest(spec, names, fmt, backlog, cursors, path_name is None, since, overflow)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FilterSpec:
    """A filter's parameters, checked for size and count but not compiled (`build` compiles)."""

    q: str
    regex: str
    ignore_case: bool
    invert: bool
    levels: frozenset[str]
    fields: tuple[str, ...]  # distinct, at most MAX_FIELD_FILTERS

    @property
    def has_patterns(self) -> bool:
        """Whether building compiles an RE2 pattern: worth a worker thread."""
        return bool(self.regex) or any("~" in f for f in self.fields)

    def build(self) -> LineFilter:
        """The filter, compiled within one request's budget (`CompileBudget`); 400 when it is not valid."""
        budget = CompileBudget()
        try:
            fields = parse_field_filters(self.fields, budget)
            budget.check("regex: ")
            return LineFilter(self.q, self.regex, self.ignore_case, self.invert, self.levels, fields)
        except FilterError as exc:
            raise QueryError(400, str(exc)) from None


@dataclass(frozen=True)
class StreamRequest:
    """A stream request whose parameters are all checked; `build` compiles its filter."""

    spec: FilterSpec
    names: list[str]
    fmt: Format
    backlog: int
    cursors: dict[str, Cursor]
    multi: bool
    since: float | None
    overflow: Overflow

    def build(self, line_filter: LineFilter | None = None) -> StreamParams:
        """The parameters, with `line_filter` if it was compiled elsewhere (the heavy pool), else compiled here."""
        line_filter = self.spec.build() if line_filter is None else line_filter
        return StreamParams(self.names, line_filter, self.fmt, self.backlog, self.cursors, self.multi,
                            self.since, self.overflow)


def parse_filter(single: dict[str, str], levels: Iterable[str], fields: Iterable[str]) -> LineFilter:
    """The line filter of a stream or a search; 422 for a malformed value, 400 for a filter that is not
    valid (a regex RE2 cannot compile, an unknown level, a malformed field filter)."""
    return filter_spec(single, levels, fields).build()


def filter_spec(single: dict[str, str], levels: Iterable[str], fields: Iterable[str]) -> FilterSpec:
    """The checks of `parse_filter` that compile nothing: lengths, counts, booleans."""
    for name in ("q", "regex"):
        if len(single.get(name, "")) > MAX_PATTERN_CHARS:
            raise QueryError(422, f"{name}: at most {MAX_PATTERN_CHARS} characters")
    flags = [_bool(name, single.get(name)) for name in ("ignore_case", "invert")]
    wanted = frozenset(v.strip().lower() for item in levels for v in item.split(",") if v.strip())
    unknown = wanted - set(LEVELS)
    if unknown:
        raise QueryError(400, f"level: unknown level {sorted(unknown)[0]!r} (use {', '.join(LEVELS)})")
    distinct = tuple(dict.fromkeys(fields))  # repeats compile once (and count once)
    if len(distinct) > MAX_FIELD_FILTERS:
        raise QueryError(400, f"field: at most {MAX_FIELD_FILTERS} field filters")
    try:
        for expr in distinct:
            split_field(expr)
    except FilterError as exc:
        raise QueryError(400, str(exc)) from None
    return FilterSpec(single.get("q", ""), single.get("regex", ""), flags[0], flags[1], wanted, distinct)


def _split(query_string: bytes, repeated: set[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Known single parameters (the last one counts, as in FastAPI) and repeated ones; others are ignored.
    Decoded as Starlette decodes them (percent-escapes as UTF-8, invalid bytes replaced)."""
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise QueryError(422, f"query: more than {MAX_FIELDS} parameters") from None
    single: dict[str, str] = {}
    many: dict[str, list[str]] = {}
    for key, value in pairs:
        if key in repeated:
            many.setdefault(key, []).append(value)
        elif key in _SINGLE:
            single[key] = value
    return single, many


def refuse_long_numbers(params: Iterable[tuple[str, str]], names: Iterable[str]) -> None:
    """400 naming the parameter for a number of more than `ranges.MAX_DIGITS` digits in any of `names`."""
    wanted = set(names)
    try:
        for name, value in params:
            if name in wanted:
                refuse_long_number(name, value)
    except NumberTooLong as exc:
        raise QueryError(400, str(exc)) from None


def _names(values: list[str]) -> list[str]:
    names = list(dict.fromkeys(values))  # keep order, drop repeats
    if not names:
        raise QueryError(422, "log: give at least one log name")
    if len(names) > MAX_LOGS:
        raise QueryError(422, f"log: at most {MAX_LOGS} logs on one stream")
    return names


def _bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return _BOOLS[value.strip().lower()]
    except KeyError:
        raise QueryError(422, f"{name}: must be true or false (or 1/0, yes/no, on/off)") from None


def _since(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    if len(value) > MAX_SINCE_CHARS:
        raise QueryError(422, f"since: at most {MAX_SINCE_CHARS} characters")
    try:
        return parse_since(value.strip(), now)
    except ValueError as exc:
        raise QueryError(422, str(exc)) from None


def _backlog(value: str | None, settings: Settings) -> int:
    if value is None:
        return min(settings.backlog, settings.window_lines)
    text = value.strip()
    # Length first: int() of thousands of digits is refused by Python itself (and costs quadratic time).
    if not _DIGITS.fullmatch(text) or int(text) > MAX_BACKLOG:
        raise QueryError(422, f"backlog: must be a whole number from 0 to {MAX_BACKLOG}")
    if int(text) > settings.window_lines:
        raise QueryError(422, f"backlog: at most {settings.window_lines} (the retained window)")
    return int(text)
