"""`logtail ship`: follow files exactly as `serve` does and append their lines to Redis streams.

The followers, globs, watcher and notices are serve's own (`LogRegistry`, `FileFollower`); only where the
lines go differs. A `ShipSink` stands in for the hub and turns what a follower publishes into pending stream
entries (keys.py), and the follower's `gate` awaits their storage before its next read. So while Redis is
unreachable nothing more is read: the file is the buffer, and memory holds at most one read step per log.

Exactly once across restarts: every entry records the file position after its lines. A starting shipper
reads the last entry of each of its streams and continues from there: in the current file if its identity
matches, else in the rotated `NAME.1` then the current file from its start, else after a `gap` notice from
the start of the current file (the same fallbacks as a client's resume). Entries are written in MULTI/EXEC
batches, so after a connection broke during a write either all of the batch was stored or none: comparing
the stream's last entry with the batch's last tells which, and nothing is written twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from logtail.config import ConfigError, Settings
from logtail.core.block import LineBlock, lines_of, position_of
from logtail.core.cursor import Cursor, file_id
from logtail.core.frames import Line, NoticeKind
from logtail.core.hub import Hub
from logtail.core.offloop import off_loop
from logtail.ship.metrics import serve_metrics
from logtail.sources.files.readback import ReadBack, open_sibling, open_whole, read_lines
from logtail.sources.files.table import LogRegistry
from logtail.sources.files.watch import watch
from logtail.sources.redis import keys
from logtail.sources.redis.client import Outage, check_url, connect, read_last, redacted

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_ENTRIES = 256  # entries per MULTI/EXEC write
REGISTRY_INTERVAL = 10.0  # seconds between refreshes of the registry's last_seen


@dataclass
class ShipLog:
    """One shipped log: its stream, what is waiting to be stored, and what is stored."""

    name: str
    path: Path
    key: str
    pending: list[dict[str, str]] = field(default_factory=list)
    position: tuple[str, int] = ("", 0)  # after the last line handed to `pending`
    stored: tuple[str, int] = ("", 0)  # after the last line stored in Redis
    started: bool = False
    lines: int = 0
    bytes: int = 0
    entries: int = 0

    def maxlen(self, lines: int) -> int:
        """Entries to keep so that about `lines` lines are kept, at this stream's lines per entry so far.

        --redis-maxlen counts lines: an entry holds one line when the log is quiet and many when it is busy,
        so a bound in entries alone would let a busy log's memory grow by the size of its batches.
        """
        if not self.lines:
            return lines
        return max(1, lines * max(self.entries, 1) // self.lines)


class ShipSink(Hub):
    """The hub's place for the followers of a shipper: lines become pending entries of their log's stream."""

    def __init__(self) -> None:
        super().__init__(window_lines=1, queue_bytes=1)
        self.logs: dict[str, ShipLog] = {}
        self.registry: LogRegistry | None = None

    def publish(self, name: str, lines: list[Line] | LineBlock, position: Cursor) -> None:
        lines = lines_of(lines)
        if not lines:
            return
        ship_log = self.logs[name]
        batch: list[Line] = []
        size = 0
        for line in lines:
            if batch and (len(batch) >= keys.ENTRY_LINES or size + len(line.text) > keys.ENTRY_BYTES):
                self._add_entry(ship_log, batch)
                batch, size = [], 0
            batch.append(line)
            size += len(line.text) + 1
        self._add_entry(ship_log, batch)
        self._wake(name)

    def _add_entry(self, ship_log: ShipLog, batch: list[Line]) -> None:
        last = batch[-1]
        cut = [i for i, line in enumerate(batch) if line.truncated]
        ship_log.pending.append(keys.line_fields([line.text for line in batch], cut, last.fid, last.end))
        ship_log.position = (last.fid, last.end)

    def notice(self, name: str, kind: NoticeKind, message: str) -> None:
        log.info("%s: %s: %s", name, kind, message)
        ship_log = self.logs[name]
        ship_log.pending.append(keys.notice_fields(kind, message, *ship_log.position))
        self._wake(name)

    def _wake(self, name: str) -> None:
        # The follower's gate stores what was just published before its next read.
        entry = self.registry.get(name) if self.registry is not None else None
        if entry is not None:
            entry.follower.wake()


class ShipRegistry(LogRegistry):
    """serve's table of logs, each follower gated by the shipper."""

    def __init__(self, settings: Settings, sink: ShipSink, shipper: Shipper) -> None:
        super().__init__(settings, sink)
        self.sink = sink
        self.shipper = shipper
        sink.registry = self

    def _add(self, name: str, path: Path, from_start: bool) -> None:
        self.sink.logs[name] = ShipLog(name, path, keys.stream_key(self.shipper.host, name))
        super()._add(name, path, from_start)
        ship_log = self.sink.logs[name]

        async def gate() -> None:
            await self.shipper.gate(ship_log)

        self.entries[name].follower.gate = gate


