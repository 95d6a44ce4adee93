"""Many hosts on a Redis Cluster (`--redis redis+cluster://...`, logtail/sources/redis/client.py): a shipper and
a web node against three local masters, streams spread over the shards by key, XREAD per slot."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from logtail.sources.redis import keys
from tests.redis_support import RedisClusterServers, Shipper, listed
from tests.streams import SSEClient, append
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


class Writer:
    """Appends `NAME i` to each log every few milliseconds, in a thread, until stopped; `written` is what it wrote."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.written: dict[str, list[str]] = {name: [] for name in paths}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(0.005):
            for name, path in self.paths.items():
                append(path, [f"{name} {i}"])
                self.written[name].append(f"{name} {i}")
            i += 1

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def lost_run(written: list[str], kept: list[str]) -> list[str]:
    """The lines of `written` missing from `kept`, which must be `written` in order, nothing repeated, with at
    most one run of consecutive lines taken out (what a failover loses: the end of the old master's stream)."""
    start = next((i for i, (w, k) in enumerate(zip(written, kept, strict=False)) if w != k), len(kept))
    end = len(written) - (len(kept) - start)
    assert kept == written[:start] + written[end:], "a line was repeated or reordered, or more than one run lost"
    return written[start:end]


async def test_a_master_killed_mid_stream_fails_over_to_its_replica(
        tmp_path: Path, start_shipper: StartShipper, start_server: StartServer) -> None:
    """3 masters with a replica each; one master SIGKILLed while a shipper writes and a node streams. Its
    replica takes over, and the stream goes on: lines lost only from the end of what the dead master had
    acknowledged (asynchronous replication), none repeated, and every id given out still resumes."""
    cluster = RedisClusterServers(tmp_path / "cluster", replicas=1, node_timeout_ms=1000)
    try:
        cluster.start()
        paths = {n: tmp_path / n for n in ("app.log", "db.log", "jobs.log", "web.log", "queue.log")}
        for path in paths.values():
            path.write_text("")
        start_shipper(*map(str, paths.values()), "--host-name", "web1", "--redis", cluster.url)
        node = start_server("--redis", cluster.url, "--backlog", "0")
        await asyncio.to_thread(listed, node, *(f"{n}@web1" for n in paths))
        # The master killed holds a log and is not the node the URL names.
        victim, master = next((n, m) for n in paths
                              if (m := cluster.master_of(keys.stream_key("web1", n))) is not cluster.nodes[0])
        replica = cluster.replica_of(master)
        on_master = {n for n in paths if cluster.master_of(keys.stream_key("web1", n)) is master}
        query = "&".join(f"log={n}@web1" for n in paths)
        async with SSEClient(f"{node.url}/api/stream?{query}&backlog=0") as live:
            with Writer(paths) as writer:
                await live.wait_lines(200, 20, f"{victim}@web1")
                # The replica is cut off for a moment, so that the master acknowledges entries it never passes
                # on: what asynchronous replication can lose, made certain to happen here.
                cluster.cut_off(replica, master)
                await live.wait_lines(300, 20, f"{victim}@web1")
                cluster.kill(master)
                at_kill = {n: len(w) for n, w in writer.written.items()}
                cluster.resume(replica)
                how = await asyncio.to_thread(cluster.promoted, replica, 10)
                promoted_at = len(writer.written[victim])
                await live.wait(lambda: f"{victim} {promoted_at + 100}" in live.lines(f"{victim}@web1"), 30,
                                "lines written after the failover")
            written = writer.written
            await live.wait(lambda: all(live.lines(f"{n}@web1")[-1:] == written[n][-1:] for n in paths), 30,
                            f"every log's last line, after a {how} failover")
        kept = {n: cluster_lines(cluster, "web1", n) for n in paths}
        for name in paths:
            lost = lost_run(written[name], kept[name])
            # Only lines the dead master had acknowledged can be lost: lines written before it was killed.
            assert not lost or written[name].index(lost[-1]) < at_kill[name], (name, lost)
            assert name in on_master or not lost, (name, lost)  # the other shards lose nothing
            got = live.lines(f"{name}@web1")
            # The client got every line Redis kept, once and in order; of the lost ones, those the node had read
            # from the master before it died (what it sent cannot be taken back).
            missed = lost_run(written[name][written[name].index(got[0]):], got)
            assert set(missed) <= set(lost), (name, missed)
        assert len(lost_run(written[victim], kept[victim])) >= 10, "the failover lost nothing: the test proves little"

        # Ids stay resumable, from a line read before the kill (kept or lost) or after the failover: on this
        # node a client resuming gets what the live stream sent after that line (from the node's window, lost
        # lines included); on a node started after the failover, what Redis kept after it, without a repeat.
        got = live.lines(f"{victim}@web1")
        fresh = start_server("--redis", cluster.url, "--backlog", "0")
        await asyncio.to_thread(listed, fresh, f"{victim}@web1")
        read_lost = [line for line in got if line not in set(kept[victim])]
        for text in (got[0], got[199], *read_lost[:1], *read_lost[-1:], got[-50]):
            resume = own_id(live.id_of(text), f"{victim}@web1")
            after = [line for line in written[victim][written[victim].index(text) + 1:] if line in set(kept[victim])]
            for server, expected in ((node, got[got.index(text) + 1:]), (fresh, after)):
                async with SSEClient(f"{server.url}/api/logs/{victim}@web1/stream?backlog=0",
                                     headers={"Last-Event-ID": resume}) as again:
                    await again.wait(lambda: again.lines()[-1:] == expected[-1:], 20,  # noqa: B023
                                     f"resumed after {text!r} on {server.url}")
                    assert again.lines() == expected, (text, server.url)
    finally:
        cluster.stop()


def own_id(stream_id: str, log: str) -> str:
    """One log's part of a multi-log stream's id (positions joined by commas)."""
    return next(part for part in stream_id.split(",") if part.startswith(f"{log}="))
