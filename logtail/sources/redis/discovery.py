"""A web node's table of shipped logs, kept in step with the registry the shippers write (keys.py).

A shipped log is known by its name `NAME@HOST`; names and hosts come from Redis and are only data: a record
that is not URL-safe is ignored, and the stream key is built from the checked parts, never read from Redis.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line
from logtail.core.hub import Channel
from logtail.match.parsers import Parser, ParserError, parser_for
from logtail.sources.redis import keys
from logtail.sources.redis.client import Client, Outage
from logtail.sources.redis.readback import read_after

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL = 2.0  # seconds between reads of the registry: a new log appears within about this
UNREACHABLE = "Redis is unreachable; reconnecting (lines continue where they were)"


@dataclass
class ShippedLog:
    known: keys.KnownLog
    last_id: str = "0-0"  # the last entry published to the hub
    malformed: int = 0  # malformed entries skipped so far (reader.py)
    paused_until: float = 0.0  # monotonic time: its key is not a stream, it is left out of reads until then
    pause: float = 0.0  # the current pause, doubled while the key stays of the wrong type
    parser: Parser | None = field(init=False, default=None)  # the shipper's `parse`, built once here

    def __post_init__(self) -> None:
        try:
            self.parser = parser_for(self.known.parse)
        except ParserError as exc:  # only data from Redis: served unparsed, as an `auto` log
            log.warning("shipped log %s: parse: %s; serving its lines unparsed", self.name, exc)

    # Both are asked for each read batch; a refreshed `known` is always the same host and log.
    @cached_property
    def name(self) -> str:
        return self.known.shipped_name

    @cached_property
    def key(self) -> str:
        return self.known.key


class ShippedLogs:
    """The shipped logs a web node serves, the Redis client it reads them with, and whether Redis answers."""

    def __init__(self, client: Client, outage: Outage) -> None:
        self.client = client
        self.outage = outage
        self.logs: dict[str, ShippedLog] = {}
        self.by_key: dict[str, ShippedLog] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.logs

    def __iter__(self) -> Iterator[ShippedLog]:
        return iter(list(self.logs.values()))

    def add(self, log: ShippedLog) -> None:
        self.logs[log.name] = log
        self.by_key[log.key] = log

    def forget_absent(self, known: list[keys.KnownLog]) -> list[str]:
        """Drop the logs the registry no longer lists (`logtail hosts --forget`); returns their names."""
        names = {record.shipped_name for record in known}
        gone = [log for log in self.logs.values() if log.name not in names]
        for log in gone:
            del self.logs[log.name]
            self.by_key.pop(log.key, None)
        return [log.name for log in gone]

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

    def read_after(self, ch: Channel, cursor: Cursor, fmt: Format,
                   max_bytes: int) -> AsyncIterator[list[Line] | bytes] | None:
        """A lagging client's read-back of `ch` after `cursor` (catchup.py)."""
        return read_after(self, ch, cursor, fmt, max_bytes)
