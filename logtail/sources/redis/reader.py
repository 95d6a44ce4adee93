"""A web node's one reading loop: every shipped stream through one blocking XREAD, into the hub.

Each shipped log is one hub channel, so fan-out, filters, formats, backlog, client queues and heartbeats are
exactly those of a local log; Redis is read once per web node whatever the number of clients. The loop also
refreshes the table of shipped logs from the registry every `DISCOVERY_INTERVAL` (a new log is seeded with
its last entries, as a file's window is seeded with its last lines).

While Redis is unreachable the loop backs off and retries; local logs are not concerned. Clients of shipped
logs get an `unreachable` notice, then `reconnected` when it is back, and the stream goes on from the last
entry read, so every client continues exactly where it was. If the entry read last is gone after the outage
(Redis restarted without persistence), clients get a `gap` notice: what was stored meanwhile may be lost.

Entries are untrusted (keys.py checks them): a malformed one becomes a `gap` notice on its log, counted, with
one warning per log, and the loop goes on. A log whose key holds something other than a stream (XREAD then
fails for every key with WRONGTYPE) is left out of reads with an `unreadable` notice and retried with a
backoff; the other logs go on, and it is not an outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError, ResponseError

from logtail.core.cursor import Cursor
from logtail.core.frames import Line, NoticeKind
from logtail.core.hub import Hub
from logtail.sources.redis import keys
from logtail.sources.redis.client import BLOCK_MS, Streams, read_last, read_new
from logtail.sources.redis.discovery import DISCOVERY_INTERVAL, UNREACHABLE, ShippedLog, ShippedLogs
from logtail.sources.redis.hosts import HostWatch, read_hosts

log = logging.getLogger(__name__)

READ_COUNT = 1000  # entries per stream per XREAD
# Seconds from one XREAD to the next while entries keep coming. Each read has a cost of its own (every
# stream's key and id sent, every client with news woken and sent to), which a read returning as soon as
# one entry of 1,000 streams is there pays for a few entries; this adds at most as much to a line's latency.
# 25 ms: on the fleet bench (bench/RESULTS.md) 50 ms cost the same CPU and 30 ms more at p50.
READ_EVERY = 0.025
WRONG_TYPE_RETRY = (1.0, 60.0)  # first and longest pause of a log whose key is not a stream (seconds)


class StreamReader:
    def __init__(self, shipped: ShippedLogs, hub: Hub, seed_entries: int, gone_after: float,
                 max_line_bytes: int = keys.MAX_LINE_BYTES) -> None:
        self.shipped = shipped
        self.client = shipped.client
        self.hub = hub
        self.seed_entries = seed_entries
        self.max_line_bytes = max_line_bytes
        self.malformed = 0  # malformed entries skipped, all logs (a counter)
        self.outage = shipped.outage
        self._next_discovery = 0.0
        self.hosts = HostWatch(gone_after)
        self._reading = ReadArgs([])

    async def run(self) -> None:
        while True:
            try:
                if self.outage.down:
                    await self._recover()
                await self._step()
                self.outage.ok()
            except (RedisError, OSError) as exc:
                if not self.outage.down:
                    self._notice_all("unreachable", UNREACHABLE)
                await self.outage.failed(exc)

    async def _step(self) -> None:
        if time.monotonic() >= self._next_discovery:
            await self.discover()
            await self.watch_hosts()
            self.outage.ok()  # ready now, not after the first XREAD has waited out its block
            self._next_discovery = time.monotonic() + DISCOVERY_INTERVAL
        now = time.monotonic()
        logs = [x for x in self.shipped.logs.values() if x.paused_until <= now]
        if not logs:
            await _sleep_until(min([self._next_discovery, *(x.paused_until for x in self.shipped.logs.values())]))
            return
        block = max(1, min(BLOCK_MS, int((self._next_discovery - now) * 1000)))
        if logs != self._reading.logs:
            self._reading = ReadArgs(logs)
        reading = self._reading
        started = time.monotonic()
        try:
            found = await read_new(self.client, reading.streams, READ_COUNT, block)
        except ResponseError as exc:
            if not str(exc).startswith("WRONGTYPE"):
                raise
            await self._pause_wrong_types(logs)
            return
        for x in logs:
            if x.pause:
                self._resumed(x)
        for key, entries in found:
            at = reading.streams.index.get(key)
            if at is not None and entries:
                self._publish_raw(reading.logs[at], entries)
                reading.streams.advance(at, entries[-1][0])
        if found:  # more is surely on its way: let it gather rather than read a few entries at a time
            await asyncio.sleep(started + READ_EVERY - time.monotonic())

    async def discover(self) -> None:
        raw: Any = await self.client.hgetall(keys.LOGS_KEY)
        known = keys.parse_registry(raw)
        for name in self.shipped.forget_absent(known):
            log.info("no longer serving shipped log %s: its host was forgotten", name)
        for record in self.shipped.refresh(known):
            shipped = ShippedLog(record)
            try:
                seed = await read_last(self.client, record.key, self.seed_entries)
            except ResponseError as exc:
                if not str(exc).startswith("WRONGTYPE"):
                    raise
                seed = []
                self._pause(shipped, "?")
            self.hub.channel(shipped.name).parser = shipped.parser
            self._publish(shipped, seed)
            self.shipped.add(shipped)
            log.info("serving shipped log %s", shipped.name)

    async def watch_hosts(self) -> None:
        """Tell the clients of a host's logs when it stops or starts heartbeating (hosts.py)."""
        try:
            records = await read_hosts(self.client)
        except ResponseError as exc:  # e.g. an ACL without SCAN: the logs are still served, hosts unknown
            if not self.hosts.refused:
                log.warning("cannot read the hosts' records (%s): no host_down/host_up notices", exc)
            self.hosts.refused = True
            return
        for host, alive in self.hosts.changes(records):
            kind: NoticeKind = "host_up" if alive else "host_down"
            message = (f"host {host} is shipping again" if alive else
                       f"host {host} has stopped shipping (no heartbeat); its lines resume when it is back")
            for x in self.shipped.logs.values():
                if x.known.host == host:
                    self.hub.notice(x.name, kind, message)

    def _publish_raw(self, shipped: ShippedLog, entries: list[keys.RawEntry]) -> None:
        """Entries of an XREAD reply into the hub (keys.decode_raw: a plain entry is its lines)."""
        name, cap, parser = shipped.name, self.max_line_bytes, shipped.parser
        self._publish(shipped, [keys.decode_raw(i, f, name, cap, parser) for i, f in entries])
        shipped.last_id = keys.text_of(entries[-1][0])

    def _publish(self, shipped: ShippedLog, entries: Sequence[list[Line] | keys.Entry]) -> None:
        """Entries into the hub in order: runs of lines as one batch, notices between them. An entry already
        decoded to its lines (`decode_raw`) is those lines."""
        batch: list[Line] = []
        for entry in entries:
            if isinstance(entry, list):
                batch += entry
                continue
            notice = entry.notice
            if notice is None:
                batch.extend(entry.lines(shipped.name, 0, self.max_line_bytes, shipped.parser))
                continue
            if entry.problem is not None:
                self._malformed(shipped, entry)
            self._flush(shipped, batch)
            batch = []
            self.hub.notice(shipped.name, *notice)
        self._flush(shipped, batch)
        last = entries[-1] if entries else None
        if isinstance(last, keys.Entry):
            shipped.last_id = last.id

    def _flush(self, shipped: ShippedLog, batch: list[Line]) -> None:
        if batch:
            last = batch[-1]
            self.hub.publish(shipped.name, batch, Cursor(shipped.name, last.fid, last.end))

    def _malformed(self, shipped: ShippedLog, entry: keys.Entry) -> None:
        self.malformed += 1
        shipped.malformed += 1
        if shipped.malformed == 1:  # one warning per log: a writer that keeps writing them must not flood the log
            log.warning("%s: skipping malformed entry %s in %s (%s); further ones are counted, not logged",
                        shipped.name, entry.id, shipped.key, entry.problem)

    async def _pause_wrong_types(self, logs: list[ShippedLog]) -> None:
        """XREAD refused every key because some are not streams: find those and leave them out for a while."""
        async with self.client.pipeline(transaction=False) as pipe:
            for x in logs:
                pipe.type(x.key)
            types = await pipe.execute()
        for x, kind in zip(logs, types, strict=True):
            kind = keys.text_of(kind)
            if kind not in ("stream", "none"):
                self._pause(x, kind)

    def _pause(self, shipped: ShippedLog, kind: str) -> None:
        first = not shipped.pause
        shipped.pause = min(shipped.pause * 2, WRONG_TYPE_RETRY[1]) if shipped.pause else WRONG_TYPE_RETRY[0]
        shipped.paused_until = time.monotonic() + shipped.pause
        if first:
            message = (f"Redis key {shipped.key} is a {kind}, not a stream: this log is paused and retried "
                       f"every {WRONG_TYPE_RETRY[1]:.0f}s at most; other logs go on")
            log.warning("%s: %s", shipped.name, message)
            self.hub.notice(shipped.name, "unreadable", message)

    def _resumed(self, shipped: ShippedLog) -> None:
        shipped.pause = shipped.paused_until = 0.0
        log.warning("%s: Redis key %s is a stream again; reading it", shipped.name, shipped.key)
        self.hub.notice(shipped.name, "appeared", f"Redis key {shipped.key} is a stream again; continuing")

    async def _recover(self) -> None:
        """Redis answers again: tell clients, and say so if the entries read last did not survive."""
        logs = [x for x in self.shipped.logs.values() if x.last_id != "0-0"]
        await self.client.ping()  # with no log read yet the pipeline is empty: Redis must answer to be back
        async with self.client.pipeline(transaction=False) as pipe:
            for x in logs:
                pipe.xrange(x.key, x.last_id, x.last_id, count=1)
            # A key of the wrong type answers an error here: not a lost entry, and not an outage (_step).
            found = [[True] if isinstance(hit, ResponseError) else hit
                     for hit in await pipe.execute(raise_on_error=False)]
        self.outage.ok()
        self._notice_all("reconnected", "Redis is reachable again; continuing where the stream was")
        for x, hit in zip(logs, found, strict=True):
            if not hit:
                self.hub.notice(x.name, "gap", "Redis lost the last entries read (restarted without "
                                               "persistence?): lines stored meanwhile may be missing")

    def _notice_all(self, kind: NoticeKind, message: str) -> None:
        for x in self.shipped.logs.values():
            self.hub.notice(x.name, kind, message)


class ReadArgs:
    """The logs read and their streams (client.Streams), kept from one read to the next while the logs
    read stay the same."""

    def __init__(self, logs: list[ShippedLog]) -> None:
        self.logs = logs
        self.streams = Streams([x.key.encode() for x in logs], [x.last_id.encode() for x in logs])


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.05, deadline - time.monotonic()))
