"""What `serve --redis` adds to a web node: the table of shipped logs and the loop that reads them."""

from __future__ import annotations

from ..config import Settings
from ..hub import Hub
from .client import check_url, connect
from .discovery import ShippedLogs
from .reader import StreamReader

SEED_ENTRIES = 1000  # entries read back to seed a newly discovered log's window


class RedisNode:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        assert settings.redis is not None
        client = connect(check_url(settings.redis))
        self.shipped = ShippedLogs(client)
        self.reader = StreamReader(self.shipped, hub, settings.redis, min(SEED_ENTRIES, settings.window_lines))

    async def close(self) -> None:
        await self.shipped.client.aclose()
