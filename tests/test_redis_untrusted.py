"""Issue 21, finding 2: Redis entries are untrusted input. One malformed entry (`cut '²'`: `'²'.isdigit()` is
true, `int('²')` raises) silently blinded a web node for every host; a key of the wrong type was treated as
an outage; 20 MB entries reached clients uncut; a bad `end` on a host's last entry made `logtail ship` exit.

Entries are written straight into a real redis-server, as any client holding a shipper's ACL could.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from logtail.sources.redis import keys
from tests.redis_support import RedisServer, Shipper
from tests.streams import async_wait_for, gauge
from tests.support import LogtailServer, wait_for

StartServer = Callable[..., LogtailServer]
FID = "8eb89ce4a280"


def register(r: redis.Redis, host: str, name: str) -> str:
    """A log in the registry, as a shipper announces it; its stream key."""
    r.hset(keys.LOGS_KEY, keys.shipped_name(host, name), keys.registry_value(host, name, f"/x/{name}", time.time()))
    return keys.stream_key(host, name)


def add_lines(r: redis.Redis, key: str, *texts: str, **extra: str) -> None:
    r.xadd(key, {**keys.line_fields(list(texts), [], FID, 10), **extra})  # type: ignore[arg-type]


async def records(url: str, count: int, within: float = 20) -> list[dict[str, Any]]:
    """The first `count` NDJSON records (lines and notices) of a stream."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
            client.stream("GET", url) as response:
        assert response.status_code == 200
        async with asyncio.timeout(within):
            async for line in response.aiter_lines():
                out.append(json.loads(line))
                if len(out) == count:
                    break
    return out


async def streams_open(node: LogtailServer, count: int) -> None:
    await async_wait_for(lambda: gauge(node.url) >= count, 10, f"{count} open streams")


def listed(node: LogtailServer, *names: str) -> None:
    wait_for(lambda: all(n in {x["name"] for x in httpx.get(f"{node.url}/api/logs", timeout=5).json()}
                         for n in names), 30, 0.1, f"{names} listed")


@pytest.mark.parametrize(("fields", "problem"), [
    ({"fid": FID, "end": "210", "lines": "x", "cut": "²"}, "cut"),
    ({"fid": FID, "end": "²", "lines": "x"}, "end"),
    ({"fid": FID, "end": "1" * 40, "lines": "x"}, "end"),
    ({"fid": "not hex", "end": "1", "lines": "x"}, "fid"),
    ({"fid": FID, "end": "1", "lines": "x", "cut": "5"}, "cut"),
    ({"fid": FID, "end": "1", "kind": "pwned", "message": "x"}, "kind"),
    ({"fid": FID, "end": "1", "kind": "gap", "message": "m" * 5000}, "message"),
    ({"fid": FID, "end": "1"}, "neither"),
])
def test_decode_entry_names_what_is_malformed(fields: dict[str, str], problem: str) -> None:
    entry = keys.decode_entry(b"1700000000000-0", {k.encode(): v.encode() for k, v in fields.items()})
    assert entry.problem is not None and problem in entry.problem
    assert entry.lines("a") == [] and entry.position == ("", 0)
    assert entry.notice is not None and entry.notice[0] == "gap"


def test_an_entry_id_out_of_range_is_malformed() -> None:
    fields = {b"fid": FID.encode(), b"end": b"1", b"lines": b"x"}
    assert keys.decode_entry(b"1700000000000-1", fields).problem is None
    assert keys.decode_entry(str(1 << 48).encode() + b"-0", fields).problem is not None
    assert keys.decode_entry(b"\xc2\xb2-0", fields).problem is not None


def test_long_lines_are_cut_at_max_line_bytes_and_flagged() -> None:
    entry = keys.decode_entry(b"1-0", {b"fid": FID.encode(), b"end": b"1", b"lines": ("é" * 3000 + "\nok").encode()})
    lines = entry.lines("a", 0, 1001)
    assert [(len(x.text.encode()), x.truncated) for x in lines] == [(1000, True), (2, False)]


