"""Single sign-on through a real nginx running the shipped deploy/nginx/logtail-auth-request.conf (issue 26).

nginx asks a small auth service (a fixture: a session cookie -> user and groups) about every request with
`auth_request` and passes the answer to logtail in X-Forwarded-User / X-Forwarded-Groups, connecting from
127.0.0.2, the only address logtail trusts for them. Checked: streams (SSE, NDJSON, text) and the list per
user, a forged header through nginx (overwritten) and straight to logtail (401), no session (nginx's 401).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support import LogtailServer, free_port, require_tool, wait_for

pytestmark = pytest.mark.nginx

SHIPPED_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "logtail-auth-request.conf"
SESSIONS = {"tok-alice": ("alice", "web"), "tok-bob": ("bob", "dba")}
RULES = '[access]\n"app*" = ["group:web"]\n"db*" = ["group:dba", "alice"]\n'


class AuthHandler(BaseHTTPRequestHandler):
    """The auth service: 200 with the user's headers for a known session cookie, else 401."""

    def do_GET(self) -> None:
        cookie = self.headers.get("Cookie", "")
        match = re.search(r"session=([\w-]+)", cookie)
        session = SESSIONS.get(match.group(1)) if match else None
        self.send_response(200 if session else 401)
        if session:
            self.send_header("X-Auth-User", session[0])
            self.send_header("X-Auth-Groups", session[1])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def auth_service() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AuthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"{SHIPPED_CONF} no longer has {old!r}; update the test"
    return text.replace(old, new)


@pytest.fixture
def nginx(tmp_path: Path, auth_service: int,
          start_server: Callable[..., LogtailServer]) -> Iterator[tuple[str, LogtailServer]]:
    binary = require_tool("nginx", "nginx-light")
    for name in ("app.log", "db.log"):
        (tmp_path / name).write_text(f"{name} first\n")
    (tmp_path / "logtail.toml").write_text(RULES)
    logtail = start_server("--config", str(tmp_path / "logtail.toml"), str(tmp_path / "app.log"),
                           str(tmp_path / "db.log"), "--auth-proxy-header", "X-Forwarded-User",
                           "--auth-proxy-groups-header", "X-Forwarded-Groups", "--forwarded-allow-ips", "127.0.0.2")
    port = free_port()
    site = SHIPPED_CONF.read_text()
    site = _replace(site, "127.0.0.1:8080", f"127.0.0.1:{port}")
    site = _replace(site, "127.0.0.1:8000", f"127.0.0.1:{logtail.port}")
    site = _replace(site, "127.0.0.1:4180", f"127.0.0.1:{auth_service}")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "site.conf").write_text(site)
    user = "user root;" if os.geteuid() == 0 else ""
    temp = "".join(f"{kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(f"""{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{ access_log {prefix}/access.log; {temp} gzip on; gzip_types text/event-stream; include {prefix}/site.conf; }}
""")
    out = (prefix / "stdout.log").open("wb")
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError((prefix / "error.log").read_text(errors="replace"))
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 10, 0.05, "nginx")
        yield url, logtail
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        print((prefix / "error.log").read_text(errors="replace") if (prefix / "error.log").exists() else "")
        print(logtail.output())


def first_bytes(url: str, session: str | None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    cookies = {"session": session} if session else None
    with httpx.Client(cookies=cookies, timeout=10) as client, client.stream("GET", url, headers=headers) as r:
        return r.status_code, next(r.iter_bytes(), b"")


def test_nginx_auth_request_signs_users_in_and_logtail_applies_their_rules(
        nginx: tuple[str, LogtailServer]) -> None:
    url, logtail = nginx
    with httpx.Client(cookies={"session": "tok-bob"}, timeout=10) as bob:
        assert [i["name"] for i in bob.get(url + "/api/logs").json()] == ["db.log"]
    with httpx.Client(cookies={"session": "tok-alice"}, timeout=10) as alice:
        assert [i["name"] for i in alice.get(url + "/api/logs").json()] == ["app.log", "db.log"]
    for fmt, first in (("sse", b"retry:"), ("ndjson", b'{"log":"app.log"'), ("text", b"app.log first")):
        status, body = first_bytes(f"{url}/api/logs/app.log/stream?format={fmt}", "tok-alice")
        assert status == 200 and body.startswith(first), (fmt, body)
        assert first_bytes(f"{url}/api/logs/app.log/stream?format={fmt}", "tok-bob") == (
            404, b'{"detail":"unknown log \'app.log\'"}')
    assert first_bytes(f"{url}/api/stream?log=db.log&log=app.log", "tok-bob")[0] == 404
    assert first_bytes(f"{url}/api/stream?log=db.log", "tok-bob")[0] == 200
    # bob sends alice's name himself: nginx replaces the header with the one the auth service gave.
    forged = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "web"}
    assert first_bytes(f"{url}/api/logs/app.log/stream", "tok-bob", forged)[0] == 404
    # No session: the auth service refuses, nginx answers 401 without asking logtail.
    assert first_bytes(f"{url}/api/logs", None)[0] == 401
    # Straight to logtail, past nginx, from 127.0.0.1: the header is not believed.
    assert first_bytes(f"{logtail.url}/api/logs/app.log/stream", None, forged)[0] == 401
    assert "refused a request with X-Forwarded-User from 127.0.0.1" in logtail.output()
