"""`logtail ship journal...`: journal logs shipped like files, each entry's MESSAGE one line of its stream.

The followers are serve's own (`JournalFollower`); the shipper's sink turns what they publish into stream
entries, and each follower's gate stores them before it reads on, so while Redis is away journalctl blocks
on its full pipe and the journal is the buffer. A stream entry records the journal id after its lines (seqnum
id prefix and sequence number, as a web node's ids): a starting shipper continues after the last stored
entry, exactly as a client resumes; if the journal no longer has it, after a `gap` notice with what it
retains. A never-shipped log starts with its last entries, as serve's window does.

Each line's level (from PRIORITY) and the entry's fields travel with it (the stream entry's `carried`,
sources/redis/keys.py), so that a web node filters, colours and shows them as this host would.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from logtail.sources.journal.follow import JournalFollower
from logtail.sources.journal.source import GAP_MESSAGE, JournalSource
from logtail.sources.redis import keys

if TYPE_CHECKING:
    from logtail.ship.shipper import ShipLog, Shipper

log = logging.getLogger(__name__)


class JournalShipping:
    def __init__(self, shipper: Shipper) -> None:
        self.shipper = shipper
        self.source = JournalSource(shipper.settings, shipper.sink)

    def __bool__(self) -> bool:
        return bool(self.source.followers)

    async def run(self) -> None:
        from logtail.ship.retention import Retention
        from logtail.ship.shipper import ShipLog  # the shipper imports this module

        starts = []
        for name, follower in self.source.followers.items():
            matches = " ".join(self.source.journal_logs[name].matches) or "(all)"
            key = keys.stream_key(self.shipper.host, name)
            retention = Retention(key, self.shipper.settings.redis_maxlen)
            ship_log = ShipLog(name, Path(f"journal:{matches}"), key, retention)
            self.shipper.sink.logs[name] = ship_log
            follower.gate = partial(self.shipper.gate, ship_log)
            starts.append(self._start(follower, ship_log))
        await asyncio.gather(*starts)
        await self.source.run()

    async def _start(self, follower: JournalFollower, ship_log: ShipLog) -> None:
        """Where the log goes on: after its last stored entry, or (never shipped) as serve would start."""
        shipper = self.shipper
        await shipper._register([ship_log])
        ship_log.started = True
        last = await shipper._retry(partial(shipper._last_entry, ship_log.key))
        if last is None:
            return
        fid, end = last.position
        ship_log.position = ship_log.stored = (fid, end)
        place = await self.source.place_of_id(fid, end)
        if place is None or await self.source.vacuumed(place):
            shipper.sink.notice(ship_log.name, "gap", GAP_MESSAGE)
        follower.resume(place)