async def test_a_malformed_entry_is_a_gap_and_every_other_log_goes_on(
        tmp_path: Path, redis_server: RedisServer, start_server: StartServer) -> None:
    """After the entry from the issue, lines of the same log, of another host and of a host registered later
    are all served; the bad entry is one `gap` notice and one warning in the node's log."""
    r = redis_server.client()
    web1, web2 = register(r, "web1", "s.log"), register(r, "web2", "t.log")
    node = start_server("--redis", redis_server.url, "--backlog", "0")
    listed(node, "s.log@web1", "t.log@web2")
    url = f"{node.url}/api/stream?log=s.log@web1&log=t.log@web2&format=ndjson&backlog=0"
    reading = asyncio.ensure_future(records(url, 4))
    await streams_open(node, 1)
    r.xadd(web1, {"fid": "8eb89ce4a280", "end": "210", "lines": "x", "cut": "²"})
    r.xadd(web1, {"fid": "8eb89ce4a280", "end": "210", "lines": "y", "cut": "²"})
    add_lines(r, web1, "after the bad entries")
    add_lines(r, web2, "other host")
    got = await reading
    gaps = [x for x in got if x.get("kind") == "gap"]
    assert [x["log"] for x in gaps] == ["s.log@web1"] * 2 and "malformed" in gaps[0]["message"]
    assert sorted(x["text"] for x in got if "text" in x) == ["after the bad entries", "other host"]
    web3 = register(r, "web3", "u.log")
    add_lines(r, web3, "new host")
    listed(node, "u.log@web3")
    assert node.output().count("skipping malformed entry") == 1
    assert gauge(node.url, "logtail_redis_malformed_entries_total") == 2


async def test_a_key_of_the_wrong_type_pauses_that_log_only(
        tmp_path: Path, redis_server: RedisServer, start_server: StartServer) -> None:
    """A listed log whose key is a string: that log gets one `unreadable` notice, the others go on, no outage
    is declared; when the key is a stream again the log is read again."""
    r = redis_server.client()
    bad, good = register(r, "web1", "a.log"), register(r, "web2", "b.log")
    r.set(bad, "not a stream")
    node = start_server("--redis", redis_server.url, "--backlog", "0")
    listed(node, "a.log@web1", "b.log@web2")
    url = f"{node.url}/api/stream?log=a.log@web1&log=b.log@web2&format=ndjson&backlog=0"
    reading = asyncio.ensure_future(records(url, 3))
    await streams_open(node, 1)
    for i in range(3):
        add_lines(r, good, f"good {i}")
    got = await reading
    assert [x["text"] for x in got] == ["good 0", "good 1", "good 2"]
    assert "not a stream" in node.output() and "unreachable" not in node.output()
    r.delete(bad)
    reading = asyncio.ensure_future(records(url.replace("log=b.log@web2&", ""), 2))
    await streams_open(node, 1)
    add_lines(r, bad, "back")
    got = await reading
    assert [x["kind"] for x in got if "kind" in x] == ["appeared"] and got[-1]["text"] == "back"
    warnings = [x for x in node.output().splitlines() if "WARNING" in x and "not a stream" in x]
    assert len(warnings) == 1  # one warning, however many retries


def test_the_shipper_starts_after_a_malformed_last_entry(
        tmp_path: Path, redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    """A bad `end` on the host's last entry: the shipper starts from the beginning of the file with a `gap`,
    as for a lost position, instead of exiting."""
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    r = redis_server.client()
    r.xadd(keys.stream_key("web1", "app.log"), {"fid": FID, "end": "²", "lines": "old"})
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    wait_for(lambda: redis_server.lines("web1", "app.log")[-2:] == ["one", "two"], 20, 0.1,
             f"the file shipped ({shipper.output()})")
    assert shipper.proc is not None and shipper.proc.poll() is None
    kinds = [e.notice[0] for e in redis_server.entries("web1", "app.log") if e.notice is not None]
    assert kinds == ["gap", "gap"]  # the malformed entry as read back, and the shipper's own notice
