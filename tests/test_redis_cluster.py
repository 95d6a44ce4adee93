"""Many hosts on a Redis Cluster (`--redis redis+cluster://...`, logtail/sources/redis/client.py): a shipper and
a web node against three local masters, streams spread over the shards by key, XREAD per slot."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from logtail.sources.redis import keys
from tests.redis_support import RedisClusterServers, Shipper, listed
from tests.streams import append
from tests.support import LogtailServer, wait_for

pytestmark = pytest.mark.slow
StartServer = Callable[..., LogtailServer]
StartShipper = Callable[..., Shipper]
HOSTS, LOGS = ("web1", "web2"), ("app.log", "db.log", "jobs.log")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path / "cluster")
    try:
        yield servers.start()
    finally:
        servers.stop()


def cluster_lines(cluster: RedisClusterServers, host: str, name: str) -> list[str]:
    raw = cluster.client().xrange(keys.stream_key(host, name))
    return [line.text for i, f in raw for line in keys.decode_entry(i, f).lines(name)]


async def test_shippers_and_a_node_on_a_three_master_cluster(
        tmp_path: Path, cluster: RedisClusterServers, start_shipper: StartShipper, start_server: StartServer) -> None:
    paths = {}
    for host in HOSTS:
        (tmp_path / host).mkdir()
        for name in LOGS:
            paths[host, name] = tmp_path / host / name
            paths[host, name].write_text("")
        start_shipper(*(str(paths[host, n]) for n in LOGS), "--host-name", host, "--redis", cluster.url,
                      "--redis-maxlen", "50", "--host-heartbeat", "0.5")
    node = start_server("--redis", cluster.url, "--backlog", "0")
    names = [f"{n}@{h}" for h in HOSTS for n in LOGS]
    await asyncio.to_thread(listed, node, *names)
    client = cluster.client()
    shards = {client.get_node_from_key(keys.stream_key(h, n)).name for h in HOSTS for n in LOGS}
    assert len(shards) > 1, "every stream landed on one shard: the test proves nothing about CROSSSLOT"

    query = "&".join(f"log={n}" for n in names)
    expected = {f"{n}@{h}": [f"{h} {n} {i}" for i in range(3)] for h in HOSTS for n in LOGS}
    got: dict[str, list[str]] = {n: [] for n in names}
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as http, \
            http.stream("GET", f"{node.url}/api/stream?{query}&format=ndjson&backlog=0") as response:
        for (host, name), path in paths.items():
            append(path, expected[f"{name}@{host}"])
        async with asyncio.timeout(30):
            async for row in response.aiter_lines():
                item = json.loads(row)
                if "text" in item:
                    got[item["log"]].append(item["text"])
                if got == expected:
                    break
    assert got == expected

    # Retention counts lines there too: at least 50, at most 50 + one entry + the last batch. Three batches
    # (183 lines with the first 3) are more than that bound: some must have been trimmed.
    written = expected["app.log@web1"]
    for round_ in range(3):
        batch = [f"line {round_} {i}" for i in range(60)]
        append(paths["web1", "app.log"], batch)
        written += batch
        last = written[-1]
        wait_for(lambda: cluster_lines(cluster, "web1", "app.log")[-1:] == [last], 30, 0.1, f"{last!r}")  # noqa: B023
    kept = cluster_lines(cluster, "web1", "app.log")
    assert 50 <= len(kept) <= 50 + 60 + 60 < len(written) and kept == written[-len(kept):], len(kept)

    def both_alive() -> bool:
        hosts = httpx.get(f"{node.url}/api/hosts", timeout=5).json()
        return [(h["host"], h["state"]) for h in hosts] == [("web1", "alive"), ("web2", "alive")]
    await asyncio.to_thread(wait_for, both_alive, 20, 0.1, "both hosts alive")
    assert httpx.get(f"{node.url}/readyz", timeout=5).status_code == 200

    # Forgetting a host deletes keys on several shards (no MULTI across slots).
    done = subprocess.run([sys.executable, "-m", "logtail", "hosts", "--forget", "web2", "--redis", cluster.url],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert not any(client.exists(keys.stream_key("web2", n)) for n in LOGS) and client.exists(
        keys.stream_key("web1", "app.log"))
