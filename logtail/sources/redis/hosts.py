"""Shipping hosts as first-class: each shipper's heartbeat, and what a web node makes of it.

A shipper writes its record `logtail:host:HOST` (keys.py) when it starts and every `--host-heartbeat`
seconds: its version, start time, heartbeat interval, `last_seen`, and per log the path, the time of the
last write to Redis and the lag (bytes of the file not stored yet). The record has no TTL: a host that
stopped stays known, with the time it was last seen, until an operator forgets it (`logtail hosts
--forget`), and a clean stop writes `stopped`.

A web node reads the records (SCAN, then HGETALL) and judges each host by the age of its `last_seen`:
`alive` within 2.5 of its own heartbeat intervals (one late heartbeat is not an alarm, two are), `gone`
after `--host-gone-after` seconds or after a clean stop, `silent` in between; past `--host-hide-after` it is
left out of the list (its data stays in Redis). When a host stops being alive, the clients of its logs get a
`host_down` notice, and `host_up` when it is back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from logtail.sources.redis import keys
from logtail.sources.redis.client import Client

HostState = Literal["alive", "silent", "gone"]
MISSED_BEATS = 2.5  # heartbeat intervals without news before a host is "silent"


def heartbeat_fields(version: str, started: float, interval: float, logs: dict[str, dict[str, Any]],
                     now: float) -> dict[str, str]:
    return {"version": version, "started": f"{started:.3f}", "interval": f"{interval:g}",
            "last_seen": f"{now:.3f}", "logs": json.dumps(logs, sort_keys=True)}


@dataclass(frozen=True)
class HostRecord:
    host: str
    version: str
    started: float
    interval: float
    last_seen: float
    stopped: float | None
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def state(self, now: float, gone_after: float) -> HostState:
        age = now - self.last_seen
        if (self.stopped is not None and self.stopped >= self.last_seen) or age > gone_after:
            return "gone"
        return "alive" if age <= MISSED_BEATS * self.interval else "silent"

    def info(self, now: float, gone_after: float) -> dict[str, Any]:
        """The host as GET /api/hosts lists it."""
        return {"host": self.host, "state": self.state(now, gone_after), "last_seen": self.last_seen,
                "version": self.version, "started": self.started, "logs": self.logs}


def parse_host(host: str, raw: dict[Any, Any]) -> HostRecord | None:
    """A host's record as read from Redis; None when it is malformed (it is only data)."""
    fields = {keys.text_of(k): keys.text_of(v) for k, v in raw.items()}
    try:
        logs = json.loads(fields.get("logs", "{}"))
        stopped = fields.get("stopped")
        record = HostRecord(host, fields.get("version", "")[:64], float(fields.get("started", 0)),
                            float(fields.get("interval", 10)), float(fields["last_seen"]),
                            float(stopped) if stopped else None)
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(logs, dict):
        return None
    safe = {name: value for name, value in logs.items()
            if isinstance(value, dict) and keys.is_safe(host, str(name))}
    return HostRecord(record.host, record.version, record.started, max(record.interval, 0.001),
                      record.last_seen, record.stopped, safe)


async def read_hosts(client: Client) -> list[HostRecord]:
    """Every host's record, sorted by host name."""
    hosts = []
    async for key in client.scan_iter(match=keys.HOST_KEYS, count=1000):
        host = keys.text_of(key).removeprefix(keys.PREFIX + "host:")
        if keys.HOST_RE.fullmatch(host):
            hosts.append(host)
    if not hosts:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for host in sorted(hosts):
            pipe.hgetall(keys.host_key(host))
        raws = await pipe.execute()
    records = [parse_host(host, raw) for host, raw in zip(sorted(hosts), raws, strict=True)]
    return [r for r in records if r is not None]


def listed(records: list[HostRecord], now: float, gone_after: float, hide_after: float) -> list[dict[str, Any]]:
    """The hosts GET /api/hosts shows: all but those silent for longer than `hide_after`."""
    return [r.info(now, gone_after) for r in records if now - r.last_seen <= hide_after]


async def forget_host(client: Client, host: str) -> list[str]:
    """Remove a host's streams, its logs' registry records and its own record; returns the logs removed."""
    keys.check_host(host)
    names = {k.name for k in keys.parse_registry(await client.hgetall(keys.LOGS_KEY)) if k.host == host}
    record = parse_host(host, await client.hgetall(keys.host_key(host)))
    if record is not None:
        names |= set(record.logs)
    async with client.pipeline(transaction=False) as pipe:  # keys in many slots of a cluster: no MULTI
        for name in names:
            pipe.delete(keys.stream_key(host, name))
            pipe.hdel(keys.LOGS_KEY, keys.shipped_name(host, name))
        pipe.delete(keys.host_key(host))
        await pipe.execute()
    return sorted(names)


class HostWatch:
    """A web node's view of which hosts are alive, to tell the clients of their logs when that changes."""

    def __init__(self, gone_after: float) -> None:
        self.gone_after = gone_after
        self.alive: dict[str, bool] = {}
        self.refused = False  # Redis refused to list the records (ACL): warned once

    def changes(self, records: list[HostRecord], now: float | None = None) -> list[tuple[str, bool]]:
        """(host, alive now) for each host whose liveness changed since the last call (not at first sight)."""
        now = time.time() if now is None else now
        changed = []
        for record in records:
            alive = record.state(now, self.gone_after) == "alive"
            before = self.alive.get(record.host)
            if before is not None and before != alive:
                changed.append((record.host, alive))
            self.alive[record.host] = alive
        return changed
