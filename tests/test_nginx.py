"""logtail behind a real nginx running the shipped deploy/nginx/logtail.conf (issue 6).

Each test starts `logtail serve --root-path /logs` and Debian's nginx in front of it, with the shipped site
file templated onto free loopback ports and a throwaway certificate, inside a top-level nginx.conf whose
http-level defaults are deliberately hostile (gzip for event streams, proxy buffering on): the shipped
`location /logs/` must undo them. nginx's error log and logtail's output are printed at teardown, so a
failure shows them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from logtail.web.middleware.auth import AuthLimits
from tests.support import Certificate, LogtailServer, free_port, stop_group, wait_for

pytestmark = pytest.mark.nginx

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONF = REPO / "deploy" / "nginx" / "logtail.conf"
PREFIX = "/logs"
AUTH = ("user", "secret")


# --- system tools ----------------------------------------------------------------------------------------


# --- nginx -----------------------------------------------------------------------------------------------

def _replace(text: str, pattern: str, replacement: str) -> str:
    """Replace exactly one occurrence of a regex; a shipped file of another shape must fail loudly, not
    leave the test exercising something else."""
    result, count = re.subn(pattern, replacement, text)
    assert count == 1, f"{SHIPPED_CONF} no longer has exactly one match for {pattern!r}; update the test"
    return result


def template_shipped_config(*, upstream_port: int, http_port: int, https_port: int, certificate: Certificate,
                            read_timeout: str | None = None, htpasswd: Path | None = None) -> str:
    """The shipped site file with only the addresses and certificate paths changed, and if asked the read
    timeout or the optional auth_basic lines."""
    text = SHIPPED_CONF.read_text()
    text = _replace(text, r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};")
    text = _replace(text, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace(text, r"listen \[::\]:80;", "")
    text = _replace(text, r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _replace(text, r"listen \[::\]:443 ssl http2;", "")
    text = _replace(text, r"/etc/letsencrypt/live/logs\.example\.com/fullchain\.pem", str(certificate.cert))
    text = _replace(text, r"/etc/letsencrypt/live/logs\.example\.com/privkey\.pem", str(certificate.key))
    if read_timeout is not None:
        text = _replace(text, r"proxy_read_timeout \w+;", f"proxy_read_timeout {read_timeout};")
    if htpasswd is not None:  # uncomment the optional auth_basic lines, as docs/deploy.md tells users to
        text = _replace(text, r"# (auth_basic \S+;)", r"\1")
        text = _replace(text, r"# auth_basic_user_file \S+;", f"auth_basic_user_file {htpasswd};")
    return text


class Nginx:
    """nginx in the foreground, all of its files under `prefix`, including the templated shipped site file."""

    def __init__(self, binary: str, prefix: Path, *, upstream_port: int, certificate: Certificate,
                 read_timeout: str | None = None, htpasswd: Path | None = None) -> None:
        self.binary = binary
        self.prefix = prefix
        self.http_port = free_port()
        self.https_port = free_port()
        self.error_log = prefix / "error.log"
        self.conf = prefix / "nginx.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        prefix.mkdir(parents=True, exist_ok=True)
        site = prefix / "logtail.conf"
        site.write_text(template_shipped_config(upstream_port=upstream_port, http_port=self.http_port,
                                                https_port=self.https_port, certificate=certificate,
                                                read_timeout=read_timeout, htpasswd=htpasswd))
        self.conf.write_text(self._main_config(site))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def _main_config(self, site: Path) -> str:
        p = self.prefix
        # As root nginx would otherwise run its workers as "nobody", who cannot enter pytest's 0700 tmp dirs.
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
{user}
worker_processes 1;
pid {p}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/client_body_temp;
    proxy_temp_path {p}/proxy_temp;
    fastcgi_temp_path {p}/fastcgi_temp;
    uwsgi_temp_path {p}/uwsgi_temp;
    scgi_temp_path {p}/scgi_temp;
    # Hostile http-level defaults some servers have: the shipped location block must override them.
    gzip on;
    gzip_min_length 1;
    gzip_types text/event-stream text/plain application/x-ndjson application/json;
    proxy_buffering on;
    include {site};
}}
"""

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def start(self, timeout: float = 10.0) -> Nginx:
        out = (self.prefix / "stdout.log").open("wb")
        self.proc = subprocess.Popen(self.command("-g", "daemon off;"), stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        wait_for(self._answering, timeout, 0.05, f"nginx on port {self.https_port}")
        return self

    def _answering(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.errors()}")
        try:
            with httpx.Client(verify=False, timeout=1.0) as client:
                # 401: nginx's own auth_basic answered, so nginx is up (logtail was checked before).
                return client.get(f"{self.url}{PREFIX}/healthz").status_code in (200, 401)
        except httpx.HTTPError:
            return False

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else "(no error log)"

    def stop(self) -> None:
        """Fast shutdown (SIGTERM) of nginx's process group; SIGQUIT would wait for the open streams."""
        if self.proc is not None:
            stop_group(self.proc, "nginx", self.errors, 5)


# --- logtail behind nginx --------------------------------------------------------------------------------

@dataclass
class Proxied:
    logtail: LogtailServer
    nginx: Nginx
    log: Path
    certificate: Certificate

    @property
    def base(self) -> str:
        return f"{self.nginx.url}{PREFIX}"

    def client(self, auth: tuple[str, str] | None = None) -> httpx.Client:
        # Reads block at most 5 s; streams carry a heartbeat every second, so loops reach their deadlines.
        return httpx.Client(verify=self.certificate.client_context(), auth=auth, timeout=httpx.Timeout(5.0))

    def append(self, text: str) -> None:
        with self.log.open("a") as f:
            f.write(text + "\n")

    def diagnostics(self) -> str:
        return (f"--- nginx error log ---\n{self.nginx.errors()}\n"
                f"--- logtail output ---\n{self.logtail.output()}")


@pytest.fixture
def start_proxied(tmp_path: Path, nginx_binary: str,
                  certificate: Certificate) -> Iterator[Callable[..., Proxied]]:
    """Start logtail (following app.log) and nginx in front of it; at teardown stop both, print their logs."""
    running: list[Proxied] = []
    servers: list[LogtailServer] = []

    def start(*logtail_args: str, read_timeout: str | None = None, htpasswd: Path | None = None) -> Proxied:
        log = tmp_path / "app.log"
        log.write_text("first line\n")
        logtail = LogtailServer(["--root-path", PREFIX, "--heartbeat", "1", *logtail_args, str(log)])
        servers.append(logtail)
        logtail.start(tmp_path)
        nginx = Nginx(nginx_binary, tmp_path / "nginx", upstream_port=logtail.port, certificate=certificate,
                      read_timeout=read_timeout, htpasswd=htpasswd)
        proxied = Proxied(logtail, nginx, log, certificate)
        running.append(proxied)
        nginx.start()
        return proxied

    try:
        yield start
    finally:
        for proxied in running:
            proxied.nginx.stop()
        for logtail in servers:
            logtail.stop()
        # Shown by pytest only when the test failed.
        for proxied in running:
            print(proxied.diagnostics())
        if servers and not running:
            print(f"--- logtail output ---\n{servers[0].output()}")


# --- reading SSE ---------------------------------------------------------------------------------------

@dataclass
class Event:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads(self.data)
        return parsed


def sse_events(response: httpx.Response) -> Iterator[Event]:
    """Parse a text/event-stream as it arrives; comment-only blocks (heartbeats) are yielded too."""
    event, started = Event(), False
    for line in response.iter_lines():
        if line == "":
            if started:
                yield event
            event, started = Event(), False
            continue
        started = True
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            event.comments.append(value)
        elif name == "data":
            event.data = f"{event.data}\n{value}" if event.data else value
        elif name == "event":
            event.event = value
        elif name == "id":
            event.id = value
        elif name == "retry":
            event.retry = value


def next_matching(events: Iterator[Event], match: Callable[[Event], bool], timeout: float, what: str,
                  proxied: Proxied) -> Event:
    """The next event that matches, within `timeout` seconds; fail if the stream ends or the time runs out."""
    deadline = time.monotonic() + timeout
    try:
        for event in events:
            if match(event):
                return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout}s\n{proxied.diagnostics()}")
    except httpx.ReadTimeout as exc:
        raise AssertionError(f"stream silent (not even heartbeats) while waiting for {what}\n"
                             f"{proxied.diagnostics()}") from exc
    except httpx.RemoteProtocolError as exc:
        raise AssertionError(f"stream cut ({exc}) while waiting for {what}\n{proxied.diagnostics()}") from exc
    raise AssertionError(f"stream ended while waiting for {what}\n{proxied.diagnostics()}")


