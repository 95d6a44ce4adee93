"""`logtail hosts`: the shipping hosts as a running node sees them, and forgetting one that is gone.

Listing asks a web node (`GET /api/hosts`), so it shows exactly what the page shows; forgetting acts on Redis
itself (`--redis`, with a user allowed to delete), since web nodes only read it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx
from redis.exceptions import RedisError

from logtail.config import ConfigError
from logtail.sources.redis.client import check_url, connect, redacted
from logtail.sources.redis.hosts import forget_host

COLUMNS = ("HOST", "STATE", "LAST SEEN", "VERSION", "LOGS")


def list_hosts(url: str) -> int:
    try:
        response = httpx.get(url.rstrip("/") + "/api/hosts", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        print(f"logtail: cannot list hosts from {url}: {exc}", file=sys.stderr)
        return 1
    print(table(response.json(), time.time()))
    return 0


def table(hosts: list[dict[str, Any]], now: float) -> str:
    rows = [COLUMNS] + [(h["host"], h["state"], _ago(now - float(h["last_seen"])), h.get("version") or "-",
                         ", ".join(sorted(h.get("logs") or {})) or "-") for h in hosts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
                     for row in rows)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def forget(redis_url: str | None, host: str) -> int:
    if not redis_url:
        raise ConfigError("hosts --forget needs a Redis URL: --redis URL or LOGTAIL_REDIS")
    check_url(redis_url)
    try:
        names = asyncio.run(_forget(redis_url, host))
    except (RedisError, OSError) as exc:
        print(f"logtail: cannot forget {host} in Redis at {redacted(redis_url)}: {exc}", file=sys.stderr)
        return 1
    print(f"forgot host {host}: " + (", ".join(names) if names else "no logs"))
    return 0


async def _forget(url: str, host: str) -> list[str]:
    client = connect(url)
    try:
        return await forget_host(client, host)
    finally:
        await client.aclose()
