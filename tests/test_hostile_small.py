"""Issue 21, finding 7, against a real server: over-long numbers, caching of authenticated responses, /docs
under the CSP, CORS preflights under --auth, terminal escapes in `format=text`, requests whose headers never
arrive."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.web.headertimeout import HEADER_TIMEOUT
from tests.streams import append
from tests.support import LogtailServer

AUTH = ("admin", "s3cret-pass")
HOSTILE = b"ok \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 \x1b]0;title\x07 cr\rx \xc2\x9b end"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    append(path, ["first"])
    return path


LONG = "9" * 19  # one digit past any file's size


OVER_LONG = [  # (endpoint, parameters, headers, the name the answer must give)
    ("stream", {"backlog": "9" * 5000}, {}, "backlog"),
    ("stream", {"backlog": LONG}, {}, "backlog"),
    ("stream", {"since": LONG + "s"}, {}, "since"),
    ("stream", {"last_event_id": f"app.log=000000000000:{LONG}"}, {}, "last_event_id"),
    ("search", {"limit": LONG}, {}, "limit"),
    ("search", {"context": LONG}, {}, "context"),
    ("search", {"before": f"app.log=000000000000:{LONG}"}, {}, "before"),
    ("search", {"after": f"app.log=000000000000:{LONG}"}, {}, "after"),
    ("download", {"rotated": "9" * 5000}, {}, "rotated"),
    ("download", {}, {"Range": "bytes=" + "9" * 5000 + "-"}, "Range"),
    ("download", {}, {"Range": f"bytes={LONG}-"}, "Range"),
    ("download", {}, {"Range": f"bytes=0-{LONG}"}, "Range"),
    ("download", {}, {"Range": f"bytes=-{LONG}"}, "Range"),
]


def test_over_long_numbers_are_a_400_naming_the_parameter(
        log: Path, start_server: Callable[..., LogtailServer]) -> None:
    """A number of more than 18 digits (5,000 answered 500 with a traceback; a Range one answered 416, or the
    whole file) is a bad request, whatever the parameter; 18 digits are still read as a number."""
    server = start_server(str(log))
    for path, params, headers, name in OVER_LONG:
        r = httpx.get(f"{server.url}/api/logs/app.log/{path}", params=params, headers=headers, timeout=10)
        assert (r.status_code, r.json()["detail"]) == (400, f"{name}: a number of more than 18 digits"), \
            (path, params, headers)
    url = f"{server.url}/api/logs/app.log/download"
    assert httpx.get(url, headers={"Range": "bytes=" + "9" * 18 + "-"}, timeout=10).status_code == 416
    whole = httpx.get(url, headers={"Range": "bytes=0-" + "9" * 18}, timeout=10)
    assert whole.status_code == 206 and whole.content == b"first\n"
    r = httpx.get(f"{server.url}/api/logs/app.log/stream", params={"backlog": "9" * 18}, timeout=10)
    assert r.status_code == 422 and r.json()["detail"].startswith("backlog:")


def test_authenticated_responses_are_never_stored(log: Path, start_server: Callable[..., LogtailServer]) -> None:
    server = start_server(str(log), "--auth", ":".join(AUTH))
    for path in ("/", "/api/logs", "/metrics", "/api/logs/app.log/download", "/openapi.json", "/static/app.js"):
        r = httpx.get(f"{server.url}{path}", auth=AUTH, timeout=10)
        assert r.status_code == 200, path
        assert r.headers.get_list("cache-control") == ["no-store"], path


def test_docs_are_gone_and_the_schema_stays(log: Path, start_server: Callable[..., LogtailServer]) -> None:
    """Swagger UI needs a CDN and inline script, which the CSP blocks: the page was broken."""
    server = start_server(str(log))
    assert httpx.get(f"{server.url}/docs", timeout=10).status_code == 404
    assert httpx.get(f"{server.url}/redoc", timeout=10).status_code == 404
    assert "/api/logs/{name}/stream" in httpx.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]


def test_a_cors_preflight_needs_no_credentials_under_auth(
        log: Path, start_server: Callable[..., LogtailServer]) -> None:
    """Browsers send preflights without credentials: a 401 made cross-origin use with --auth impossible.
    The preflight is answered; the request itself still needs the password."""
    origin = "https://dash.example"
    server = start_server(str(log), "--auth", ":".join(AUTH), "--cors-origins", origin)
    preflight = httpx.options(f"{server.url}/api/logs", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "last-event-id"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert httpx.get(f"{server.url}/api/logs", headers={"Origin": origin}, timeout=10).status_code == 401
    assert httpx.options(f"{server.url}/api/logs", timeout=10).status_code == 401  # not a preflight


async def first_line(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
            client.stream("GET", url) as response:
        assert response.status_code == 200
        async with asyncio.timeout(10):
            async for chunk in response.aiter_raw():
                if b"end" in chunk:
                    return chunk
    raise AssertionError("no line")


@pytest.mark.parametrize("clean_block", [True, False])
async def test_format_text_is_safe_for_terminals(
        log: Path, start_server: Callable[..., LogtailServer], clean_block: bool) -> None:
    """OSC sequences (clipboard, title), a bare CR and C1 controls are shown escaped; colours are kept;
    `format=raw` sends the bytes as written. Both paths: a clean block (bytes as read) and lines (a line
    with invalid UTF-8 makes the read a list of lines)."""
    server = start_server(str(log))
    base = f"{server.url}/api/logs/app.log/stream?backlog=1"
    line = HOSTILE if clean_block else HOSTILE + b" \xff"
    with log.open("ab") as f:
        f.write(line + b"\n")
    text = await first_line(base + "&format=text")
    assert b"\x1b]" not in text and b"\r" not in text and b"\xc2\x9b" not in text and b"\x07" not in text
    assert b"\x1b[31mred\x1b[0m" in text
    assert b"\\x1b]52;c;ZXZpbA==\\x07" in text and b"cr\\rx" in text and b"\\u009b" in text
    raw = await first_line(base + "&format=raw")
    assert HOSTILE in raw


def test_a_request_whose_headers_never_end_is_closed(
        log: Path, start_server: Callable[..., LogtailServer]) -> None:
    """Slowloris: connections that send nothing, or half a request, were held forever."""
    server = start_server(str(log))
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT * 3) for _ in range(40)]
    try:
        for i, s in enumerate(socks):
            if i % 2:
                s.sendall(b"GET /api/logs HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.monotonic()
        for s in socks:
            assert s.recv(1024) == b""  # closed by the server (a timeout here raises instead)
        assert time.monotonic() - t0 < HEADER_TIMEOUT * 2.5
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        for s in socks:
            s.close()
