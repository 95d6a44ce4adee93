"""Search and download of a shipped log (logtail/sources/redis/history.py): over what Redis retains."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.redis_support import RedisServer, Shipper, listed, read_from_node
from tests.streams import append
from tests.support import LogtailServer, wait_for

pytestmark = pytest.mark.slow


def search(node: LogtailServer, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{node.url}/api/logs/app.log@web1/search", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.fixture
def node(tmp_path: Path, redis_server: RedisServer, start_shipper: Callable[..., Shipper],
         start_server: Callable[..., LogtailServer]) -> LogtailServer:
    log = tmp_path / "app.log"
    log.write_text("")
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    server = start_server("--redis", redis_server.url)
    listed(server, "app.log@web1")
    # Separate appends, shipped one by one: lines spread over several entries.
    for i in range(10):
        append(log, [f"line {i} {'ERROR' if i % 3 == 0 else 'INFO'}"])
        wait_for(lambda i=i: len(redis_server.lines("web1", "app.log")) > i, 10, 0.02, f"line {i} shipped")
    read_from_node(server, "app.log@web1", 10)
    return server


def test_search_with_the_same_parameters_as_a_file(node: LogtailServer) -> None:
    objects = search(node, q="ERROR", order="oldest", context=1)
    hits = [o for o in objects if "text" in o]
    assert [h["text"] for h in hits] == ["line 0 ERROR", "line 3 ERROR", "line 6 ERROR", "line 9 ERROR"]
    assert hits[1]["context_before"] == ["line 2 INFO"] and hits[1]["context_after"] == ["line 4 INFO"]
    assert objects[-1]["event"] == "done" and objects[-1]["matches"] == 4
    newest = [o["text"] for o in search(node, q="ERROR", limit=2) if "text" in o]
    assert newest == ["line 9 ERROR", "line 6 ERROR"]
    # Paging with a hit's id, as for files.
    before = [o["text"] for o in search(node, q="ERROR", before=hits[2]["id"]) if "text" in o]
    assert before == ["line 3 ERROR", "line 0 ERROR"]
    after = [o["text"] for o in search(node, q="ERROR", order="oldest", after=hits[2]["id"]) if "text" in o]
    assert after == ["line 9 ERROR"]
    bad = httpx.get(f"{node.url}/api/logs/app.log@web1/search", params={"before": "nope"}, timeout=10)
    assert bad.status_code == 400 and "before" in bad.text


def test_download_is_the_retained_lines_as_text(node: LogtailServer) -> None:
    response = httpx.get(f"{node.url}/api/logs/app.log@web1/download", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.text == "".join(f"line {i} {'ERROR' if i % 3 == 0 else 'INFO'}\n" for i in range(10))
