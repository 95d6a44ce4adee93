"""Logs with a parser (`parse = "nginx"`, ...): configuration, and parsed fields through a real server.

Parsed fields behave like a JSON line's keys: `field=` filters with every operator and numbers compared as
numbers, levels from the parsed level (an access log's from its status), `since=` from the parsed time, and
the fields travel in each line's JSON as `fields`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from logtail.config import ConfigError, resolve
from tests.redis_support import RedisServer, Shipper
from tests.streams import SSEClient, append
from tests.support import LogtailServer, wait_for

Start = Callable[..., LogtailServer]


def access(status: int, path: str = "/", seconds: float = 0.0, when: float | None = None) -> str:
    stamp = datetime.fromtimestamp(time.time() if when is None else when, UTC).strftime("%d/%b/%Y:%H:%M:%S")
    return (f'2001:db8::7 - - [{stamp} +0000] "GET {path} HTTP/1.1" {status} 512 "-" '
            f'"Mozilla/5.0 \\x22x\\x22" request_time={seconds}')



# --- configuration ---------------------------------------------------------------------------------------

def test_a_source_names_its_parser_after_the_path(tmp_path: Path) -> None:
    s = resolve({}, [f"web={tmp_path}/access.log:parse=nginx", f"{tmp_path}/sys.log:parse=syslog",
                     f"{tmp_path}/app.log", f"{tmp_path}/*.json:parse=json",
                     rf"x={tmp_path}/x.log:parse=^(?P<ts>\S+) (?P<level>\w+):"], None, {})
    assert [(src.name, src.path.name, src.parse) for src in s.sources] == [
        ("web", "access.log", "nginx"), ("sys.log", "sys.log", "syslog"), ("app.log", "app.log", "auto"),
        (None, "*.json", "json"), ("x", "x.log", r"^(?P<ts>\S+) (?P<level>\w+):")]
    env = resolve({}, None, None, {"LOGTAIL_SOURCES": f"'web={tmp_path}/a.log:parse=(?P<msg>.*) x'"})
    assert env.sources[0].parse == "(?P<msg>.*) x"


def test_a_log_table_in_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[logs]\napp = "app.log"\n[logs.web]\npath = "/var/log/nginx/access.log"\nparse = "nginx"\n')
    s = resolve({}, None, cfg, {})
    assert [(src.name, str(src.path), src.parse) for src in s.sources] == [
        ("app", f"{tmp_path}/app.log", "auto"), ("web", "/var/log/nginx/access.log", "nginx")]


@pytest.mark.parametrize(("toml", "message"), [
    ('[logs.web]\npath = "a.log"\nparse = "ngnix"\n', "logs.web.parse: 'ngnix' is not one of auto, json"),
    ('[logs.web]\npath = "a.log"\nparse = "(?P<a>x)(?=y)"\n', "logs.web.parse: '(?P<a>x)(?=y)' is not one of"),
    ('[logs.web]\npath = "a.log"\nparse = 5\n', "logs.web.parse must be a string"),
    ('[logs.web]\nparse = "nginx"\n', "logs.web.path must be a path string"),
    ('[logs.web]\npath = "a.log"\ncolour = "red"\n', "logs.web: unknown key 'colour'"),
    ('[logs]\nweb = 5\n', "logs.web must be a path string or a table"),
])
def test_bad_log_tables_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as info:
        resolve({}, None, cfg, {})
    assert message in str(info.value)


def test_a_bad_parser_stops_serve_and_ship_with_exit_2(tmp_path: Path) -> None:
    for command in (["serve"], ["ship", "--redis", "redis://127.0.0.1:1"]):
        result = subprocess.run([sys.executable, "-m", "logtail", *command, f"web={tmp_path}/a.log:parse=ngnix"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "parse: 'ngnix' is not one of" in result.stderr


# --- through a real server -------------------------------------------------------------------------------

async def test_access_log_fields_filter_levels_and_payload(start_server: Start, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    old = [access(200, "/a", 0.01), access(503, "/b", 0.9), access(404, "/c", 0.2), "garbage line, not parsed"]
    append(log, old)
    server = start_server(f"web={log}:parse=nginx", "--backlog", "10")
    base = f"{server.url}/api/logs/web/stream?backlog=10"
    async with SSEClient(base + "&field=" + quote("status>=500")) as client:
        assert await client.wait_lines(1) == [old[1]]
        new = [access(500, "/d", 1.5), access(200, "/e", 2.0)]
        append(log, new)
        assert await client.wait_lines(2) == [old[1], new[0]]  # live lines too; the unparsed line never passes
    async with SSEClient(base + "&field=" + quote("request_time>0.5") + "&field=" + quote("path~^/[bde]$")) as c:
        assert await c.wait_lines(3) == [old[1], new[0], new[1]]  # numbers compared as numbers
    async with SSEClient(base + "&level=warn&level=error") as client:
        assert await client.wait_lines(3) == [old[1], old[2], new[0]]  # from the status
    async with SSEClient(base) as client:
        await client.wait_lines(6)
        records = [json.loads(e["data"]) for e in client.events if e.get("event") == "line"]
    assert records[1]["level"] == "error" and records[0]["level"] == "info"
    assert records[1]["fields"]["status"] == "503"
    assert records[1]["fields"]["user_agent"] == 'Mozilla/5.0 "x"'
    assert records[1]["fields"]["remote_addr"] == "2001:db8::7"
    assert "fields" not in records[3]  # the garbage line passes through as it is, without fields
    assert records[3]["text"] == old[3]


async def test_an_auto_log_sends_no_fields_key(start_server: Start, tmp_path: Path) -> None:
    """The payload of logs without a parser is unchanged: the page parses JSON and logfmt itself."""
    log = tmp_path / "app.log"
    append(log, ['{"status": 503}', "status=200"])
    server = start_server(str(log))
    async with SSEClient(f"{server.url}/api/logs/app.log/stream?backlog=10&field=status%3E%3D500") as client:
        assert await client.wait_lines(1) == ['{"status": 503}']
        records = [json.loads(e["data"]) for e in client.events if e.get("event") == "line"]
        assert "fields" not in records[0]


async def _since_30m_sends_the_last_two(start_server: Start, tmp_path: Path, name: str, parse: str,
                                        line: Callable[[int], str]) -> tuple[LogtailServer, list[str]]:
    """A log of lines 90, 50, 20 and 5 minutes old: `since=30m` sends the last two. The server and lines."""
    lines = [line(m) for m in (90, 50, 20, 5)]
    log = tmp_path / f"{name}.log"
    append(log, lines)
    server = start_server(f"{name}={log}:parse={parse}")
    async with SSEClient(f"{server.url}/api/logs/{name}/stream?since=30m") as client:
        assert await client.wait_lines(2) == lines[2:]
    return server, lines


async def test_since_on_an_access_log_reads_each_lines_time_in_its_zone(start_server: Start, tmp_path: Path) -> None:
    """An access log's time is in brackets after the client, with its own zone: `since=` reads it there."""
    now = time.time()

    def line(minutes_ago: int) -> str:
        # Written in UTC+02:00, as a server in that zone would: the zone decides what the time means.
        stamp = datetime.fromtimestamp(now - minutes_ago * 60 + 7200, UTC).strftime("%d/%b/%Y:%H:%M:%S")
        return f'203.0.113.9 - - [{stamp} +0200] "GET /{minutes_ago} HTTP/1.1" 200 5 "-" "curl/8"'

    await _since_30m_sends_the_last_two(start_server, tmp_path, "web", "nginx", line)