def is_line(text: str) -> Callable[[Event], bool]:
    return lambda event: event.event == "line" and text in str(event.json().get("text"))


def same_site_urls(page_url: str, html: str) -> list[str]:
    """Absolute forms of the URLs an HTML page points at on its own host (links, scripts, styles, forms and
    path-like data- attributes)."""
    urls = []
    for attribute, value in re.findall(r"""\s(src|href|action|data-[\w-]+)=["']([^"']*)["']""", html):
        if attribute.startswith("data-") and not value.startswith(("/", "http://", "https://")):
            continue  # data- attributes hold all sorts of values; only path-like ones are URLs
        if value.startswith("#") or re.match(r"(mailto|javascript|data|blob):", value):
            continue
        url = urljoin(page_url, value)
        if urlsplit(url).hostname == urlsplit(page_url).hostname:
            urls.append(url)
    return urls


def status_of(client: httpx.Client, url: str) -> httpx.Response:
    """The response's status and headers without reading the body (which never ends if it is a stream)."""
    with client.stream("GET", url) as response:
        return response


def assert_asks_for_basic_auth(client: httpx.Client, url: str) -> None:
    response = status_of(client, url)
    assert response.status_code == 401, url
    assert response.headers.get("www-authenticate", "").lower().startswith("basic"), response.headers


