"""Single sign-on through a real nginx running the shipped deploy/nginx/logtail-auth-request.conf and
deploy/nginx/logtail-oauth2-proxy.conf (issue 26).

nginx asks an auth service about every request with `auth_request` and passes the answer to logtail in
X-Forwarded-User / X-Forwarded-Groups, connecting from 127.0.0.2, the only address logtail trusts for them.
The service is a fixture: a session cookie -> user and groups, answered as each set-up's service answers
(set-up 2: 200 and X-Auth-User; set-up 3: oauth2-proxy's /oauth2/auth contract, 202 and X-Auth-Request-Email,
played by a stand-in because oauth2-proxy is not installable on the test machines; docs/access.md says how the
file was tried with the real oauth2-proxy). Checked: streams (SSE, NDJSON, text) and the list per user, a
forged header through nginx (overwritten) and straight to logtail (401), no session (refused by nginx without
asking logtail), and for oauth2-proxy where sign-out leads.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.streams import first_bytes
from tests.support import LogtailServer, free_port, require_tool, stop_group, wait_for

pytestmark = pytest.mark.nginx

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "nginx"
SESSIONS = {"tok-alice": ("alice", "web"), "tok-bob": ("bob", "dba")}
RULES = '[access]\n"app*" = ["group:web"]\n"db*" = ["group:dba", "alice"]\n'


@dataclass(frozen=True)
class SetUp:
    conf: str  # the shipped site file
    cookie: str  # the session cookie's name
    verdict: str  # the path the auth subrequest asks
    granted: int  # the service's status for a known session
    user_header: str
    groups_header: str


AUTH_REQUEST = SetUp("logtail-auth-request.conf", "session", "/auth", 200, "X-Auth-User", "X-Auth-Groups")
# oauth2-proxy with --set-xauthrequest: its /oauth2/auth answers 202 or 401, the e-mail address and groups in
# these (its X-Auth-Request-User is the provider's `sub`, an opaque ID: OPAQUE_SUB).
OAUTH2_PROXY = SetUp("logtail-oauth2-proxy.conf", "_oauth2_proxy", "/oauth2/auth", 202,
                     "X-Auth-Request-Email", "X-Auth-Request-Groups")
OPAQUE_SUB = "8d0f4c1e-5b7a-4c55-9d0e-2f1a6b3c9e71"


class AuthHandler(BaseHTTPRequestHandler):
    """The auth service: its granted status with the user's headers for a known session cookie, else 401;
    for oauth2-proxy also its sign-in page, its `sub` header and its sign-out redirect."""

    service: SetUp

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/oauth2/sign_in" and self.service is OAUTH2_PROXY:
            self._answer(200, {"Content-Type": "text/html"}, b"<p>sign in</p>")
            return
        if path == "/oauth2/sign_out" and self.service is OAUTH2_PROXY:
            # oauth2-proxy's choice of where to go: `rd`, else X-Auth-Request-Redirect, else /.
            rd = re.search(r"[?&]rd=([^&]*)", self.path)
            target = rd.group(1) if rd else self.headers.get("X-Auth-Request-Redirect") or "/"
            self._answer(302, {"Location": target, "Set-Cookie": f"{self.service.cookie}=; Max-Age=0"}, b"")
            return
        if path != self.service.verdict:
            self._answer(404, {}, b"")
            return
        match = re.search(rf"{self.service.cookie}=([\w-]+)", self.headers.get("Cookie", ""))
        session = SESSIONS.get(match.group(1)) if match else None
        headers = {self.service.user_header: session[0], self.service.groups_header: session[1]} if session else {}
        if session and self.service is OAUTH2_PROXY:
            headers["X-Auth-Request-User"] = OPAQUE_SUB
        self._answer(self.service.granted if session else 401, headers, b"")

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[AUTH_REQUEST, OAUTH2_PROXY], ids=["auth-request", "oauth2-proxy"])
def setup(request: pytest.FixtureRequest) -> SetUp:
    value: SetUp = request.param
    return value


@pytest.fixture
def auth_service(setup: SetUp) -> Iterator[int]:
    handler = type("Handler", (AuthHandler,), {"service": setup})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"the shipped conf no longer has {old!r}; update the test"
    return text.replace(old, new)


@pytest.fixture
def nginx(tmp_path: Path, setup: SetUp, auth_service: int,
          start_server: Callable[..., LogtailServer]) -> Iterator[tuple[str, LogtailServer]]:
    binary = require_tool("nginx", "nginx-light")
    for name in ("app.log", "db.log"):
        (tmp_path / name).write_text(f"{name} first\n")
    (tmp_path / "logtail.toml").write_text(RULES)
    logtail = start_server("--config", str(tmp_path / "logtail.toml"), str(tmp_path / "app.log"),
                           str(tmp_path / "db.log"), "--auth-proxy-header", "X-Forwarded-User",
                           "--auth-proxy-groups-header", "X-Forwarded-Groups", "--forwarded-allow-ips", "127.0.0.2",
                           *(["--auth-proxy-sign-out", "/oauth2/sign_out"] if setup is OAUTH2_PROXY else []))
    port = free_port()
    site = (DEPLOY / setup.conf).read_text()
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
        stop_group(proc, "nginx", lambda: (prefix / "stdout.log").read_text(errors="replace"))
        print((prefix / "error.log").read_text(errors="replace") if (prefix / "error.log").exists() else "")
        print(logtail.output())


def test_nginx_single_sign_on_signs_users_in_and_logtail_applies_their_rules(
        nginx: tuple[str, LogtailServer], setup: SetUp) -> None:
    url, logtail = nginx

    def opened(path: str, session: str | None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return first_bytes(url + path, headers=headers, cookies={setup.cookie: session} if session else None)

    with httpx.Client(cookies={setup.cookie: "tok-bob"}, timeout=10) as bob:
        assert [i["name"] for i in bob.get(url + "/api/logs").json()] == ["db.log"]
    with httpx.Client(cookies={setup.cookie: "tok-alice"}, timeout=10) as alice:
        assert [i["name"] for i in alice.get(url + "/api/logs").json()] == ["app.log", "db.log"]
        page = alice.get(url + "/").text
        assert "alice" in page and "signed in through the proxy" in page
        sign_out = '<a class="sign-out" href="/oauth2/sign_out">Sign out</a>'
        assert (sign_out in page) == (setup is OAUTH2_PROXY)  # --auth-proxy-sign-out: where the proxy has one
    for path in ("/api/logs/app.log", "/api/logs/app.log/search?q=first", "/api/logs/app.log/download",
                 "/api/logs/app.log/rotated"):
        assert opened(path, "tok-alice")[0] == 200, path
        assert opened(path, "tok-bob") == (404, b'{"detail":"unknown log \'app.log\'"}'), path
    for fmt, first in (("sse", b"retry:"), ("ndjson", b'{"log":"app.log"'), ("text", b"app.log first")):
        status, body = opened(f"/api/logs/app.log/stream?format={fmt}", "tok-alice")
        assert status == 200 and body.startswith(first), (fmt, body)
        assert opened(f"/api/logs/app.log/stream?format={fmt}", "tok-bob") == (
            404, b'{"detail":"unknown log \'app.log\'"}')
    assert opened("/api/stream?log=db.log&log=app.log", "tok-bob")[0] == 404
    assert opened("/api/stream?log=db.log", "tok-bob")[0] == 200
    # bob sends alice's name himself: nginx replaces the header with the one the auth service gave.
    forged = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "web"}
    assert opened("/api/logs/app.log/stream", "tok-bob", forged)[0] == 404
    # No session: the auth service refuses and nginx answers without asking logtail: 401 (set-up 2), or the
    # way to oauth2-proxy's sign-in page, back to where the browser was (set-up 3).
    refused = httpx.get(url + "/api/logs?x=1", timeout=10)
    if setup is OAUTH2_PROXY:
        assert refused.status_code == 302
        assert refused.headers["location"].endswith("/oauth2/sign_in?rd=/api/logs?x=1")
        assert httpx.get(url + "/oauth2/sign_in", timeout=10).text == "<p>sign in</p>"
        # Signing out ends at /, not back at /oauth2/sign_out (a redirect loop when nginx sent
        # X-Auth-Request-Redirect: $request_uri to oauth2-proxy's pages).
        signed_out = httpx.get(url + "/oauth2/sign_out", cookies={setup.cookie: "tok-alice"}, timeout=10)
        assert (signed_out.status_code, signed_out.headers["location"]) == (302, "/")
    else:
        assert refused.status_code == 401
    assert "/api/logs?x=1" not in logtail.output()
    # Straight to logtail, past nginx, from 127.0.0.1: the header is not believed.
    assert first_bytes(f"{logtail.url}/api/logs/app.log/stream", headers=forged)[0] == 401
    assert "refused a request with X-Forwarded-User from 127.0.0.1" in logtail.output()
