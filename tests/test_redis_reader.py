"""`logtail serve --redis` (logtail/sources/redis/reader.py, resume.py, discovery.py): shipped logs on real web nodes,
fed by real shippers through a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from logtail.sources.redis import keys
from logtail.sources.redis.client import Streams, connect, read_new
from tests.redis_support import RedisServer, Shipper, body_lines, listed, one_host, read_from_node
from tests.streams import SSEClient, append, async_wait_for, gauge
from tests.support import LogtailServer

pytestmark = pytest.mark.slow
StartShipper = Callable[..., Shipper]
StartServer = Callable[..., LogtailServer]






def two_shipping_hosts(tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> dict[str, Path]:
    """An empty app.log on each of hosts web1 and web2, each shipped by its own shipper."""
    logs = {}
    for host in ("web1", "web2"):
        (tmp_path / host).mkdir()
        logs[host] = tmp_path / host / "app.log"
        logs[host].touch()
        start_shipper(str(logs[host]), "--host-name", host, "--redis", redis_server.url)
    return logs


async def test_two_hosts_on_one_node_and_an_exact_resume_on_the_other(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    logs = two_shipping_hosts(tmp_path, redis_server, start_shipper)
    # A window of 5 lines: the resume below is read back from Redis, not from the node's memory.
    node_a = start_server("--redis", redis_server.url, "--window-lines", "5", "--backlog", "0")
    node_b = start_server("--redis", redis_server.url, "--window-lines", "5", "--backlog", "0")
    names = ["app.log@web1", "app.log@web2"]
    for node in (node_a, node_b):
        found = listed(node, *names)
        assert [found[n]["host"] for n in names] == ["web1", "web2"]
        assert found["app.log@web1"]["path"] == str(logs["web1"])
    query = "&".join(f"log={n}" for n in names)
    async with SSEClient(f"{node_a.url}/api/stream?{query}") as first:
        await asyncio.sleep(0)
        append(logs["web1"], ["a1", "a2", "a3"])
        append(logs["web2"], ["b1", "b2", "b3"])
        await first.wait_lines(6, within=20)
        assert first.lines("app.log@web1") == ["a1", "a2", "a3"]
        assert first.lines("app.log@web2") == ["b1", "b2", "b3"]
        resume_id = first.last_id()
        single_id = first.id_of("a2")
    assert resume_id is not None
    more_a = [f"a{i}" for i in range(4, 21)]
    more_b = [f"b{i}" for i in range(4, 21)]
    append(logs["web1"], more_a)
    append(logs["web2"], more_b)
    read_from_node(node_b, names[0], 20)
    read_from_node(node_b, names[1], 20)
    async with SSEClient(f"{node_b.url}/api/stream?{query}", headers={"Last-Event-ID": resume_id}) as second:
        await second.wait_lines(34, within=20)
        append(logs["web1"], ["a21"])
        await second.wait_lines(35, within=20)
        assert second.lines(names[0]) == [*more_a, "a21"]
        assert second.lines(names[1]) == more_b
        assert not second.notices("gap")
    async with SSEClient(f"{node_b.url}/api/logs/app.log@web1/stream", headers={"Last-Event-ID": single_id}) as one:
        await one.wait_lines(19, within=20)
        assert one.lines() == ["a3", *more_a, "a21"]


async def test_every_ndjson_row_of_a_multi_log_stream_resumes_the_whole_stream(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    """A row's `id` holds every log's position as of that row: given back as `last_event_id`, each log goes on
    exactly after it (a row carried its own log's id only, and giving it back replayed the other log from the
    first entry Redis held)."""
    logs = two_shipping_hosts(tmp_path, redis_server, start_shipper)
    node = start_server("--redis", redis_server.url, "--backlog", "0")
    names = ["app.log@web1", "app.log@web2"]
    listed(node, *names)
    url = f"{node.url}/api/stream?log={names[0]}&log={names[1]}&format=ndjson"
    reading = asyncio.ensure_future(body_lines(url, 6, within=20))
    await async_wait_for(lambda: gauge(node.url) >= 1, 10, "the stream open")
    append(logs["web1"], ["a1", "a2", "a3"])
    append(logs["web2"], ["b1", "b2", "b3"])
    rows = [json.loads(row) for row in await reading]
    append(logs["web1"], ["a4"])
    append(logs["web2"], ["b4"])
    for name in names:
        read_from_node(node, name, 4)
    for k in range(len(rows)):
        own = [part for part in rows[k]["id"].split(",") if part.startswith(rows[k]["log"] + "=")]
        assert len(own) == 1, rows[k]  # the row's own position is in its id
        expected = {name: [r["text"] for r in rows[k + 1:] if r["log"] == name] for name in names}
        expected[names[0]].append("a4")
        expected[names[1]].append("b4")
        resumed = await body_lines(f"{url}&last_event_id={quote(rows[k]['id'])}", sum(map(len, expected.values())))
        got = [json.loads(row) for row in resumed]
        assert {name: [r["text"] for r in got if r["log"] == name] for name in names} == expected, rows[k]["id"]


async def test_a_position_redis_no_longer_has_gets_a_gap_then_what_it_retains(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    log, node = one_host(tmp_path, redis_server, start_shipper, start_server, "--window-lines", "2")
    append(log, ["x", "y", "z"])
    read_from_node(node, "app.log@web1", 3)
    gone = f"app.log@web1={1:012x}:{(0 << 20) + 1}"  # entry 1-0: older than anything in the stream
    async with SSEClient(f"{node.url}/api/logs/app.log@web1/stream", headers={"Last-Event-ID": gone}) as client:
        await client.wait_lines(3, within=20)
        assert client.lines() == ["x", "y", "z"]
        assert len(client.notices("gap")) == 1
        assert client.events.index(next(e for e in client.events if e.get("event") == "notice")) < \
            client.events.index(next(e for e in client.events if e.get("event") == "line"))


async def test_filters_formats_and_max_clients_behave_as_on_local_logs(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    log, node = one_host(tmp_path, redis_server, start_shipper, start_server, "--max-clients", "2", "--backlog", "0")
    base = f"{node.url}/api/logs/app.log@web1/stream"
    text = asyncio.create_task(body_lines(f"{base}?format=text&q=needle", 2))
    ndjson = asyncio.create_task(body_lines(f"{base}?format=ndjson&level=error", 1))
    await async_wait_for(lambda: "logtail_clients 2.0" in httpx.get(f"{node.url}/metrics").text, 15)
    third = httpx.get(f"{base}?format=text", timeout=5)
    assert third.status_code == 503 and "max_clients=2" in third.text
    append(log, ["INFO hay", "ERROR needle one", "INFO needle two", "DEBUG hay"])
    assert await text == ["ERROR needle one", "INFO needle two"]
    record = json.loads((await ndjson)[0])
    assert (record["log"], record["text"], record["level"]) == ("app.log@web1", "ERROR needle one", "error")
    assert record["id"].startswith("app.log@web1=")
    bad = httpx.get(f"{base}?regex=(a", timeout=5)
    assert bad.status_code == 400 and "regex" in bad.text


async def test_hostile_lines_and_registry_records_are_only_data(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    client = redis_server.client()
    client.hset(keys.LOGS_KEY, mapping={
        "evil": json.dumps({"host": "../../x", "name": "<script>", "path": "/etc/passwd", "last_seen": 1}),
        "junk": "not json",
    })
    log, node = one_host(tmp_path, redis_server, start_shipper, start_server, "--backlog", "0")
    assert {x["name"] for x in httpx.get(f"{node.url}/api/logs", timeout=5).json()} == {"app.log@web1"}
    hostile = "<script>alert(1)</script>\x00 id: forged\rdata: x logtail:logs"
    async with SSEClient(f"{node.url}/api/logs/app.log@web1/stream") as stream:
        await asyncio.sleep(0.2)
        append(log, [hostile, "next"])
        await stream.wait_lines(2, within=20)
        assert stream.lines() == [hostile, "next"]
        assert all(e.get("id", "").startswith("app.log@web1=") for e in stream.events if "id" in e)
    page = httpx.get(f"{node.url}/", timeout=5).text
    assert "<script>alert" not in page
    assert httpx.get(f"{node.url}/api/logs/%3Cscript%3E@..%2F..%2Fx/stream", timeout=5).status_code == 404


async def test_redis_away_local_logs_go_on_and_shipped_clients_continue_exactly(
        tmp_path: Path, start_shipper: StartShipper, start_server: StartServer) -> None:
    redis = RedisServer(tmp_path / "redis", aof=True).start()
    try:
        shipped, local = tmp_path / "app.log", tmp_path / "local.log"
        shipped.write_text("")
        local.write_text("")
        start_shipper(str(shipped), "--host-name", "web1", "--redis", redis.url)
        node = start_server(str(local), "--redis", redis.url, "--backlog", "0")
        listed(node, "app.log@web1", "local.log")
        async with SSEClient(f"{node.url}/api/logs/app.log@web1/stream") as remote, \
                SSEClient(f"{node.url}/api/logs/local.log/stream") as here:
            await asyncio.sleep(0.2)
            append(shipped, ["s1", "s2"])
            await remote.wait_lines(2, within=20)
            assert redis.proc is not None
            os.kill(redis.proc.pid, signal.SIGKILL)
            redis.proc.wait(10)
            await remote.wait(lambda: remote.notices("unreachable"), 20, "the unreachable notice")
            assert gauge(node.url, "logtail_redis_up") == 0
            append(local, ["l1"])
            await here.wait_lines(1)
            append(shipped, ["s3", "s4"])
            redis.start()
            await remote.wait_lines(4, within=30)
            await remote.wait(lambda: remote.notices("reconnected"), 20, "the reconnected notice")
            assert remote.lines() == ["s1", "s2", "s3", "s4"]
            assert not remote.notices("gap")
        assert gauge(node.url, "logtail_redis_up") == 1
        assert gauge(node.url, "logtail_redis_outages_total") == 1
    finally:
        redis.stop()


async def test_a_resume_while_redis_is_away_completes_when_it_is_back(
        tmp_path: Path, start_shipper: StartShipper, start_server: StartServer) -> None:
    """The read-back waits for Redis (live lines queue meanwhile); nothing lost or repeated."""
    redis = RedisServer(tmp_path / "redis", aof=True).start()
    try:
        log, node = one_host(tmp_path, redis, start_shipper, start_server, "--backlog", "0", "--window-lines", "2")
        url = f"{node.url}/api/logs/app.log@web1/stream"
        async with SSEClient(url) as first:
            await asyncio.sleep(0.2)
            append(log, ["r1"])
            await first.wait_lines(1, within=20)
            resume = first.id_of("r1")
        append(log, [f"r{i}" for i in range(2, 8)])
        read_from_node(node, "app.log@web1", 7)
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGKILL)
        redis.proc.wait(10)
        async with SSEClient(url, headers={"Last-Event-ID": resume}) as again:
            await asyncio.sleep(1)
            assert again.lines() == []  # r2..r5 are only in Redis (the window holds the last 2)
            redis.start()
            await again.wait_lines(6, within=30)
            append(log, ["r8"])
            await again.wait_lines(7, within=30)
            assert again.lines() == [f"r{i}" for i in range(2, 9)]
    finally:
        redis.stop()


async def test_a_redis_restart_without_persistence_is_announced_as_a_gap(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    log, node = one_host(tmp_path, redis_server, start_shipper, start_server, "--backlog", "0")
    async with SSEClient(f"{node.url}/api/logs/app.log@web1/stream") as client:
        await asyncio.sleep(0.2)
        append(log, ["before"])
        await client.wait_lines(1, within=20)
        assert redis_server.proc is not None
        os.kill(redis_server.proc.pid, signal.SIGKILL)  # --save '' and no AOF: everything is gone
        redis_server.proc.wait(10)
        await client.wait(lambda: client.notices("unreachable"), 20, "the unreachable notice")
        redis_server.start()
        await client.wait(lambda: client.notices("gap"), 30, "the gap notice")
        append(log, ["after"])
        await client.wait_lines(2, within=30)
        # Seen once (not understood): `before` twice. What the restarted Redis holds tells whether the
        # shipper stored it again or the node sent it again.
        assert client.lines() == ["before", "after"], (
            client.events, redis_server.entries("web1", "app.log"), node.output()[-3000:],
            [x.read_text(errors="replace")[-3000:] for x in tmp_path.glob("logtail-ship-*.log")])


@pytest.mark.parametrize(("protocol", "packed"), [("", True), ("?protocol=3", True), ("", False)])
async def test_xread_replies_reach_the_reader_as_hiredis_parsed_them(redis_server: RedisServer,
                                                                     protocol: str, packed: bool) -> None:
    """The node sends XREAD already in Redis's protocol (client.Streams) and reads its reply itself
    (client.read_new, keys.decode_raw): the same pairs of key and raw entries whether the URL asks for RESP2
    or RESP3 (a map of streams), and from a connection that packs the command itself."""
    raw = redis_server.client()
    raw.xadd("k1", keys.line_fields(["one"], [], "ab", 4))
    first = raw.xadd("k2", {**keys.line_fields(["two"], [], "ab", 4), "n": "1"})
    client = connect(redis_server.url + protocol)
    assert isinstance(client, Redis)
    if not packed:
        client.connection_pool.connection_class = Connection
    try:
        streams = Streams([b"k1", b"k2"], [b"0-0", b"0-0"])
        found = await read_new(client, streams, 10, 100)
        assert [(key, [flat for _, flat in entries]) for key, entries in found] == [
            (b"k1", [[b"fid", b"ab", b"end", b"4", b"lines", b"one"]]),
            (b"k2", [[b"fid", b"ab", b"end", b"4", b"lines", b"two", b"n", b"1"]])]
        lines = keys.decode_raw(*found[1][1][0], "x@h")
        assert isinstance(lines, list) and [x.text for x in lines] == ["two"]
        streams.advance(0, found[0][1][-1][0])
        assert [key for key, _ in await read_new(client, streams, 10, 100)] == [b"k2"]
        streams.advance(1, first)
        assert await read_new(client, streams, 10, 1) == []
    finally:
        await client.aclose()
