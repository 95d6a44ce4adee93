"""Redis outages seen and survived (logtail/sources/redis/client.py Outage and Backoff, reader.py,
web/readiness.py): backoff with jitter, one warning and one true recovery per outage, `/readyz`, and the
`unreachable` notice for a client that connects during an outage."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.sources.redis import client as redis_client
from logtail.sources.redis.client import Backoff
from logtail.sources.redis.source import RedisSource
from tests.redis_support import RedisServer, Shipper, body_lines, one_host
from tests.streams import gauge
from tests.support import LogtailServer, free_port, wait_for

StartServer = Callable[..., LogtailServer]
StartShipper = Callable[..., Shipper]


async def test_backoff_doubles_to_its_cap_with_jitter_and_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)
    monkeypatch.setattr(redis_client.asyncio, "sleep", record)
    backoff = Backoff()
    for _ in range(12):
        await backoff.wait()
    ceilings = [min(0.1 * 2 ** i, 5.0) for i in range(12)]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True)), waits
    assert len(set(waits[-4:])) > 1, "no jitter: every node would retry in the same instant"
    backoff.reset()
    await backoff.wait()
    assert waits[-1] <= 0.1


def status(node: LogtailServer, path: str) -> int:
    return httpx.get(f"{node.url}{path}", timeout=5).status_code


def test_readyz_is_always_ok_without_redis(tmp_path: Path, start_server: StartServer) -> None:
    (tmp_path / "a.log").touch()
    node = start_server(str(tmp_path / "a.log"))
    assert status(node, "/readyz") == 200 and httpx.get(f"{node.url}/readyz").json() == {"status": "ok"}


@pytest.mark.slow
def test_a_node_started_while_redis_is_down_warns_once_and_is_back_once(
        tmp_path: Path, start_server: StartServer) -> None:
    """Regression: with no shipped log yet, the recovery check sent an empty pipeline, which "succeeded"
    without reaching Redis: `unreachable` then `is back` every 100 ms."""
    redis = RedisServer(tmp_path / "redis")
    redis.port = free_port()  # nothing listens there yet
    node = start_server("--redis", redis.url)
    wait_for(lambda: "unreachable" in node.output(), 15, 0.05, "the outage warning")
    assert status(node, "/readyz") == 503 and status(node, "/healthz") == 200
    deadline = time.monotonic() + 3  # an observation window: flapping would show many pairs in it
    while time.monotonic() < deadline:
        assert "is back" not in node.output(), node.output()
        time.sleep(0.2)
    assert node.output().count("unreachable") == 1
    assert gauge(node.url, "logtail_redis_outages_total") == 1
    redis.start()
    try:
        wait_for(lambda: status(node, "/readyz") == 200, 20, 0.1, "readiness once Redis is up")
        wait_for(lambda: "is back" in node.output(), 10, 0.05, "the recovery line")
        assert node.output().count("is back") == 1 and node.output().count("unreachable") == 1
    finally:
        redis.stop()


@pytest.mark.slow
async def test_a_client_connecting_during_an_outage_hears_of_it_at_once(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    _, node = one_host(tmp_path, redis_server, start_shipper, start_server)
    wait_for(lambda: status(node, "/readyz") == 200, 10, 0.05, "ready")
    redis_server.stop()
    await asyncio.to_thread(wait_for, lambda: status(node, "/readyz") == 503, 20, 0.1, "not ready")
    rows = await body_lines(f"{node.url}/api/stream?log=app.log@web1&format=ndjson&backlog=0", 1, within=5)
    notice = json.loads(rows[0])
    assert (notice["kind"], notice["log"]) == ("unreachable", "app.log@web1"), rows


async def test_readiness_says_why_at_start_during_an_outage_and_after() -> None:
    """Before its first read of the registry a node is not ready (its shipped logs would be 404s), which is not
    an outage; after a failed attempt it is one; after a success it is ready."""
    source = RedisSource(Settings(redis=f"redis://127.0.0.1:{free_port()}/0"), Hub(10, 1 << 20))
    outage = source.shipped.outage
    assert source.unready() == "redis: reading the registry of shipped logs"
    await outage.failed(ConnectionError("refused"))  # waits its first backoff, at most 0.1 s
    assert source.unready() == "redis unreachable"
    outage.ok()
    assert source.unready() is None
