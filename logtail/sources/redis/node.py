"""What `serve --redis` adds to a web node: the table of shipped logs and the loop that reads them."""

from __future__ import annotations

from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.sources.redis.client import check_url, connect
from logtail.sources.redis.discovery import ShippedLogs
from logtail.sources.redis.reader import StreamReader

SEED_ENTRIES = 1000  # entries read back to seed a newly discovered log's window


class RedisNode:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        assert settings.redis is not None
        client = connect(check_url(settings.redis))
        self.shipped = ShippedLogs(client)
        self.reader = StreamReader(self.shipped, hub, settings.redis, min(SEED_ENTRIES, settings.window_lines),
                                   settings.max_line_bytes)

    async def close(self) -> None:
        await self.shipped.client.aclose()