def assert_line_arrives(client: httpx.Client, proxied: Proxied, text: str, what: str) -> None:
    """A stream opened with `client` answers 200 and carries a line appended after it opened."""
    with client.stream("GET", stream_url(proxied)) as response:
        assert response.status_code == 200
        events = sse_events(response)
        proxied.append(text)
        next_matching(events, is_line(text), 5.0, what, proxied)


def stream_url(proxied: Proxied, backlog: int = 0) -> str:
    return f"{proxied.base}/api/logs/app.log/stream?backlog={backlog}"


# --- tests -----------------------------------------------------------------------------------------------

def test_shipped_config_passes_nginx_t(nginx_binary: str, certificate: Certificate, tmp_path: Path) -> None:
    nginx = Nginx(nginx_binary, tmp_path / "nginx", upstream_port=free_port(), certificate=certificate)
    result = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr + nginx.errors()
    assert result.returncode == 0, output
    assert "test is successful" in output, output


def test_dashboard_and_static_files_load_under_prefix(start_proxied: Callable[..., Proxied]) -> None:
    proxied = start_proxied()
    with proxied.client() as client:
        page_url = f"{proxied.base}/"
        page = client.get(page_url)
        assert page.status_code == 200, proxied.diagnostics()
        assert page.headers["content-type"].startswith("text/html")

        # Every URL the page points at on this site must be https://<this host>/logs/...: a URL without the
        # prefix 404s behind nginx, and an http:// one is blocked by the browser as mixed content.
        ours = urlsplit(page_url)
        targets = same_site_urls(page_url, page.text)
        assert targets, page.text
        for target in targets:
            parts = urlsplit(target)
            assert (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc), f"{target} in:\n{page.text}"
            assert parts.path == PREFIX or parts.path.startswith(f"{PREFIX}/"), f"{target} in:\n{page.text}"

        assets = [t for t in targets if urlsplit(t).path.startswith(f"{PREFIX}/static/")]
        scripts = [a for a in assets if urlsplit(a).path.endswith(".js")]
        assert scripts, f"no script under {PREFIX}/static/ in:\n{page.text}"
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, f"{asset}: {response.status_code}\n{proxied.diagnostics()}"
            assert response.content

        # The ways users arrive: without the trailing slash, and over plain HTTP.
        bare = client.get(f"{proxied.nginx.url}{PREFIX}")
        assert bare.status_code == 301 and bare.headers["location"].endswith(f"{PREFIX}/"), bare.headers
        plain = client.get(f"http://127.0.0.1:{proxied.nginx.http_port}{PREFIX}/")
        assert plain.status_code == 301, plain.headers
        assert plain.headers["location"] == f"https://127.0.0.1{PREFIX}/", plain.headers