class Shipper:
    def __init__(self, settings: Settings, host: str, client: Redis) -> None:
        assert settings.redis is not None
        self.settings = settings
        self.host = host
        self.client = client
        self.outage = Outage(settings.redis, log, "not reading the files until it is back")
        self.sink = ShipSink()
        self.registry = ShipRegistry(settings, self.sink, self)

    async def gate(self, ship_log: ShipLog) -> None:
        if not ship_log.started:
            await self._start(ship_log)
            ship_log.started = True
        await self._flush(ship_log)

    # --- continuing where the last entry ended ---------------------------------------------------------

    async def _start(self, ship_log: ShipLog) -> None:
        await self._register([ship_log])
        last = await self._retry(partial(self._last_entry, ship_log.key))
        follower = self.registry.entries[ship_log.name].follower
        if last is None:
            return  # never shipped: where serve would start (the tail of a file present now)
        if last.problem is not None:  # the entry is untrusted data: a bad one means the position is lost
            log.warning("%s: the last entry in %s is malformed (%s); shipping from the start of the current "
                        "file", ship_log.name, ship_log.key, last.problem)
            follower.resume_at = 0
            self.sink.notice(ship_log.name, "gap", "the position the shipper had reached cannot be read (a "
                                                   "malformed entry in Redis); continuing from the start of the "
                                                   "current file")
            return
        fid, end = last.position
        ship_log.position = ship_log.stored = (fid, end)
        where, rotated = await off_loop(locate, ship_log.path, fid, end)
        if where == "current":
            follower.resume_at = end
            return
        follower.resume_at = 0
        if rotated is not None:
            await self._ship_rotated(ship_log, rotated)
        else:
            self.sink.notice(ship_log.name, "gap", "the position the shipper had reached is gone (file rotated "
                                                   "or truncated meanwhile); continuing from the start of the "
                                                   "current file")

    async def _ship_rotated(self, ship_log: ShipLog, rb: ReadBack) -> None:
        """The rest of `NAME.1` after the stored position, a block at a time."""
        try:
            async for lines in read_lines(ship_log.name, rb, self.settings.max_line_bytes):
                batch = lines_of(lines)
                if batch:
                    self.sink.publish(ship_log.name, batch, position_of(ship_log.name, batch[-1]))
                    await self._flush(ship_log)
        finally:
            os.close(rb.fd)
        self.sink.notice(ship_log.name, "rotated", f"{ship_log.path} was rotated; following the new file")

    async def _last_entry(self, key: str) -> keys.Entry | None:
        found = await read_last(self.client, key, 1)
        return found[0] if found else None

    # --- storing ------------------------------------------------------------------------------------------

    async def _flush(self, ship_log: ShipLog) -> None:
        while ship_log.pending:
            batch = ship_log.pending[:BATCH_ENTRIES]
            await self._store(ship_log.key, batch, ship_log.maxlen(self.settings.redis_maxlen))
            del ship_log.pending[:len(batch)]
            ship_log.entries += len(batch)
            for fields in batch:
                if "lines" in fields:
                    ship_log.lines += fields["lines"].count("\n") + 1
                    ship_log.bytes += len(fields["lines"]) + 1
            ship_log.stored = batch[-1]["fid"], int(batch[-1]["end"])

    async def _store(self, key: str, batch: list[dict[str, str]], maxlen: int) -> None:
        uncertain = False
        while True:
            try:
                if uncertain:
                    last = await self._last_entry(key)
                    if last is not None and last.fields == batch[-1]:
                        break  # the failed write had been applied (all of it: MULTI/EXEC)
                async with self.client.pipeline(transaction=True) as pipe:
                    for fields in batch:
                        pipe.xadd(key, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
                    await pipe.execute()
                break
            except (RedisError, OSError) as exc:
                uncertain = True
                await self.outage.failed(exc)
        self.outage.ok()

    async def _retry(self, op: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                result = await op()
            except (RedisError, OSError) as exc:
                await self.outage.failed(exc)
                continue
            self.outage.ok()
            return result

    # --- the registry of known logs -----------------------------------------------------------------------

    async def _register(self, logs: list[ShipLog]) -> None:
        now = time.time()
        mapping: dict[Any, Any] = {
            keys.shipped_name(self.host, x.name): keys.registry_value(self.host, x.name, str(x.path), now)
            for x in logs
        }
        await self._retry(lambda: self.client.hset(keys.LOGS_KEY, mapping=mapping))

    async def refresh_registry(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_INTERVAL)
            started = [x for x in self.sink.logs.values() if x.started]
            if started:
                await self._register(started)

    async def run(self) -> None:
        s = self.settings
        async with asyncio.TaskGroup() as group:
            group.create_task(self.registry.run(), name="logs")
            group.create_task(watch(self.registry, s.watcher, s.poll_interval), name="watch")
            group.create_task(self.refresh_registry(), name="registry")


def locate(path: Path, fid: str, end: int) -> tuple[str, ReadBack | None]:
    """Where the position (`fid`, `end`) is: "current" file, "rotated" NAME.1 (with the rest to ship), or "gone"."""
    def holds(rb: ReadBack) -> bool:
        return end <= rb.stop and file_id(rb.head, end) == fid

    current = open_whole(path)
    if current is not None:
        os.close(current.fd)
        if holds(current):
            return "current", None
    rotated = open_sibling(path, 1)
    if rotated is not None:
        if holds(rotated):
            rotated.start = end
            return "rotated", rotated
        os.close(rotated.fd)
    return "gone", None


def ship(settings: Settings) -> None:
    """Run `logtail ship` until SIGTERM or SIGINT."""
    if not settings.redis:
        raise ConfigError("ship needs a Redis URL: --redis URL, LOGTAIL_REDIS or redis = \"...\" in the config file")
    check_url(settings.redis)
    host = keys.check_host(settings.host_name or socket.gethostname())
    if not settings.sources:
        raise ConfigError("ship needs at least one SOURCE (PATH, GLOB or NAME=PATH)")
    asyncio.run(_main(settings, host))


async def _main(settings: Settings, host: str) -> None:
    assert settings.redis is not None
    client = connect(settings.redis)
    shipper = Shipper(settings, host, client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stop_metrics = serve_metrics(shipper, settings) if settings.metrics_port is not None else None
    log.info("shipping %d source(s) as host %r to %s", len(settings.sources), host, redacted(settings.redis))
    runner = asyncio.create_task(shipper.run(), name="ship")
    stopper = asyncio.create_task(stop.wait(), name="signals")
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # a crash of the shipper is reported, not hidden
        log.info("stopping; a restart continues after the last stored entry")
    finally:
        for task in (runner, stopper):
            task.cancel()
        await asyncio.gather(runner, stopper, return_exceptions=True)
        shipper.registry.close()
        if stop_metrics is not None:
            stop_metrics()
        await client.aclose()
