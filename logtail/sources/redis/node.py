"""What `serve --redis` adds to a web node: the table of shipped logs and the loop that reads them."""

from __future__ import annotations

import logging

from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.sources.redis import reader
from logtail.sources.redis.client import Outage, check_url, connect
from logtail.sources.redis.discovery import ShippedLogs
from logtail.sources.redis.reader import StreamReader

SEED_ENTRIES = 1000  # entries read back to seed a newly discovered log's window


class RedisNode:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        assert settings.redis is not None
        client = connect(check_url(settings.redis))
        outage = Outage(settings.redis, logging.getLogger(reader.__name__), "shipped logs pause; local logs go on")
        self.shipped = ShippedLogs(client, outage)
        self.reader = StreamReader(self.shipped, hub, min(SEED_ENTRIES, settings.window_lines),
                                   settings.host_gone_after)

    async def close(self) -> None:
        await self.shipped.client.aclose()