def test_api_logs_under_prefix(start_proxied: Callable[..., Proxied]) -> None:
    proxied = start_proxied()
    with proxied.client() as client:
        response = client.get(f"{proxied.base}/api/logs")
    assert response.status_code == 200, proxied.diagnostics()
    logs = response.json()
    assert isinstance(logs, list)
    entry = next(item for item in logs if item["name"] == "app.log")
    assert entry["path"] == str(proxied.log)
    assert entry["exists"] is True
    assert entry["size"] == len("first line\n")
    assert {"name", "path", "size", "exists", "mtime"} <= entry.keys()


def test_line_reaches_sse_client_through_nginx_within_100ms(start_proxied: Callable[..., Proxied]) -> None:
    """Regression: a proxy that buffers or gzips the stream holds lines back for seconds or to the end."""
    proxied = start_proxied()
    with proxied.client() as client, client.stream("GET", stream_url(proxied)) as response:
        assert response.status_code == 200, proxied.diagnostics()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        events = sse_events(response)
        # Connected and subscribed: a first line has made the whole trip.
        proxied.append("warm-up")
        next_matching(events, is_line("warm-up"), 5.0, "warm-up line", proxied)

        latencies = []
        for _ in range(3):
            marker = f"marker-{uuid.uuid4().hex}"
            written = time.monotonic()
            proxied.append(f"INFO {marker}")
            next_matching(events, is_line(marker), 5.0, marker, proxied)
            latencies.append(time.monotonic() - written)
    print(f"write-to-client latencies through nginx: {[round(x * 1000, 1) for x in latencies]} ms")
    assert min(latencies) < 0.1, f"write-to-client latencies: {latencies}\n{proxied.diagnostics()}"


@pytest.mark.slow
def test_quiet_stream_outlives_nginx_read_timeout(start_proxied: Callable[..., Proxied]) -> None:
    """Regression: nginx cuts a stream silent for proxy_read_timeout; logtail's heartbeats prevent it."""
    proxied = start_proxied(read_timeout="3s")
    quiet_for = 5.0
    with proxied.client() as client, client.stream("GET", stream_url(proxied)) as response:
        assert response.status_code == 200, proxied.diagnostics()
        events = sse_events(response)
        pings = 0
        until = time.monotonic() + quiet_for
        try:
            for event in events:
                assert event.event != "line", f"unexpected line on a quiet log: {event}"
                pings += bool(event.comments)
                if time.monotonic() > until:
                    break
            else:
                raise AssertionError(f"stream ended after {pings} heartbeats\n{proxied.diagnostics()}")
        except httpx.RemoteProtocolError as exc:
            raise AssertionError(f"stream cut after {pings} heartbeats ({exc})\n"
                                 f"{proxied.diagnostics()}") from exc
        assert pings >= 3, f"only {pings} heartbeats in {quiet_for}s with --heartbeat 1"

        proxied.append("after the quiet")
        next_matching(events, is_line("after the quiet"), 2.0, "line after the quiet period", proxied)
    assert "upstream timed out" not in proxied.nginx.errors()


