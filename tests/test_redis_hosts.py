"""Shipping hosts as first-class (logtail/sources/redis/hosts.py, web/hosts.py, hoststable.py): heartbeats,
`GET /api/hosts`, `host_down`/`host_up` notices, `logtail hosts` and `--forget`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from logtail import __version__
from logtail.hoststable import table
from logtail.sources.redis import keys
from logtail.sources.redis.hosts import HostRecord, HostWatch, heartbeat_fields, listed, parse_host
from tests.redis_support import RedisServer, Shipper
from tests.redis_support import listed as logs_listed
from tests.support import LogtailServer, wait_for

StartServer = Callable[..., LogtailServer]
StartShipper = Callable[..., Shipper]


def record(last_seen: float, stopped: float | None = None, interval: float = 10) -> HostRecord:
    return HostRecord("web1", "0.1.0", 0.0, interval, last_seen, stopped)


@pytest.mark.parametrize(("age", "stopped", "state"), [
    (0, None, "alive"),
    (25, None, "alive"),  # 2.5 heartbeats of 10 s: one late heartbeat is no alarm
    (26, None, "silent"),
    (60, None, "silent"),
    (61, None, "gone"),
    (1, 999.0, "gone"),  # stopped cleanly after its last heartbeat
])
def test_a_host_state_is_judged_by_the_age_of_its_last_heartbeat(age: float, stopped: float | None,
                                                                  state: str) -> None:
    assert record(1000 - age, stopped).state(1000, gone_after=60) == state


def test_a_host_record_round_trips_and_malformed_ones_are_ignored() -> None:
    fields = heartbeat_fields("0.1.0", 5.0, 2.0, {"app.log": {"path": "/x", "lag": 0}, "../x": {}}, 9.5)
    parsed = parse_host("web1", {k.encode(): v.encode() for k, v in fields.items()})
    assert parsed == HostRecord("web1", "0.1.0", 5.0, 2.0, 9.5, None, {"app.log": {"path": "/x", "lag": 0}})
    assert parse_host("web1", {b"last_seen": b"soon"}) is None
    assert parse_host("web1", {b"version": b"1"}) is None  # no last_seen
    assert parse_host("web1", {b"last_seen": b"1", b"logs": b"[1]"}) is None


def test_hosts_silent_past_the_hide_age_are_left_out() -> None:
    hosts = [record(1000), HostRecord("old", "", 0, 10, 100, None)]
    assert [h["host"] for h in listed(hosts, 1000, 60, hide_after=500)] == ["web1"]
    assert [h["host"] for h in listed(hosts, 1000, 60, hide_after=1000)] == ["web1", "old"]


def test_host_watch_reports_changes_of_liveness_only() -> None:
    watch = HostWatch(gone_after=60)
    assert watch.changes([record(1000)], now=1000) == []  # first sight is no change
    assert watch.changes([record(1000)], now=1030) == [("web1", False)]
    assert watch.changes([record(1000)], now=1100) == []  # silent to gone: still down
    assert watch.changes([record(1100)], now=1100) == [("web1", True)]


def test_the_table_aligns_columns() -> None:
    out = table([{"host": "web1", "state": "alive", "last_seen": 995, "version": "0.1.0",
                  "logs": {"b.log": {}, "a.log": {}}},
                 {"host": "db-server-2", "state": "gone", "last_seen": 1000 - 7200, "version": "", "logs": {}}],
                now=1000)
    assert out.splitlines() == [
        "HOST         STATE  LAST SEEN  VERSION  LOGS",
        "web1         alive  5s ago     0.1.0    a.log, b.log",
        "db-server-2  gone   2h ago     -        -",
    ]


def hosts_of(node: LogtailServer) -> dict[str, dict[str, Any]]:
    return {h["host"]: h for h in httpx.get(f"{node.url}/api/hosts", timeout=5).json()}


def host_state(node: LogtailServer, host: str) -> str | None:
    return hosts_of(node).get(host, {}).get("state")


async def next_notice(rows: AsyncIterator[str], kinds: set[str], within: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(within):
        async for row in rows:
            item = json.loads(row)
            if item.get("kind") in kinds:
                return dict(item)
    raise AssertionError("the stream ended")


@pytest.mark.slow
async def test_hosts_are_listed_and_a_stopped_one_is_noticed_then_forgotten(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    shippers, logs = {}, {}
    for host in ("web1", "web2"):
        (tmp_path / host).mkdir()
        logs[host] = tmp_path / host / "app.log"
        logs[host].write_text("")
        shippers[host] = start_shipper(str(logs[host]), "--host-name", host, "--redis", redis_server.url,
                                       "--host-heartbeat", "0.5")
    node = start_server("--redis", redis_server.url, "--host-gone-after", "30")
    await asyncio.to_thread(logs_listed, node, "app.log@web1", "app.log@web2")
    await asyncio.to_thread(wait_for, lambda: len(hosts_of(node)) == 2, 20, 0.1, "two hosts")
    web2 = hosts_of(node)["web2"]
    assert (web2["state"], web2["version"], list(web2["logs"])) == ("alive", __version__, ["app.log"])
    assert web2["logs"]["app.log"]["path"] == str(logs["web2"]) and web2["logs"]["app.log"]["lag"] == 0

    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
            client.stream("GET", f"{node.url}/api/stream?log=app.log@web2&format=ndjson&backlog=0") as response:
        rows = response.aiter_lines()
        shippers["web2"].kill(signal.SIGKILL)  # no clean stop: only the missing heartbeats tell
        down = await next_notice(rows, {"host_down", "host_up"})
        assert (down["kind"], down["log"]) == ("host_down", "app.log@web2")
        assert host_state(node, "web2") == "silent" and host_state(node, "web1") == "alive"
        shippers["web2"] = start_shipper(str(logs["web2"]), "--host-name", "web2", "--redis", redis_server.url,
                                         "--host-heartbeat", "0.5")
        up = await next_notice(rows, {"host_down", "host_up"})
        assert (up["kind"], up["log"]) == ("host_up", "app.log@web2")

    shippers["web2"].stop()  # a clean stop: gone at once, not after --host-gone-after
    await asyncio.to_thread(wait_for, lambda: host_state(node, "web2") == "gone", 10, 0.1, "web2 gone")
    out = subprocess.run([sys.executable, "-m", "logtail", "hosts", node.url], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    rows = [line.split()[:2] for line in out.stdout.splitlines()]
    assert rows == [["HOST", "STATE"], ["web1", "alive"], ["web2", "gone"]]

    out = subprocess.run([sys.executable, "-m", "logtail", "hosts", "--forget", "web2", "--redis",
                          redis_server.url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "forgot host web2: app.log" in out.stdout, out.stderr
    raw = redis_server.client()
    assert not raw.exists(keys.stream_key("web2", "app.log"), keys.host_key("web2"))
    assert not raw.hexists(keys.LOGS_KEY, "app.log@web2") and raw.hexists(keys.LOGS_KEY, "app.log@web1")
    await asyncio.to_thread(wait_for, lambda: "web2" not in hosts_of(node), 10, 0.1, "web2 forgotten")

    def unlisted() -> bool:
        names = {x["name"] for x in httpx.get(f"{node.url}/api/logs", timeout=5).json()}
        return "app.log@web2" not in names and "app.log@web1" in names
    await asyncio.to_thread(wait_for, unlisted, 10, 0.1, "app.log@web2 no longer listed")


@pytest.mark.slow
def test_a_host_silent_past_the_hide_age_is_hidden_and_its_data_stays(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper, start_server: StartServer) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\n")
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url, "--host-heartbeat", "0.5")
    node = start_server("--redis", redis_server.url, "--host-hide-after", "3")
    wait_for(lambda: host_state(node, "web1") == "alive", 20, 0.1, "web1 alive")
    # The heartbeat can say alive before the line is stored: killed only once it is, so that it must stay.
    wait_for(lambda: redis_server.lines("web1", "app.log") == ["one"], 20, 0.1, "the line shipped")
    shipper.kill(signal.SIGKILL)
    wait_for(lambda: "web1" not in hosts_of(node), 20, 0.2, "web1 hidden")
    assert redis_server.lines("web1", "app.log") == ["one"]


def test_hosts_without_redis_is_an_empty_list_and_forget_needs_a_url(tmp_path: Path,
                                                                      start_server: StartServer) -> None:
    (tmp_path / "a.log").touch()
    node = start_server(str(tmp_path / "a.log"))
    assert httpx.get(f"{node.url}/api/hosts", timeout=5).json() == []
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "logtail", "hosts", "--forget", "web1"], capture_output=True,
                         text=True, timeout=30, env=env)
    assert out.returncode == 2 and "hosts --forget needs a Redis URL" in out.stderr


OLD_ACL = "\n".join([
    "user default off",
    "user ship on >s resetkeys ~logtail:* resetchannels -@all +xadd +xtrim +xrange +xrevrange +hset +multi +exec "
    "+ping +client|setname",
    "user web on >w resetkeys %R~logtail:* resetchannels -@all +xread +xrange +xrevrange +xlen +hgetall +ping "
    "+client|setname",
    "user test-admin on >admin ~* &* +@all", ""])


@pytest.mark.slow
def test_an_acl_without_host_records_still_ships_and_serves(
        tmp_path: Path, start_shipper: StartShipper, start_server: StartServer) -> None:
    """An ACL from before host records (no HDEL for the shipper, no SCAN for the node): lines flow as before,
    each side warns once, and /api/hosts says why it cannot answer."""
    acl = tmp_path / "users.acl"
    acl.write_text(OLD_ACL)
    redis = RedisServer(tmp_path / "redis", aclfile=acl, auth=("test-admin", "admin")).start()
    try:
        log = tmp_path / "app.log"
        log.write_text("")
        shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis.url_for("ship", "s"),
                                "--host-heartbeat", "0.5")
        node = start_server("--redis", redis.url_for("web", "w"), "--backlog", "0")
        logs_listed(node, "app.log@web1")
        log.write_text("one\n")
        wait_for(lambda: redis.lines("web1", "app.log") == ["one"], 20, 0.1, "the line shipped")
        response = httpx.get(f"{node.url}/api/hosts", timeout=5)
        assert response.status_code == 503 and "refused to list the hosts" in response.text
        wait_for(lambda: "cannot read the hosts' records" in node.output(), 10, 0.1, "the node's warning")
        assert shipper.output().count("cannot write this host's record") == 1
        assert "unreachable" not in shipper.output() + node.output()
    finally:
        redis.stop()


@pytest.mark.slow
def test_a_shipper_announces_its_host_and_logs_again_as_soon_as_redis_is_back(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    """A Redis restarted without its data has forgotten the host's record and the registry of its logs (web
    nodes then list neither): the shipper writes both again when it finds Redis back, not at its next
    heartbeat (60 s here) or registry refresh (10 s)."""
    log = tmp_path / "app.log"
    log.write_text("a\n")
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url, "--host-heartbeat", "60")

    def announced() -> bool:
        raw = redis_server.client()
        return bool(raw.exists(keys.host_key("web1")) and raw.hexists(keys.LOGS_KEY, "app.log@web1"))
    wait_for(announced, 15, 0.05, "the host's record and its log registered")
    redis_server.stop()
    redis_server.start()  # the same port, nothing kept
    assert not announced()
    with log.open("a") as f:
        f.write("b\n")  # the shipper's next command meets the closed connection: the outage, then its end
    wait_for(announced, 8, 0.05, f"the host announced again\n{shipper.output()}")
    assert "is back" in shipper.output()
