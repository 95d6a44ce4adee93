"""Hostile input against a real server: only configured logs are reachable, user patterns cannot stall the
server, log content cannot forge SSE events, HTML carries security headers, no CORS unless configured, and
the default bind is loopback.

Requests with traversal attempts go through `http.client`, which sends the path exactly as written (httpx
would normalise `..` segments away before they reach the server).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logtail.config import Settings
from tests.sse_client import decode_events
from tests.streams import SSEClient, append
from tests.support import LogtailServer, Start

SECRET = "TOP-SECRET-CONTENT"
CURSOR = re.compile(r"[A-Za-z0-9._-]{1,128}=[0-9a-f]{12}:[0-9]+(,[A-Za-z0-9._-]{1,128}=[0-9a-f]{12}:[0-9]+)*")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile") / "logs"
    d.mkdir()
    for name in ("a.log", "evil.log", "redos.log"):
        append(d / name, [f"{name} first line"])
    # Files beside the configured ones, and one level up: none may be reachable.
    (d / "a.log.1").write_text(f"{SECRET} rotated\n")
    (d / "secret.txt").write_text(f"{SECRET}\n")
    (d.parent / "outside.log").write_text(f"{SECRET} outside\n")
    return d


@pytest.fixture(scope="module")
def server(logs: Path) -> Iterator[LogtailServer]:
    s = LogtailServer([str(logs / "a.log"), str(logs / "evil.log"), str(logs / "redos.log")])
    s.start(logs.parent)
    try:
        yield s
    finally:
        s.stop()


def raw_get(server: LogtailServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET `path` byte for byte; for a stream, only the status (the connection is then dropped)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        ctype = resp.getheader("content-type", "")
        streaming = ctype.startswith(("text/event-stream", "application/x-ndjson")) or (
            "/stream" in path and resp.status == 200)
        body = b"" if streaming else resp.read()
        return resp.status, body
    finally:
        conn.close()


def name_routes(server: LogtailServer) -> list[str]:
    """Every GET route with a `{name}` parameter, from the app's own OpenAPI schema (history routes included
    when present)."""
    schema = httpx.get(f"{server.url}/openapi.json", timeout=5).json()
    routes = [p for p, ops in schema["paths"].items() if "{name}" in p and "get" in ops]
    assert "/api/logs/{name}/stream" in routes
    return routes


HOSTILE_NAMES = [
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "..%2fa.log",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e",
    "%252e%252e%252fa.log",  # double-encoded
    "%2Fetc%2Fpasswd",
    "%2F" + "%2F".join(["tmp", "x"]),
    "a.log%00",
    "a.log%00.txt",
    "%00",
    "x" * 5000,
    "a.log" + "A" * 5000,
    "a%E2%80%AE.log",  # right-to-left override
    "%EF%BC%A1.log",  # fullwidth A
    "a.log%C0%AF",  # overlong UTF-8 '/'
    "%C0%AE%C0%AE%C0%AF",  # overlong UTF-8 '../'
    "%EF%BC%8E%EF%BC%8E%EF%BC%8F",  # fullwidth '../'
    "a.log%0D%0ASet-Cookie:%20x=1",
    "A.LOG",
    "a.log.1",
    "secret.txt",
    "*.log",
    "a.log%20",
    "~",
    "outside.log",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: n[:40])
def test_only_configured_logs_are_reachable_by_name(server: LogtailServer, name: str) -> None:
    """Every route taking a log name answers 404 to traversal, encodings, NUL, overlong and look-alike names.
    Regression: a name over 200 characters got 422 from a length check on the path parameter, while the
    multi-log stream answered 404 for the same name."""
    for route in name_routes(server):
        path = route.replace("{name}", name)
        status, body = raw_get(server, path + ("?format=text&backlog=0" if route.endswith("/stream") else ""))
        assert status == 404, (route, name[:60], status, body[:200])
        assert SECRET.encode() not in body


@pytest.mark.parametrize("name", ["../a.log", "/etc/passwd", "a.log\x00", "x" * 5000, "a.log.1", "secret.txt",
                                  "..%2Fa.log", "a.log/../a.log"], ids=lambda n: n[:30])
def test_multi_log_stream_rejects_unknown_names(server: LogtailServer, name: str) -> None:
    r = httpx.get(f"{server.url}/api/stream", params={"log": ["a.log", name]}, timeout=5)
    assert r.status_code == 404 and "unknown log" in r.json()["detail"]


@pytest.mark.parametrize("route", ["/api/logs/a.log", "/api/logs/a.log/stream", "/api/stream?log=a.log"])
def test_raw_slash_traversal_matches_no_route(server: LogtailServer, route: str) -> None:
    for attempt in ("/api/logs/../../etc/passwd", "/api/logs/a.log/../../../etc/passwd",
                    "/api/logs//etc/passwd/stream", "/api/logs/./a.log.1/stream", "/static/../logs/a.log.1",
                    "/static/..%2F..%2Fa.log.1", "/static/%2e%2e/%2e%2e/etc/passwd"):
        status, body = raw_get(server, attempt)
        assert status == 404, (attempt, status)
        assert SECRET.encode() not in body and b"root:" not in body
    assert raw_get(server, route)[0] == 200  # the control: the same client reaches a configured log


@pytest.mark.parametrize("param", ["q", "regex"])
def test_pattern_length_cap_names_the_parameter(server: LogtailServer, param: str) -> None:
    r = httpx.get(f"{server.url}/api/logs/a.log/stream", params={param: "a" * 1001}, timeout=5)
    assert 400 <= r.status_code < 500
    assert param in json.dumps(r.json())
    ok = httpx.get(f"{server.url}/api/stream", params={"log": "a.log", param: "a" * 1001}, timeout=5)
    assert 400 <= ok.status_code < 500 and param in json.dumps(ok.json())


def test_bad_regex_and_level_name_the_parameter(server: LogtailServer) -> None:
    r = httpx.get(f"{server.url}/api/logs/a.log/stream", params={"regex": "(a"}, timeout=5)
    assert r.status_code == 400 and "regex" in r.json()["detail"]
    r = httpx.get(f"{server.url}/api/logs/a.log/stream", params={"regex": r"(a)\1"}, timeout=5)
    assert r.status_code == 400 and "regex" in r.json()["detail"]  # backreferences are not linear: refused
    r = httpx.get(f"{server.url}/api/logs/a.log/stream", params={"level": "evil"}, timeout=5)
    assert r.status_code == 400 and "level" in r.json()["detail"]


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a?)+b", "(a*)*b", "(.*a){20}"])
async def test_catastrophic_regex_is_harmless(server: LogtailServer, logs: Path, pattern: str) -> None:
    """Patterns that backtrack exponentially in Python `re` run in linear time: healthz answers within 1 s
    while the stream filters lines of 30 'a' + '!' (and one of 3,000)."""
    url = str(httpx.URL(f"{server.url}/api/logs/redos.log/stream", params={"backlog": 0, "regex": pattern}))
    async with SSEClient(url) as c, httpx.AsyncClient(timeout=5) as client:
        await c.wait(lambda: c.response is not None and c.response.status_code == 200, 5, "the stream")
        for round_ in range(5):
            append(logs / "redos.log", ["a" * 30 + "!"] * 600 + ["a" * 3000 + "!"])
            t0 = time.monotonic()
            r = await client.get(f"{server.url}/healthz")
            assert r.status_code == 200
            assert time.monotonic() - t0 < 1.0, f"healthz took {time.monotonic() - t0:.2f}s (round {round_})"
        marker = "a" * 30 + "b" if pattern != "(a+)+$" else "a" * 30
        append(logs / "redos.log", [marker])
        await c.wait(lambda: marker in c.lines(), 5, "a matching line after the hostile ones")
        if pattern != "(.*a){20}":  # the others match none of the hostile lines
            assert c.lines() == [marker]


FORGERIES = [
    b"id: forged-1",
    b"event: notice",
    b'data: {"log":"a.log","text":"forged","id":"x"}',
    b"retry: 1",
    b": comment",
    b"",
    b"plain\rid: forged-2\r\revent: shutdown\rdata: x",
    b"cr-lf inside\r\nid: forged-3",
    b"nul\x00id: forged-4\x00",
    b"\x00",
    b"unicode line separators \xe2\x80\xa8 id: forged-5 \xe2\x80\xa9 and NEL \xc2\x85 event: x",
    b"\rid: forged-6",
    b"data:",
    b"id:\tforged-7",
    b"</script><script>alert(1)</script>",
]


def expected_texts(lines: list[bytes]) -> list[str]:
    """What the line policy makes of these lines: split on LF only, one trailing CR dropped, NUL kept."""
    out = []
    for raw in b"\n".join(lines).split(b"\n"):
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        out.append(raw.decode("utf-8", "replace"))
    return out


async def test_log_content_cannot_forge_events_or_ids(server: LogtailServer, logs: Path) -> None:
    """Lines made of SSE syntax, CR, CRLF, NUL and Unicode separators arrive as exactly one `line` event each,
    with the text intact and a real cursor as id; no other event or id appears."""
    async with SSEClient(f"{server.url}/api/logs/evil.log/stream?backlog=0") as c:
        await c.wait(lambda: c.events, 5, "the stream to open")
        with (logs / "evil.log").open("ab") as f:
            f.write(b"".join(line + b"\n" for line in FORGERIES) + b"the end\n")
        await c.wait(lambda: "the end" in c.lines(), 5, "the last line")
        raw = bytes(c.raw).decode()
    events = list(decode_events(raw))
    assert events[0] == {"retry": "2000"}
    lines = [ev for ev in events[1:] if ev.get("event") == "line"]
    others = [ev for ev in events[1:] if ev.get("event") != "line"]
    assert all(set(ev) == {"id"} and CURSOR.fullmatch(ev["id"]) for ev in others), others  # position markers
    assert [json.loads(ev["data"])["text"] for ev in lines] == [*expected_texts(FORGERIES), "the end"]
    for ev in lines:
        assert set(ev) == {"id", "event", "data"}
        assert CURSOR.fullmatch(ev["id"]) and ev["id"] == json.loads(ev["data"])["id"]
    assert "forged" not in "".join(ev.get("id", "") for ev in events)


async def test_log_content_cannot_break_ndjson(server: LogtailServer, logs: Path) -> None:
    async with SSEClient(f"{server.url}/api/logs/evil.log/stream?backlog=0&format=ndjson") as c:
        await c.wait(lambda: c.response is not None, 5, "the stream to open")
        with (logs / "evil.log").open("ab") as f:
            f.write(b"".join(line + b"\n" for line in FORGERIES) + b"the ndjson end\n")
        await c.wait(lambda: b"the ndjson end" in c.raw, 5, "the last line")
        # Split on LF only: JSON strings may hold U+2028 or U+0085, which str.splitlines() treats as breaks.
        records = [json.loads(line) for line in bytes(c.raw).decode().split("\n") if line]
    texts = [r["text"] for r in records if "text" in r]
    expected = [*expected_texts(FORGERIES), "the ndjson end"]
    assert texts == expected


def test_html_security_headers(server: LogtailServer) -> None:
    r = httpx.get(f"{server.url}/", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["content-security-policy"].split(";") if d.strip()}
    script = csp.get("script-src", csp.get("default-src"))
    assert script is not None and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "'unsafe-inline'" not in csp.get("default-src", [])
    assert csp.get("object-src") == ["'none'"] and "frame-ancestors" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"]
    # The page itself must work under its policy: no inline script or event-handler attributes.
    scripts = re.findall(r"<script\b[^>]*>", r.text)
    assert scripts and all("src=" in tag or 'type="application/json"' in tag for tag in scripts), scripts
    assert not re.search(r"\son[a-z]+\s*=", r.text), "inline event handler"
    for path in ("/api/logs", "/api/logs/a.log/stream?format=text&backlog=0"):
        status, _ = raw_get(server, path)
        assert status == 200
    api = httpx.get(f"{server.url}/api/logs", timeout=5)
    assert api.headers["x-content-type-options"] == "nosniff"


def test_no_cors_by_default(server: LogtailServer) -> None:
    for method in ("GET", "OPTIONS"):
        r = httpx.request(method, f"{server.url}/api/logs", timeout=5,
                          headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in r.headers, (method, r.headers)
    status, _ = raw_get(server, "/api/logs/a.log/stream?backlog=0", {"Origin": "http://evil.example"})
    assert status == 200


def test_cors_only_for_configured_origins(logs: Path, start_server: Start) -> None:
    s = start_server(str(logs / "a.log"), "--cors-origins", "http://good.example")
    good = httpx.get(f"{s.url}/api/logs", headers={"Origin": "http://good.example"}, timeout=5)
    assert good.headers.get("access-control-allow-origin") == "http://good.example"
    evil = httpx.get(f"{s.url}/api/logs", headers={"Origin": "http://evil.example"}, timeout=5)
    assert "access-control-allow-origin" not in evil.headers
    pre = httpx.options(f"{s.url}/api/logs", timeout=5, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers


def test_default_bind_is_loopback() -> None:
    assert Settings().host == "127.0.0.1"
    out = subprocess.run([sys.executable, "-m", "logtail", "serve", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    assert re.search(r"--host HOST\s+interface to bind \(default 127\.0\.0\.1", out), out
