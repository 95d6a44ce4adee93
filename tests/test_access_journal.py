"""Access rules on journal logs (docs/access.md): the same refusals as for files, users from the TOML `[users]`
table, and a reload that lands while a stream waits for its journal log's window."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from logtail.web.middleware.auth import hash_password
from tests.journal_support import JournalWriter, journal_messages, slow_journalctl
from tests.streams import first_bytes
from tests.support import LogtailServer, wait_for

PASSWORD = "secret"
RULES = '[access]\n"app*" = ["group:web"]\n"db*" = ["group:dba", "alice"]\n'
# Every endpoint that names a log, as (path template, query, what a reader of the log gets); {name} is the log.
ENDPOINTS = [
    ("/api/logs/{name}", "", 200),
    ("/api/logs/{name}/stream", "format=sse", 200),
    ("/api/logs/{name}/stream", "format=ndjson&backlog=1", 200),
    ("/api/logs/{name}/stream", "format=text&backlog=1", 200),
    ("/api/stream", "log=db.service&log={name}&format=sse", 200),  # one unreadable log refuses it whole
    ("/api/stream", "log={name}&log=db.service&format=ndjson&backlog=1", 200),
    ("/api/logs/{name}/search", "q=line", 200),
    ("/api/logs/{name}/download", "", 200),
    ("/api/logs/{name}/rotated", "", 404),  # a journal log has none: said to its readers, a 404 like any other
]


def config_text(password_hash: str, users: dict[str, str]) -> str:
    table = "".join(f'{name} = {{ password = "{password_hash}", groups = [{groups}] }}\n'
                    for name, groups in users.items())
    return f"[users]\n{table}\n{RULES}"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[JournalWriter]:
    w = JournalWriter(tmp_path / "journal").open()
    try:
        w.write("app line 1")
        w.write("db line 1", _SYSTEMD_UNIT="db.service")
        wait_for(lambda: len(journal_messages(w.directory)) >= 2, 30, 0.1, "the entries in the file")
        yield w
    finally:
        w.close()


def serve(start_server: Callable[..., LogtailServer], writer: JournalWriter, config: Path,
          **kwargs: object) -> LogtailServer:
    return start_server("--config", str(config), "journal:app.service", "journal:db.service",
                        "--journal-directory", str(writer.directory), **kwargs)


def get(server: LogtailServer, user: str, path: str) -> tuple[int, bytes]:
    return first_bytes(server.url + path, auth=(user, PASSWORD), timeout=20)


def test_every_endpoint_refuses_a_denied_journal_log_exactly_as_an_unknown_one(
        tmp_path: Path, writer: JournalWriter, password_hash: str,
        start_server: Callable[..., LogtailServer]) -> None:
    config = tmp_path / "logtail.toml"
    config.write_text(config_text(password_hash, {"alice": '"web"', "bob": '"dba"', "carol": ""}))
    server = serve(start_server, writer, config)

    def names(user: str) -> list[str]:
        return [info["name"] for info in httpx.get(f"{server.url}/api/logs", auth=(user, PASSWORD),
                                                  timeout=10).json()]

    assert (names("alice"), names("bob"), names("carol")) == (["app.service", "db.service"], ["db.service"], [])
    for path, query, readers_get in ENDPOINTS:
        where = f"{path}?{query}"

        def ask(user: str, name: str, path: str = path, query: str = query) -> tuple[int, bytes]:
            return get(server, user, path.format(name=name) + ("?" + query.format(name=name) if query else ""))

        denied, unknown = ask("bob", "app.service"), ask("bob", "no.service")
        assert denied == (404, b'{"detail":"unknown log \'app.service\'"}'), where
        assert unknown == (404, denied[1].replace(b"app.service", b"no.service")), where
        status, body = ask("alice", "app.service")
        assert status == readers_get and body, (where, status, body)
    page = httpx.get(server.url + "/", auth=("bob", PASSWORD), timeout=10).text
    assert "db.service" in page and "app.service" not in page


async def test_a_reload_while_a_stream_waits_for_the_window_refuses_it(
        tmp_path: Path, writer: JournalWriter, password_hash: str,
        start_server: Callable[..., LogtailServer]) -> None:
    """bob's stream passes the access check, then waits for the journal log's window (journalctl made slow);
    a reload then takes db.service from bob: the stream is refused when it would open, not served. (2 s a
    journalctl: the window takes 4 s or more, room for the reload on a loaded machine.)"""
    config = tmp_path / "logtail.toml"
    config.write_text(config_text(password_hash, {"alice": '"web"', "bob": '"dba"'}))
    server = serve(start_server, writer, config, env=slow_journalctl(tmp_path / "slow", 2.0))
    assert httpx.get(f"{server.url}/readyz", timeout=5).json()["reason"] == "journal logs: reading their last entries"
    async with httpx.AsyncClient(timeout=30) as client:
        request = client.build_request("GET", f"{server.url}/api/logs/db.service/stream?format=text")
        opening = asyncio.create_task(client.send(request, auth=("bob", PASSWORD), stream=True))
        await asyncio.to_thread(wait_for, lambda: '"user":"bob"' in server.output(), 10, 0.02, "bob's stream audited")
        config.write_text(config_text(password_hash, {"alice": '"web"', "bob": '"web"'}))
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGHUP)
        await asyncio.to_thread(wait_for, lambda: "reload: 2 users" in server.output(), 10, 0.02, "the reload")
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 503  # the stream still waited
        answer = await opening
        body = await answer.aread() if answer.status_code == 404 else b"(a stream)"
        await answer.aclose()
    assert (answer.status_code, body) == (404, b'{"detail":"unknown log \'db.service\'"}')
