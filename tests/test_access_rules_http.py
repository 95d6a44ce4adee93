"""For random rule sets, `/api/logs` lists exactly the logs a direct stream request of each name allows
(issue 26): the list and the streams cannot disagree about who sees what."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtail.web.middleware.auth import hash_password
from tests.support import LogtailServer, wait_for

pytestmark = pytest.mark.slow

PASSWORD = "secret"
LOGS = ("app.log", "apx.log", "db.log", "db-2.log", "nginx.access", "a.b")
USERS = {"alice": "web", "bob": "dba", "carol": ""}
WHO = ("alice", "bob", "carol", "group:web", "group:dba", "group:nobody")
globs = st.text(alphabet="abdlgpx.-*?", min_size=1, max_size=8)
rule_sets = st.dictionaries(globs, st.lists(st.sampled_from(WHO), min_size=1, max_size=3), max_size=4)


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_the_list_is_exactly_what_streams_allow(tmp_path: Path,
                                                start_server: Callable[..., LogtailServer]) -> None:
    for name in LOGS:
        (tmp_path / name).write_text(f"{name}\n")
    hashed = hash_password(PASSWORD)
    (tmp_path / "users").write_text("".join(f"{u}:{hashed}:{g}\n" for u, g in USERS.items()))
    config = tmp_path / "logtail.toml"
    config.write_text(f'users = "{tmp_path / "users"}"\n')
    server = start_server("--config", str(config), *(str(tmp_path / name) for name in LOGS))
    assert server.proc is not None
    pid = server.proc.pid
    client = httpx.Client(timeout=10)

    def stream_status(user: str, name: str) -> int:
        with client.stream("GET", f"{server.url}/api/logs/{name}/stream", auth=(user, PASSWORD)) as response:
            return response.status_code

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rule_sets)
    def check(rules: dict[str, list[str]]) -> None:
        table = "".join(f"{toml_string(g)} = [{', '.join(toml_string(w) for w in who)}]\n"
                        for g, who in rules.items())
        config.write_text(f'users = "{tmp_path / "users"}"\n[access]\n{table}')
        reloads = server.output().count("reload:")
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: server.output().count("reload:") > reloads, 10, what="the reload")
        for user in USERS:
            listed = [i["name"] for i in client.get(f"{server.url}/api/logs", auth=(user, PASSWORD)).json()]
            allowed = [name for name in LOGS if stream_status(user, name) == 200]
            assert listed == allowed, (user, rules)
            assert all(stream_status(user, name) == 404 for name in LOGS if name not in allowed)

    try:
        check()
    finally:
        client.close()