@pytest.mark.parametrize("credentials", ["plain in --auth", "salted hash in the config file"])
def test_basic_auth_through_nginx(start_proxied: Callable[..., Proxied], tmp_path: Path,
                                  credentials: str) -> None:
    if credentials == "plain in --auth":
        proxied = start_proxied("--auth", ":".join(AUTH))
    else:
        # As docs/deploy.md says: `logtail hash-password`, its output after "user:" in logtail.toml.
        hashed = subprocess.run([sys.executable, "-m", "logtail", "hash-password"], input=f"{AUTH[1]}\n",
                                capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        assert AUTH[1] not in hashed
        config = tmp_path / "logtail.toml"
        config.write_text(f"auth = '{AUTH[0]}:{hashed}'\n")
        proxied = start_proxied("--config", str(config))
    with (proxied.client() as anonymous, proxied.client(AUTH) as alice,
          proxied.client((AUTH[0], "wrong")) as wrong_password,
          proxied.client(("nobody", AUTH[1])) as wrong_user):
        user, password = AUTH
        near_misses = [(user, ""), (user, password[:-1]), (user, password + "x"), (user, password.swapcase()),
                       ("", password), (user.upper(), password)]
        # Issue 21: a weak comparison (prefix, case, empty) must show here too. First, while the address has
        # failures left: past the limit a near miss would get 429 without being compared at all.
        for miss in near_misses:
            with proxied.client(miss) as near:
                assert near.get(f"{proxied.base}/api/logs").status_code == 401, miss
        page = alice.get(f"{proxied.base}/")
        assert page.status_code == 200, proxied.diagnostics()
        scripts = re.findall(r"""\ssrc=["']([^"']+\.js[^"']*)["']""", page.text)
        assert scripts, page.text
        asset = urljoin(str(page.url), scripts[0])
        assert alice.get(asset).status_code == 200

        for url in (f"{proxied.base}/", f"{proxied.base}/api/logs", asset, stream_url(proxied)):
            assert_asks_for_basic_auth(anonymous, url)
            assert status_of(wrong_password, url).status_code == 401, url
            assert status_of(wrong_user, url).status_code == 401, url

        assert alice.get(f"{proxied.base}/api/logs").status_code == 200
        assert anonymous.get(f"{proxied.base}/healthz").status_code == 200

        assert_line_arrives(alice, proxied, "for alice", "line for the authenticated client")


def test_a_forged_forwarded_for_through_nginx_does_not_escape_the_limit(
        start_proxied: Callable[..., Proxied]) -> None:
    """Issue 21, finding 6: a client-chosen X-Forwarded-For must not give each wrong password a new address.
    nginx (the shipped site) appends the peer's address to whatever the client sent, and logtail believes the
    last address that is not a trusted proxy: the client's own (127.0.0.2 here: not in --forwarded-allow-ips)."""
    proxied = start_proxied("--auth", ":".join(AUTH))
    limit = AuthLimits().failures
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=proxied.certificate.client_context())
    with httpx.Client(transport=transport, auth=(AUTH[0], "not-it"), timeout=10) as client:
        statuses = [client.get(f"{proxied.base}/api/logs", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                    for i in range(limit + 1)]
    assert statuses == [401] * limit + [429], proxied.diagnostics()
    with proxied.client(AUTH) as alice:  # another address is not refused
        assert alice.get(f"{proxied.base}/api/logs").status_code == 200


def test_nginx_auth_basic_alternative(start_proxied: Callable[..., Proxied], tmp_path: Path) -> None:
    """The shipped, commented-out auth_basic lines work once uncommented, before a logtail without auth."""
    htpasswd = tmp_path / "logtail.htpasswd"
    htpasswd.write_text(f"{AUTH[0]}:{{PLAIN}}{AUTH[1]}\n")  # nginx's plain scheme: no htpasswd tool needed
    proxied = start_proxied(htpasswd=htpasswd)
    with proxied.client() as anonymous, proxied.client(AUTH) as alice:
        for url in (f"{proxied.base}/", f"{proxied.base}/api/logs", stream_url(proxied)):
            assert_asks_for_basic_auth(anonymous, url)
        assert alice.get(f"{proxied.base}/").status_code == 200
        assert_line_arrives(alice, proxied, "behind auth_basic", "line behind auth_basic")


def test_sigterm_with_streams_open_through_nginx_exits_within_5s(
        start_proxied: Callable[..., Proxied]) -> None:
    """Regression: uvicorn waits for open connections before shutting down, so SSE clients kept it alive."""
    proxied = start_proxied()
    with proxied.client() as client, ExitStack() as streams:
        readers = []
        for _ in range(5):
            response = streams.enter_context(client.stream("GET", stream_url(proxied, backlog=1)))
            assert response.status_code == 200, proxied.diagnostics()
            events = sse_events(response)
            next_matching(events, is_line("first line"), 5.0, "backlog line", proxied)
            readers.append(events)

        proxied.logtail.terminate()
        sent = time.monotonic()
        assert proxied.logtail.proc is not None
        try:
            proxied.logtail.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"logtail running 5 s after SIGTERM\n{proxied.diagnostics()}") from None
        exited_after = time.monotonic() - sent

        for events in readers:
            rest: list[Event] = []
            try:
                for event in events:  # ends when nginx closes the client's response
                    rest.append(event)
            except httpx.RemoteProtocolError:
                pass  # closed without the final chunk: ended all the same
            except httpx.ReadTimeout:
                raise AssertionError(f"stream still open after logtail exited, got {rest}\n"
                                     f"{proxied.diagnostics()}") from None
            notices = [event.json() for event in rest if event.event == "notice"]
            assert any(notice.get("kind") == "shutdown" for notice in notices), \
                f"no shutdown notice, got {rest}\n{proxied.diagnostics()}"
    assert exited_after < 5.0
