"""Logs of other hosts as a `Source`: the streams `logtail ship` fills, read from Redis by a web node.

What a web node can reach of such a log is what its Redis stream retains: the host's files, rotated or not,
stay on the host. So `rotated` is unavailable (a 404 that says why), a download is the retained lines as text,
a search covers the retained lines, and `since=` starts at the first entry Redis stored at or after the moment
(entry ids are Redis's own clock, so this needs no timestamp in the lines).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client.registry import Collector
from redis.exceptions import RedisError, ResponseError
from starlette.responses import Response

from logtail.config import Settings
from logtail.core.catchup import Reading
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, NoticeKind
from logtail.core.hub import Channel, Hub
from logtail.core.rawresponse import Transfers
from logtail.sources.base import DownloadRequest, LogInfo, RotatedFile, SearchRequest, Start, Unavailable
from logtail.sources.redis import keys, reader
from logtail.sources.redis.client import Outage, check_url, connect, read_range, read_reverse
from logtail.sources.redis.discovery import UNREACHABLE, ShippedLog, ShippedLogs
from logtail.sources.redis.history import ShippedDownload, ShippedSearch
from logtail.sources.redis.hosts import listed, read_hosts
from logtail.sources.redis.metrics import OutageCollector
from logtail.sources.redis.reader import StreamReader

SEED_ENTRIES = 1000  # entries read back to seed a newly discovered log's window


class RedisSource:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        assert settings.redis is not None
        self.settings = settings
        outage = Outage(settings.redis, logging.getLogger(reader.__name__), "shipped logs pause; local logs go on")
        self.shipped = ShippedLogs(connect(check_url(settings.redis)), outage)
        self.reader = StreamReader(self.shipped, hub, min(SEED_ENTRIES, settings.window_lines),
                                   settings.host_gone_after, settings.max_line_bytes)

    def __contains__(self, name: str) -> bool:
        return name in self.shipped

    def _log(self, name: str) -> ShippedLog:
        found = self.shipped.logs.get(name)
        if found is None:
            raise Unavailable(404, f"unknown log {name[:200]!r}")
        return found

    def names(self) -> list[str]:
        return list(self.shipped.logs)

    async def logs(self) -> list[LogInfo]:
        shipped = list(self.shipped)
        sizes = await self._sizes(shipped)
        return [LogInfo(x.name, x.known.path, sizes.get(x.key, 0), True, x.known.last_seen, x.known.host)
                for x in shipped]

    async def _sizes(self, shipped: list[ShippedLog]) -> dict[str, int]:
        # The memory Redis uses for each stream (MEMORY USAGE, sampled): what it retains of the log. Nothing
        # is asked while Redis is away: the list is answered at once, with sizes 0.
        if not shipped or self.shipped.outage.down:
            return {}
        try:
            async with self.shipped.client.pipeline(transaction=False) as pipe:
                for x in shipped:
                    pipe.memory_usage(x.key, samples=5)
                found = await pipe.execute()
        except (RedisError, OSError):
            return {}
        return {x.key: int(size or 0) for x, size in zip(shipped, found, strict=True)}

    async def run(self) -> None:
        await self.reader.run()

    async def close(self) -> None:
        await self.shipped.client.aclose()

    async def read_after(self, ch: Channel, cursor: Cursor, fmt: Format, sibling_start: bool) -> Reading:
        # A lagging client's lines beyond the window are in the Redis stream, up to the hub's position.
        blocks = self.shipped.read_after(ch, cursor, fmt, self.settings.resume_max_bytes)
        if blocks is None or ch.position is None:
            return Reading(ch.position or cursor)
        return Reading(ch.position, blocks)

    async def since(self, ch: Channel, moment: float, client: str = "") -> Start | None:
        key = self._log(ch.name).key
        try:
            first = await read_range(self.shipped.client, key, str(max(0, int(moment * 1000))), "+", 1)
            if not first:  # nothing stored since: the stream starts live
                return None if ch.position is None else Start(ch.position)
            before = await read_reverse(self.shipped.client, key, "(" + first[0].id, "-", 1)
        except (RedisError, OSError) as exc:
            raise Unavailable(503, f"Redis is unreachable ({type(exc).__name__}); retry later") from exc
        if not before:  # the first entry Redis holds: from the start of the stream
            return Start(Cursor(ch.name, f"{0:012x}", 0))
        # Just after the whole entry before (an index past any entry's last line), so the first entry at or
        # after the moment is the first one read.
        prev = before[0]
        return Start(Cursor(ch.name, f"{prev.ms:012x}", (prev.seq << keys.INDEX_BITS) | keys.LAST_INDEX))

    async def rotated(self, name: str) -> list[RotatedFile]:
        log = self._log(name)
        raise Unavailable(404, f"the rotated files of {name!r} stay on host {log.known.host!r}: a web node reads "
                               "what Redis retains of the log (download and search it)")

    async def download(self, name: str, request: DownloadRequest, transfers: Transfers) -> Response:
        log = self._log(name)
        if request.rotated is not None:
            await self.rotated(name)
        return ShippedDownload(self.shipped, log, transfers)

    def search(self, name: str, request: SearchRequest, transfers: Transfers) -> Response:
        return ShippedSearch(self.shipped, self._log(name), request, transfers)

    def collectors(self) -> list[Collector]:
        return [OutageCollector(self.shipped.outage, lambda: self.reader.malformed)]

    def unready(self) -> str | None:
        outage = self.shipped.outage
        if outage.connected:
            return None
        # At start, until the registry of shipped logs is read: a stream of one of them would be a 404.
        return "redis unreachable" if outage.down else "redis: reading the registry of shipped logs"

    async def started(self, names: Sequence[str]) -> None:
        pass  # a shipped log is listed (and can be streamed) once its window is seeded (reader.py)

    def entry_time(self, line: Line) -> float | None:
        return keys.entry_time(line.fid)

    def opening_notice(self, name: str) -> tuple[NoticeKind, str] | None:
        # A client arriving while Redis is away hears of it now: the reader only notices when an outage starts.
        return ("unreachable", UNREACHABLE) if self.shipped.outage.down and name in self.shipped else None

    async def hosts(self) -> list[dict[str, Any]]:
        try:
            records = await read_hosts(self.shipped.client)
        except ResponseError as exc:  # e.g. the node's ACL user may not SCAN (users.acl)
            raise Unavailable(503, f"redis refused to list the hosts: {exc}") from None
        except (RedisError, OSError):
            raise Unavailable(503, "redis unreachable: the hosts are not known right now") from None
        s = self.settings
        return listed(records, time.time(), s.host_gone_after, s.host_hide_after)


def configure(settings: Settings, hub: Hub) -> RedisSource | None:
    """The logs other hosts ship, on a node started with --redis."""
    return RedisSource(settings, hub) if settings.redis else None
