"""fields.py: parsing JSON and logfmt lines, the `field=` grammar and every operator, and one parse per line
per batch in the hub."""

from __future__ import annotations

import pytest

from logtail import fields as fields_module
from logtail.cursor import Cursor
from logtail.fields import FieldCache, FieldFilter, parse_field_filters, parse_fields
from logtail.filters import FilterError, LineFilter
from logtail.hub import Hub, Subscription
from logtail.sse import Line

JSON = '{"status": 503, "path": "/api/users", "user": "alice", "latency": 0.25, "ok": false, "tags": ["a"]}'
LOGFMT = 'status=503 path=/api/users user=alice latency=0.25 ok=false msg="upstream \\"db\\" down"'
PLAIN = "2026-10-10 ERROR status=503 path=/api/users user=alice latency=0.25"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": "x", "c": null, "d": {"e": [1, 2]}}', {"a": "1", "b": "x", "c": "null", "d": '{"e":[1,2]}'}),
        ('{"a": "é"}', {"a": "é"}),
        ("[1, 2]", None),
        ("{not json", None),
        ("{" * 100_000, None),  # too deep for the parser: not a structured line, no crash
        ('a=1 b="x y" c= d="q\\"z"', {"a": "1", "b": "x y", "c": "", "d": 'q"z'}),
        ("  a=1   b=2  ", {"a": "1", "b": "2"}),
        ("url=/p?x=1&y=2", {"url": "/p?x=1&y=2"}),
        ('msg="bad \\q escape"', {"msg": "bad \\q escape"}),
        ("a=1 plain words", None),
        ("hello world", None),
        ("", None),
        ('a="unterminated', None),
        ("=1", None),
    ],
)
def test_parse_fields(text: str, expected: dict[str, str] | None) -> None:
    assert parse_fields(text) == expected


@pytest.mark.parametrize(
    ("expr", "key", "op", "value"),
    [
        ("status>=500", "status", ">=", "500"),
        ("status<=500", "status", "<=", "500"),
        ("status>500", "status", ">", "500"),
        ("status<500", "status", "<", "500"),
        ("user:alice", "user", ":", "alice"),
        ("user!:alice", "user", "!:", "alice"),
        ("path~^/api/", "path", "~", "^/api/"),
        ("path~a:b", "path", "~", "a:b"),  # the first operator splits
        ("msg:", "msg", ":", ""),
        ("a b:c d", "a b", ":", "c d"),
    ],
)
def test_grammar(expr: str, key: str, op: str, value: str) -> None:
    f = FieldFilter.parse(expr)
    assert (f.key, f.op, f.value) == (key, op, value)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("status", "no operator"),
        ("", "no operator"),
        (":alice", "empty key"),
        (">=5", "empty key"),
        ("path~(unclosed", "invalid regex"),
        ("path~(a)\\1", "invalid regex"),
        ("status>=abc", "needs a number"),
        ("status<nan", "needs a number"),
        ("user:" + "x" * 1000, "longer than"),
    ],
)
def test_malformed_field_names_the_parameter(expr: str, message: str) -> None:
    with pytest.raises(FilterError, match=message) as info:
        FieldFilter.parse(expr)
    assert str(info.value).startswith("field: ")


def test_too_many_field_filters() -> None:
    with pytest.raises(FilterError, match="field: at most 20"):
        parse_field_filters(f"k{i}:v" for i in range(21))


def test_equal_sets_of_filters_are_one_filter() -> None:
    a = LineFilter(fields=parse_field_filters(["a:1", "b:2", "a:1"]))
    b = LineFilter(fields=parse_field_filters(["b:2", "a:1"]))
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize(
    ("expr", "on_json", "on_logfmt"),
    [
        ("status:503", True, True),
        ("status:500", False, False),
        ("status!:500", True, True),
        ("status!:503", False, False),
        ("missing!:x", True, True),  # a structured line without the key differs from any value
        ("missing:x", False, False),
        ("path~^/api/", True, True),
        ("path~^/users", False, False),
        ("user~LIC", False, False),  # case-sensitive, like regex=
        ("user~(?i)LIC", True, True),
        ("status>=503", True, True),
        ("status>=504", False, False),
        ("status>502", True, True),
        ("status>503", False, False),
        ("status<=503", True, True),
        ("status<503", False, False),
        ("latency<0.5", True, True),
        ("latency>1e-3", True, True),
        ("user>=0", False, False),  # not a number: never matches
        ("missing>=0", False, False),
        ("ok:false", True, True),
        ("msg~db", False, True),
    ],
)
def test_every_operator_on_json_logfmt_and_plain_lines(expr: str, on_json: bool, on_logfmt: bool) -> None:
    f = FieldFilter.parse(expr)
    assert f.matches(parse_fields(JSON)) is on_json
    assert f.matches(parse_fields(LOGFMT)) is on_logfmt
    assert LineFilter(fields=(f,)).matches(PLAIN, None) is False  # a plain line never matches


def test_fields_combine_with_text_level_and_invert() -> None:
    flt = LineFilter(q="alice", invert=True, fields=parse_field_filters(["status>=500"]))
    assert not flt.matches(LOGFMT, None)  # the inverted substring fails
    assert flt.matches('{"status": 500, "user": "bob"}', None)
    assert not flt.matches('{"status": 200, "user": "bob"}', None)
    levels = LineFilter(levels=frozenset({"error"}), fields=parse_field_filters(["status:1"]))
    assert not levels.matches("status=1", "info") and levels.matches("status=1", "error")


def test_field_cache_parses_each_line_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = fields_module.parse_fields

    def counting(text: str) -> dict[str, str] | None:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(fields_module, "parse_fields", counting)
    cache = FieldCache()
    assert cache[LOGFMT] == cache[LOGFMT] == real(LOGFMT)
    assert calls == [LOGFMT]


def test_hub_parses_a_line_once_per_batch_whatever_the_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand clients over a hundred distinct field filters: each line of a batch is parsed once, and
    not at all when no subscriber filters on fields."""
    calls: list[str] = []
    real = fields_module.parse_fields

    def counting(text: str) -> dict[str, str] | None:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(fields_module, "parse_fields", counting)
    hub = Hub(100, 1 << 20)
    subs = [Subscription(["a"], LineFilter(fields=parse_field_filters([f"n:{i % 100}"])), "text", 1 << 20, False)
            for i in range(1000)]
    for s in subs:
        hub.subscribe(["a"], s)
    lines = [Line("a", f"n={i} msg=x", "f", i + 1) for i in range(5)]
    hub.publish("a", lines, Cursor("a", "f", 5))
    assert sorted(calls) == sorted(line.text for line in lines)
    assert subs[3].take() == b"n=3 msg=x\n" and subs[103].take() == b"n=3 msg=x\n" and subs[7].take() == b""

    calls.clear()
    for s in subs:
        hub.unsubscribe(s)
    hub.subscribe(["a"], Subscription(["a"], LineFilter(q="msg"), "text", 1 << 20, False))
    hub.publish("a", [Line("a", "n=1 msg=y", "f", 20)], Cursor("a", "f", 20))
    assert calls == []
