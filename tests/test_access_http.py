"""Who sees what, through real `logtail serve` processes: every endpoint for an allowed and a denied user, a
users file reloaded under open streams, proxy-header sign-in, /metrics, the audit line (issue 26)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.web.middleware.auth import hash_password
from tests.streams import SSEClient, first_bytes
from tests.support import LogtailServer, wait_for

PASSWORD = "secret"
RULES = '[access]\n"app*" = ["group:web"]\n"db*" = ["group:dba", "alice"]\n'
# Every endpoint that names a log, as (path template, query); {name} is the log asked for.
ENDPOINTS = [
    ("/api/logs/{name}", ""),
    ("/api/logs/{name}/stream", "format=sse"),
    ("/api/logs/{name}/stream", "format=ndjson"),
    ("/api/logs/{name}/stream", "format=text"),
    ("/api/stream", "log=db.log&log={name}&format=sse"),  # multi-log: one unreadable log refuses it whole
    ("/api/stream", "log={name}&log=db.log&format=ndjson"),
    ("/api/stream", "log=db.log&log={name}&format=text"),
    ("/api/logs/{name}/search", "q=line"),
    ("/api/logs/{name}/download", ""),
    ("/api/logs/{name}/download", "rotated=1"),
    ("/api/logs/{name}/rotated", ""),
]


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


def users_text(password_hash: str, users: dict[str, str]) -> str:
    return "".join(f"{name}:{password_hash}:{groups}\n" for name, groups in users.items())


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    for name in ("app.log", "db.log"):
        (tmp_path / name).write_text(f"{name} line 1\n")
    (tmp_path / "app.log.1").write_text("app.log rotated line\n")
    return tmp_path


@pytest.fixture
def server(logs: Path, password_hash: str, start_server: Callable[..., LogtailServer]) -> LogtailServer:
    (logs / "users").write_text(users_text(password_hash, {"alice": "web", "bob": "dba", "carol": ""}))
    config = logs / "logtail.toml"
    config.write_text(f'users = "{logs / "users"}"\nmetrics_users = "alice"\n{RULES}')
    return start_server("--config", str(config), str(logs / "app.log"), str(logs / "db.log"), "--heartbeat", "1")


def get(server: LogtailServer, user: str | None, path: str,
        headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return first_bytes(server.url + path, auth=(user, PASSWORD) if user else None, headers=headers)


def names(server: LogtailServer, user: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/logs", auth=(user, PASSWORD), timeout=10)
    assert response.status_code == 200, response.text
    return [info["name"] for info in response.json()]


def test_the_log_list_shows_only_what_each_user_may_read(server: LogtailServer) -> None:
    assert names(server, "alice") == ["app.log", "db.log"]
    assert names(server, "bob") == ["db.log"]
    assert names(server, "carol") == []  # no grants: an empty list, not an error
    page = httpx.get(server.url + "/", auth=("bob", PASSWORD), timeout=10).text
    assert "db.log" in page and "app.log" not in page
    assert '<span class="user" title="signed in with a password: close the browser to sign out">bob</span>' in page


def test_every_endpoint_refuses_a_denied_log_exactly_as_an_unknown_one(server: LogtailServer) -> None:
    # One server for all endpoints: a server start costs seconds on a loaded machine.
    def ask(user: str, name: str, path: str, query: str) -> tuple[int, bytes]:
        return get(server, user, path.format(name=name) + ("?" + query.format(name=name) if query else ""))

    for path, query in ENDPOINTS:
        where = f"{path}?{query}"
        denied, unknown = ask("bob", "app.log", path, query), ask("bob", "no.log", path, query)
        assert denied == (404, b'{"detail":"unknown log \'app.log\'"}'), where
        assert unknown == (404, denied[1].replace(b"app.log", b"no.log")), where
        status, body = ask("alice", "app.log", path, query)
        assert status == 200 and body, where  # the same request of a user who may read it

    def head(user: str) -> int:
        return httpx.head(f"{server.url}/api/logs/app.log/download", auth=(user, PASSWORD), timeout=10).status_code

    assert (head("bob"), head("alice")) == (404, 200)  # HEAD as GET


def test_a_reload_ends_the_streams_of_users_who_lost_access_and_keeps_the_others(
        server: LogtailServer, logs: Path, password_hash: str) -> None:
    async def scenario() -> None:
        url = f"{server.url}/api/logs/db.log/stream?backlog=1"
        async with SSEClient(url, _basic("alice")) as alice, SSEClient(url, _basic("bob")) as bob:
            await alice.wait_lines(1)
            await bob.wait_lines(1)
            # bob loses the dba group; dave appears.
            (logs / "users").write_text(users_text(password_hash, {"alice": "web", "bob": "", "dave": "dba"}))
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGHUP)
            notice = await bob.wait(lambda: bob.notices("revoked"), within=10, what="bob's stream revoked")
            assert notice[0]["message"] == "access to this log was withdrawn"
            await bob.wait(lambda: bob.ended, within=10, what="bob's stream closed")
            with (logs / "db.log").open("a") as f:
                f.write("after the reload\n")
            assert (await alice.wait_lines(2))[-1] == "after the reload"  # not dropped
            assert not alice.ended

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert names(server, "bob") == [] and names(server, "dave") == ["db.log"]
    assert "reload: 3 users, 2 access rules; 1 streams ended" in server.output()


def test_a_rule_changed_on_reload_ends_the_streams_it_no_longer_allows(server: LogtailServer, logs: Path) -> None:
    async def scenario() -> None:
        url = f"{server.url}/api/stream?log=app.log&log=db.log&format=ndjson&backlog=1"
        async with SSEClient(url, _basic("alice")) as alice:
            await alice.wait(lambda: b"db.log line 1" in alice.raw, what="alice's backlog")
            # db* is no longer alice's by name: her multi-log NDJSON stream loses one of its logs.
            config = logs / "logtail.toml"
            config.write_text(config.read_text().replace('"db*" = ["group:dba", "alice"]', '"db*" = ["group:dba"]'))
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGHUP)
            await alice.wait(lambda: b'"kind":"revoked"' in alice.raw, within=10, what="alice's stream revoked")
            await alice.wait(lambda: alice.ended, within=10, what="alice's stream closed")

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert names(server, "alice") == ["app.log"]


def test_a_broken_users_file_on_reload_keeps_the_users_in_force(server: LogtailServer, logs: Path) -> None:
    (logs / "users").write_text("alice:not-a-hash:web\n")
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(lambda: "keeping the users and rules in force" in server.output(), 10, what="the reload error")
    assert "users file" in server.output() and names(server, "bob") == ["db.log"]


def test_metrics_only_for_metrics_users_and_healthz_open(server: LogtailServer) -> None:
    assert get(server, "alice", "/metrics")[0] == 200
    assert get(server, "bob", "/metrics")[0] == 403
    assert get(server, None, "/metrics")[0] == 401
    assert get(server, None, "/healthz") == (200, b'{"status":"ok"}')


def test_what_is_opened_is_audited_with_the_user_and_counted(server: LogtailServer) -> None:
    assert get(server, "alice", "/api/logs/app.log/search?q=line&level=error")[0] == 200
    assert get(server, "alice", "/api/stream?log=app.log&log=db.log&regex=line&format=text")[0] == 200
    assert get(server, "bob", "/api/logs/db.log/download?rotated=9")[0] == 404  # refused: not audited
    assert get(server, "bob", "/api/logs/db.log/download")[0] == 200
    lines = wait_for(lambda: [json.loads(line.split(" audit ", 1)[1]) for line in server.output().splitlines()
                              if " audit " in line] or None, 10, what="audit lines")
    wait_for(lambda: len(lines) >= 3 or None, 1)
    assert [(e["event"], e["user"], e["logs"], e["filter"]) for e in lines] == [
        ("search", "alice", ["app.log"], {"q": ["line"], "level": ["error"]}),
        ("stream", "alice", ["app.log", "db.log"], {"regex": ["line"]}),
        ("download", "bob", ["db.log"], {}),
    ]
    metrics = httpx.get(f"{server.url}/metrics", auth=("alice", PASSWORD), timeout=10).text
    assert 'logtail_opened_total{event="search",user="alice"} 1.0' in metrics
    assert 'logtail_opened_total{event="stream",user="alice"} 1.0' in metrics
    assert 'logtail_opened_total{event="download",user="bob"} 1.0' in metrics


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": httpx.BasicAuth(user, PASSWORD)._auth_header}


# --- proxy-header sign-in ------------------------------------------------------------------------------------

def test_a_forged_user_header_from_an_untrusted_address_is_refused_and_logged(
        logs: Path, start_server: Callable[..., LogtailServer]) -> None:
    """The proxy is 127.0.0.2; a client on 127.0.0.1 sending the header itself must not be believed."""
    server = start_server(str(logs / "app.log"), "--auth-proxy-header", "X-Forwarded-User",
                          "--forwarded-allow-ips", "127.0.0.2")
    forged = {"X-Forwarded-User": "alice"}
    for path in ("/api/logs", "/api/logs/app.log/stream", "/api/stream?log=app.log", "/"):
        assert get(server, None, path, headers=forged)[0] == 401, path
    assert get(server, None, "/api/logs")[0] == 401
    assert get(server, None, "/healthz")[0] == 200
    assert "refused a request with X-Forwarded-User from 127.0.0.1" in server.output()


def test_the_proxy_names_the_user_and_groups(logs: Path, start_server: Callable[..., LogtailServer]) -> None:
    config = logs / "proxy.toml"
    config.write_text(RULES)
    server = start_server("--config", str(config), str(logs / "app.log"), str(logs / "db.log"),
                          "--auth-proxy-header", "X-Forwarded-User",
                          "--auth-proxy-groups-header", "X-Forwarded-Groups")
    as_bob = {"X-Forwarded-User": "bob", "X-Forwarded-Groups": "dba, other"}
    assert get(server, None, "/api/logs/db.log/stream?format=text", headers=as_bob)[0] == 200
    assert get(server, None, "/api/logs/app.log/stream?format=text", headers=as_bob)[0] == 404
    assert get(server, None, "/api/logs/app.log/stream?format=text",
               headers={"X-Forwarded-User": "x", "X-Forwarded-Groups": "web"})[0] == 200
    # The proxy let a request through without a user: visible as 401, never served anonymously.
    assert get(server, None, "/api/logs")[0] == 401
    assert "without a usable X-Forwarded-User header" in server.output()


def test_sighup_reloads_every_worker(logs: Path, password_hash: str, tmp_path: Path) -> None:
    """Pins: with --workers the supervisor died of SIGHUP (its default action) instead of passing it on."""
    (logs / "users").write_text(users_text(password_hash, {"alice": "web"}))
    with LogtailServer(["--users", str(logs / "users"), str(logs / "app.log"), "--workers", "2"]) as server:
        server.start(tmp_path, timeout=60)  # two spawned interpreters: slow on a loaded machine
        _reload_both(server, logs, password_hash)


def _reload_both(server: LogtailServer, logs: Path, password_hash: str) -> None:
    wait_for(lambda: server.output().count("Application startup complete") == 2, 20, what="both workers")
    (logs / "users").write_text(users_text(password_hash, {"alice": "web", "bob": "dba"}))
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(lambda: server.output().count("reload: 2 users") == 2, 20, what="a reload in each worker")
    assert server.proc.poll() is None
    assert get(server, "bob", "/api/logs")[0] == 200


def test_watches_and_their_lines_and_levels_are_of_readable_logs_only(
        logs: Path, password_hash: str, start_server: Callable[..., LogtailServer]) -> None:
    """A watch over a log the user may not read is not listed and answers 404 like an unknown watch (its view
    would be refused whole, as a multi-log stream is); lines counted by level: of readable logs only."""
    (logs / "users").write_text(users_text(password_hash, {"alice": "web", "bob": "dba"}))
    config = logs / "logtail.toml"
    config.write_text(f'users = "{logs / "users"}"\nsources = ["app.log", "db.log"]\n{RULES}'
                      '[watches.all]\nlogs = ["*.log"]\nq = "secret"\nthreshold = 2\n'
                      '[watches.db]\nlogs = ["db.log"]\nq = "secret"\n')
    server = start_server("--config", str(config))
    for name in ("app.log", "db.log"):
        with (logs / name).open("a") as f:
            f.write(f"{name} secret\n")

    def watches(user: str) -> dict[str, dict[str, object]]:
        listed = httpx.get(f"{server.url}/api/watches", auth=(user, PASSWORD), timeout=10).json()
        return {found["name"]: found for found in listed}

    wait_for(lambda: watches("alice")["all"]["last_alert"], what="the alert")
    # The two files are read in whichever order their changes are noticed: the alert's lines, in either.
    assert sorted(line["log"] for line in watches("alice")["all"]["recent_alerts"][0]["lines"]) == [  # type: ignore[index]
        "app.log", "db.log"]
    assert set(watches("bob")) == {"db"}
    for path in ("/api/watches/all", "/api/watches/all/counts", "/api/watches/all/stream?format=text"):
        assert get(server, "bob", path) == (404, b'{"detail":"unknown watch \'all\'"}'), path
    assert httpx.post(f"{server.url}/api/watches/all/test", auth=("bob", PASSWORD), timeout=10).status_code == 404
    assert get(server, "bob", "/api/watches/db")[0] == 200
    levels = httpx.get(f"{server.url}/api/levels", auth=("bob", PASSWORD), timeout=10).json()["logs"]
    assert set(levels) == {"db.log"}
