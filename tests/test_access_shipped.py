"""Access rules over logs shipped by other hosts (NAME@HOST, through Redis): the same as local ones (issue 26)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.web.middleware.auth import hash_password
from tests.redis_support import RedisServer, Shipper
from tests.streams import append, first_bytes
from tests.support import LogtailServer, wait_for

pytestmark = pytest.mark.slow

PASSWORD = "secret"
SHIPPED = "app.log@web1"


def test_a_shipped_log_is_shown_and_refused_by_the_rules(
        tmp_path: Path, redis_server: RedisServer, start_shipper: Callable[..., Shipper],
        start_server: Callable[..., LogtailServer]) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    hashed = hash_password(PASSWORD)
    (tmp_path / "users").write_text(f"alice:{hashed}:web\nbob:{hashed}:dba\n")
    config = tmp_path / "logtail.toml"
    local = tmp_path / "db.log"
    local.write_text("a local line\n")
    config.write_text(f'users = "{tmp_path / "users"}"\nsources = ["{local}"]\n'
                      '[access]\n"*@web*" = ["group:web"]\n"*@db*" = ["group:dba"]\n'
                      '"db.log" = ["group:dba", "group:web"]\n'
                      '[watches.shipped]\nlogs = ["app.log@*"]\nq = "x"\n'
                      '[watches.none]\nlogs = ["gone.log@*"]\nq = "x"\n')  # covers no log (yet, or any more)
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    server = start_server("--config", str(config), "--redis", redis_server.url)

    def listed(user: str) -> list[str]:
        response = httpx.get(f"{server.url}/api/logs", auth=(user, PASSWORD), timeout=10)
        return [info["name"] for info in response.json()]

    wait_for(lambda: SHIPPED in listed("alice"), 20, what="the shipped log listed")
    append(log, ["shipped line"])
    wait_for(lambda: redis_server.lines("web1", "app.log"), 10, what="the line shipped")
    assert listed("bob") == ["db.log"]

    def status(user: str, path: str) -> tuple[int, bytes]:
        return first_bytes(server.url + path, auth=(user, PASSWORD))

    for path in (f"/api/logs/{SHIPPED}", f"/api/logs/{SHIPPED}/stream?format=ndjson",
                 f"/api/logs/{SHIPPED}/stream?format=sse", f"/api/stream?log={SHIPPED}&format=text",
                 f"/api/stream?log=db.log&log={SHIPPED}&format=sse",  # a shipped and a local log: refused whole
                 f"/api/logs/{SHIPPED}/search?q=shipped", f"/api/logs/{SHIPPED}/download"):
        assert status("bob", path) == (404, b'{"detail":"unknown log \'app.log@web1\'"}'), path
        allowed = status("alice", path)
        assert allowed[0] == 200 and allowed[1], path
    # Its rotated files stay on its host: said to a reader, the unknown-log 404 to anyone else.
    assert status("bob", f"/api/logs/{SHIPPED}/rotated") == (404, b'{"detail":"unknown log \'app.log@web1\'"}')
    assert b"web1" in status("alice", f"/api/logs/{SHIPPED}/rotated")[1]

    def watches(user: str) -> set[str]:
        response = httpx.get(f"{server.url}/api/watches", auth=(user, PASSWORD), timeout=10)
        return {watch["name"] for watch in response.json()}

    # A watch that covers no log now may have counted lines of logs gone: only who reads every log sees it.
    assert (watches("alice"), watches("bob")) == ({"shipped", "none"}, set())
    assert status("bob", "/api/watches/none") == (404, b'{"detail":"unknown watch \'none\'"}')

    def hosts(user: str) -> dict[str, list[str]]:
        response = httpx.get(f"{server.url}/api/hosts", auth=(user, PASSWORD), timeout=10)
        return {host["host"]: sorted(host["logs"]) for host in response.json()}

    wait_for(lambda: hosts("alice") == {"web1": ["app.log"]}, 20, what="web1's heartbeat naming app.log")
    assert hosts("bob") == {}  # a host none of whose logs bob may read is not his to know of
