"""A web node's table of shipped logs, kept in step with the registry the shippers write (keys.py).

A shipped log is known by its name `NAME@HOST`; names and hosts come from Redis and are only data: a record
that is not URL-safe is ignored, and the stream key is built from the checked parts, never read from Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from redis.asyncio import Redis

from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line
from logtail.core.hub import Channel
from logtail.sources.redis import keys
from logtail.sources.redis.readback import read_after

DISCOVERY_INTERVAL = 2.0  # seconds between reads of the registry: a new log appears within about this


@dataclass
class ShippedLog:
    known: keys.KnownLog
    last_id: str = "0-0"  # the last entry published to the hub
    malformed: int = 0  # malformed entries skipped so far (reader.py)
    paused_until: float = 0.0  # monotonic time: its key is not a stream, it is left out of reads until then
    pause: float = 0.0  # the current pause, doubled while the key stays of the wrong type

    @property
    def name(self) -> str:
        return self.known.shipped_name

    @property
    def key(self) -> str:
        return self.known.key


class ShippedLogs:
    """The shipped logs a web node serves, and the Redis client it reads them with."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.logs: dict[str, ShippedLog] = {}
        self.by_key: dict[str, ShippedLog] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.logs

    def __iter__(self) -> Iterator[ShippedLog]:
        return iter(list(self.logs.values()))

    def add(self, log: ShippedLog) -> None:
        self.logs[log.name] = log
        self.by_key[log.key] = log

    def refresh(self, known: list[keys.KnownLog]) -> list[keys.KnownLog]:
        """Update what is known of existing logs; returns the records of logs not seen before."""
        new = []
        for record in known:
            existing = self.logs.get(record.shipped_name)
            if existing is None:
                new.append(record)
            else:
                existing.known = record
        return new

    def read_after(self, ch: Channel, cursor: Cursor, fmt: Format) -> AsyncIterator[list[Line] | bytes] | None:
        """A lagging client's read-back of `ch` after `cursor` (catchup.py)."""
        return read_after(self, ch, cursor, fmt)
