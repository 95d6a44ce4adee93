"""Stream parameters: one pure parser, tested from a table of queries and exact outcomes."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from logtail.config import Settings
from logtail.core.cursor import Cursor
from logtail.match.filters import LineFilter
from logtail.web.query import QueryError, StreamParams, parse_stream

SETTINGS = Settings(backlog=10, window_lines=1000)


def parse(query: str | list[tuple[str, str]], path_name: str | None = "a", header: str | None = None) -> StreamParams:
    text = query if isinstance(query, str) else urlencode(query)
    return parse_stream(text.encode(), header, path_name, SETTINGS, 1_800_000_000.0)


def test_defaults() -> None:
    assert parse("") == StreamParams(["a"], LineFilter(), "sse", 10, {}, False)


def test_every_parameter() -> None:
    p = parse("q=x&regex=y%2B&ignore_case=yes&invert=ON&level=error,warn&level=info&backlog=5&format=ndjson"
              "&last_event_id=a%3D0123456789ab%3A7&unknown=1")
    assert p == StreamParams(["a"], LineFilter("x", "y+", True, True, frozenset({"error", "warn", "info"})),
                             "ndjson", 5, {"a": Cursor("a", "0123456789ab", 7)}, False)


def test_the_header_wins_over_the_url_id_and_the_last_repeat_counts() -> None:
    p = parse("last_event_id=a%3D0123456789ab%3A7&backlog=1&backlog=2", header="a=0123456789ab:9")
    assert p.cursors == {"a": Cursor("a", "0123456789ab", 9)} and p.backlog == 2


def test_multi_log_names_keep_order_and_drop_repeats() -> None:
    p = parse([("log", "b"), ("log", "a"), ("log", "b")], path_name=None)
    assert p.names == ["b", "a"] and p.multi


@pytest.mark.parametrize(("query", "path_name", "status", "detail"), [
    ("backlog=-1", "a", 422, "backlog: must be a whole number from 0 to 100000"),
    ("backlog=1.5", "a", 422, "backlog: must be a whole number"),
    ("backlog=100001", "a", 422, "backlog: must be a whole number"),
    ("backlog=1001", "a", 422, "backlog: at most 1000 (the retained window)"),
    ("format=xml", "a", 422, "format: must be one of sse, text, ndjson"),
    ("ignore_case=maybe", "a", 422, "ignore_case: must be true or false (or 1/0, yes/no, on/off)"),
    ("invert=2", "a", 422, "invert: must be true or false"),
    ("q=" + "x" * 1001, "a", 422, "q: at most 1000 characters"),
    ("regex=(", "a", 400, "invalid regex"),
    ("level=loud", "a", 400, "level: unknown level 'loud'"),
    ("last_event_id=" + "x" * 65537, "a", 422, "last_event_id: at most 65536 characters"),
    ("", None, 422, "log: give at least one log name"),
    (urlencode([("log", f"l{i}") for i in range(201)]), None, 422, "log: at most 200 logs on one stream"),
    ("&".join(["x=1"] * 1001), "a", 422, "query: more than 1000 parameters"),
])
def test_errors_name_the_parameter(query: str, path_name: str | None, status: int, detail: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query, path_name)
    assert info.value.status == status and info.value.detail.startswith(detail)