async def test_since_reads_the_parsed_time_of_rfc5424_lines(start_server: Start, tmp_path: Path) -> None:
    """An RFC 5424 line's time is not at its start, where a log without a parser looks for it."""
    now = time.time()

    def line(minutes_ago: int) -> str:
        stamp = datetime.fromtimestamp(now - minutes_ago * 60, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"<14>1 {stamp} web1 app 42 - - minutes ago: {minutes_ago}"

    server, lines = await _since_30m_sends_the_last_two(start_server, tmp_path, "sys", "syslog", line)
    async with SSEClient(f"{server.url}/api/logs/sys/stream?backlog=10&field=app:app&level=info") as client:
        assert await client.wait_lines(4) == lines  # severity 6: info


async def test_a_shipped_log_is_parsed_on_the_web_node_with_the_shippers_parser(
        start_server: Start, start_shipper: Callable[..., Shipper], redis_server: RedisServer, tmp_path: Path) -> None:
    """The shipper announces the log's parser with the log; the lines travel as text and the web node parses
    them for its filters, levels and payload."""
    log = tmp_path / "access.log"
    lines = [access(200, "/a"), access(502, "/b"), access(404, "/c")]
    append(log, lines)
    start_shipper(f"web={log}:parse=nginx", "--host-name", "h1", "--redis", redis_server.url)
    node = start_server("--redis", redis_server.url)
    wait_for(lambda: "web@h1" in [x["name"] for x in httpx.get(f"{node.url}/api/logs", timeout=5).json()], 30, 0.1,
             "the shipped log listed")
    url = f"{node.url}/api/logs/web@h1/stream?backlog=10&field=" + quote("status>=500")
    async with SSEClient(url) as client:
        assert await client.wait_lines(1, 30) == [lines[1]]
        records = [json.loads(e["data"]) for e in client.events if e.get("event") == "line"]
        assert records[0]["level"] == "error" and records[0]["fields"]["path"] == "/b"
        append(log, more := [access(500, "/d"), access(200, "/e")])
        assert await client.wait_lines(2, 30) == [lines[1], more[0]]


async def test_search_uses_the_parser_for_fields_and_levels(start_server: Start, tmp_path: Path) -> None:
    """A 503 line holds neither the word "error" nor the key "status": the search's prefilters must not skip
    it in a parsed log."""
    log = tmp_path / "access.log"
    lines = [access(200, "/a"), access(503, "/b"), access(404, "/c"), access(500, "/d")]
    append(log, lines)
    server = start_server(f"web={log}:parse=nginx")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for query in ("field=status%3E%3D500", "level=error", "level=error&field=path~d"):
            resp = await http.get(f"/api/logs/web/search?{query}&order=oldest")
            hits = [json.loads(x) for x in resp.text.splitlines() if '"event"' not in x]
            assert [h["text"] for h in hits] == ([lines[3]] if "path" in query else [lines[1], lines[3]]), query
            assert hits[0]["level"] == "error" and hits[0]["fields"]["status"] in ("503", "500")
