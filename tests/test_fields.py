"""fields.py: parsing JSON and logfmt lines, the `field=` grammar and every operator, and one parse per line
per batch in the hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.match import fields as fields_module
from logtail.match.fields import FieldCache, FieldFilter, parse_field_filters, parse_fields
from logtail.match.filters import FilterError, LineFilter
from tests.support import LogtailServer

Start = Callable[..., LogtailServer]

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


@pytest.fixture
def parsed_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts `parse_fields` is called on from now on (a spy: it still parses)."""
    calls: list[str] = []
    real = fields_module.parse_fields

    def counting(text: str) -> dict[str, str] | None:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(fields_module, "parse_fields", counting)
    return calls


def test_field_cache_parses_each_line_once(parsed_texts: list[str]) -> None:
    cache = FieldCache()
    assert cache[LOGFMT] == cache[LOGFMT] == parse_fields(LOGFMT)
    assert parsed_texts == [LOGFMT]


def test_hub_parses_a_line_once_per_batch_whatever_the_filters(parsed_texts: list[str]) -> None:
    """A thousand clients over a hundred distinct field filters: each line of a batch is parsed once, and
    not at all when no subscriber filters on fields."""
    calls = parsed_texts
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


# --- end to end: a real server, streams and search ----------------------------------------------------

STRUCTURED = [
    '{"status": 200, "path": "/api/users", "user": "alice"}',
    "status=503 path=/api/orders user=bob",
    "2026-10-10 ERROR status=503 path=/api/users user=alice",  # plain: never matches a field filter
    '{"status": 404, "path": "/static/x.css", "user": "alice"}',
    'status=500 path=/api/users user="carol smith"',
]


@pytest.fixture
def structured_log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_text("".join(line + "\n" for line in STRUCTURED))
    return path


FIELD_CASES: list[tuple[list[str], list[int]]] = [
    (["status>=500"], [1, 4]),
    (["status<500"], [0, 3]),
    (["user:alice"], [0, 3]),
    (["user!:alice"], [1, 4]),
    (["user:carol smith"], [4]),
    (["path~^/api/"], [0, 1, 4]),
    (["status>499", "status<=500"], [4]),
    (["path~^/api/", "status>=500"], [1, 4]),  # last: its stream also gets live lines
]


@pytest.mark.parametrize("endpoint", ["/api/logs/app.log/stream?backlog=10", "/api/stream?log=app.log&backlog=10",
                                      "/api/logs/app.log/stream?backlog=10&ignore_case=yes"])
async def test_field_filters_on_the_streams(start_server: Start, structured_log: Path, endpoint: str) -> None:
    """The fast path (plain parameters) and FastAPI (an unusual spelling) give the same answers, from the
    window and live."""
    server = start_server(str(structured_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for fields, expected in FIELD_CASES:
            query = "".join(f"&field={quote(f)}" for f in fields)
            async with http.stream("GET", endpoint + query + "&format=ndjson") as resp:
                assert resp.status_code == 200
                lines = resp.aiter_lines()

                async def texts(count: int) -> list[str]:
                    async with asyncio.timeout(10):
                        return [json.loads(await anext(lines))["text"] for _ in range(count)]  # noqa: B023

                assert await texts(len(expected)) == [STRUCTURED[i] for i in expected], fields
                if fields == FIELD_CASES[-1][0]:  # live lines go through the hub's fan-out
                    live = [f'{{"status": {499 + i}, "path": "/api/live", "user": "alice"}}' for i in range(3)]
                    with structured_log.open("a") as f:
                        f.write("".join(line + "\n" for line in [*STRUCTURED, *live]))
                    assert await texts(4) == [STRUCTURED[1], STRUCTURED[4], live[1], live[2]]


async def test_malformed_field_is_a_400_naming_field_everywhere(start_server: Start, structured_log: Path) -> None:
    server = start_server(str(structured_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for bad in ("status", ":x", "path~(", "n>=x", "k:" + "v" * 1000):
            for path, log in (("/api/logs/app.log/stream", {}), ("/api/stream", {"log": "app.log"}),
                              ("/api/logs/app.log/search", {})):
                # `log` as a parameter: httpx replaces a query written in the path with `params`.
                resp = await http.get(path, params={**log, "field": bad})
                assert resp.status_code == 400, (path, resp.text)
                assert resp.json()["detail"].startswith("field: "), (path, resp.text)
        schema = (await http.get("/openapi.json")).json()
    for path in ("/api/logs/{name}/stream", "/api/stream", "/api/logs/{name}/search"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert "KEY OP VALUE" in params["field"]["description"]


async def test_search_with_field_filters(start_server: Start, structured_log: Path) -> None:
    escaped = '{"\\u0073tatus": 599, "user": "zed"}'  # the key spelled with an escape: still "status"
    with structured_log.open("a") as f:
        f.write(escaped + "\n" + "x" * 300 + "\n")
    server = start_server(str(structured_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        resp = await http.get("/api/logs/app.log/search", params=[("field", "user:alice"), ("field", "status>=300"),
                                                                  ("order", "oldest")])
        objects = [json.loads(line) for line in resp.text.splitlines()]
        assert [o["text"] for o in objects if "event" not in o] == [STRUCTURED[3]]
        resp = await http.get("/api/logs/app.log/search", params={"field": "status>=500", "q": "api"})
        assert [json.loads(x)["text"] for x in resp.text.splitlines() if "event" not in json.loads(x)] == \
            [STRUCTURED[4], STRUCTURED[1]]  # newest first; the plain line with the same words is not a hit
        resp = await http.get("/api/logs/app.log/search", params={"field": "status>590"})
        assert [json.loads(x)["text"] for x in resp.text.splitlines() if "event" not in json.loads(x)] == [escaped]
