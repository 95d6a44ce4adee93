"""`logtail ship`: follow files exactly as `serve` does and append their lines to Redis streams.

The followers, globs, watcher and notices are serve's own (`FileTable`, `FileFollower`); only where the
lines go differs. A `ShipSink` is their sink instead of the hub and turns what a follower publishes into pending stream
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

from redis.exceptions import RedisError, ResponseError

from logtail import __version__
from logtail.config import ConfigError, Settings
from logtail.core.block import LineBlock, lines_of, position_of
from logtail.core.cursor import Cursor, file_id
from logtail.core.events import EventJoiner
from logtail.core.frames import Line, NoticeKind
from logtail.core.lines import RawLine
from logtail.core.offloop import off_loop
from logtail.core.supervised import cancel_and_wait
from logtail.match.parsers import Parser
from logtail.ship.journal import JournalShipping
from logtail.ship.metrics import file_lag, serve_metrics
from logtail.ship.retention import Retention
from logtail.sources.files.readback import ReadBack, open_sibling, open_whole, read_lines
from logtail.sources.files.table import FileLog, FileTable
from logtail.sources.files.watch import watch
from logtail.sources.redis import keys
from logtail.sources.redis.client import Client, Outage, check_url, connect, read_last, redacted
from logtail.sources.redis.hosts import heartbeat_fields

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
    retention: Retention  # what the stream holds and may drop (--redis-maxlen)
    pending: list[dict[str, str]] = field(default_factory=list)
    position: tuple[str, int] = ("", 0)  # after the last line handed to `pending`
    stored: tuple[str, int] = ("", 0)  # after the last line stored in Redis
    started: bool = False
    lines: int = 0
    bytes: int = 0
    entries: int = 0
    last_write: float = 0.0  # Unix time of the last write to Redis


class ShipSink:
    """Where a shipper's followers publish (a `core.sink.Sink`): lines become pending entries of their log's
    stream, stored by the follower's gate before its next read."""

    def __init__(self, wake: Callable[[str], None]) -> None:
        self.logs: dict[str, ShipLog] = {}
        self.wake = wake  # the follower's gate stores what was just published before its next read

    def add(self, name: str, parser: Parser | None = None) -> None:
        pass  # the shipper makes the log's `ShipLog` when the table tells it of the log (Shipper.track)

    def readers(self, name: str) -> int:
        # One reader, the Redis writer: a busy log is read at the pace a one-client stream would be, so a
        # shipper batches lines into entries instead of writing one per wake-up.
        return 1

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
        self.wake(name)

    def _add_entry(self, ship_log: ShipLog, batch: list[Line]) -> None:
        last = batch[-1]
        cut = [i for i, line in enumerate(batch) if line.truncated]
        ship_log.pending.append(keys.line_fields([line.text for line in batch], cut, last.fid, last.end,
                                                 keys.carried_of(batch)))
        ship_log.position = (last.fid, last.end)

    def notice(self, name: str, kind: NoticeKind, message: str) -> None:
        log.info("%s: %s: %s", name, kind, message)
        ship_log = self.logs[name]
        ship_log.pending.append(keys.notice_fields(kind, message, *ship_log.position))
        self.wake(name)


class Shipper:
    def __init__(self, settings: Settings, host: str, client: Client) -> None:
        assert settings.redis is not None
        self.settings = settings
        self.host = host
        self.client = client
        self.outage = Outage(settings.redis, log, "not reading the files until it is back")
        # Set when Redis is back after an outage: the heartbeat loop writes the host's record and the registry
        # at once, as a Redis restarted without its data has neither (web nodes would not list the host's
        # logs until the next beat and refresh, up to --host-heartbeat and REGISTRY_INTERVAL later).
        self.recovered = asyncio.Event()
        self.sink = ShipSink(self._wake)
        self.table = FileTable(settings, self.sink, on_add=self.track)
        self.started = time.time()
        self.beating = True  # False once Redis refused the host's record
        self.journal = JournalShipping(self)  # the journal logs among the sources (ship/journal.py)

    def track(self, entry: FileLog) -> None:
        """A log of the table: its stream, and its follower's gate (each read waits for the last to be stored)."""
        key = keys.stream_key(self.host, entry.name)
        ship_log = self.sink.logs[entry.name] = ShipLog(entry.name, entry.path, key,
                                                        Retention(key, self.settings.redis_maxlen))

        async def gate() -> None:
            await self.gate(ship_log)

        entry.follower.gate = gate

    def _wake(self, name: str) -> None:
        entry = self.table.get(name)
        if entry is not None:
            entry.follower.wake()

    async def gate(self, ship_log: ShipLog) -> None:
        if not ship_log.started:
            await self._start(ship_log)
            ship_log.started = True
        await self._flush(ship_log)

    # --- continuing where the last entry ended ---------------------------------------------------------

    async def _start(self, ship_log: ShipLog) -> None:
        await self._register([ship_log])
        last = await self._retry(partial(self._last_entry, ship_log.key))
        await self._retry(partial(ship_log.retention.start, self.client, last))
        follower = self.table.entries[ship_log.name].follower
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
        where, rotated = await off_loop(shipped_position_in, ship_log.path, fid, end)
        if where == "current":
            follower.resume_at = end
            return
        follower.resume_at = 0
        if rotated is not None and last.notice is not None and last.notice[0] == "rotated":
            os.close(rotated.fd)  # stopped after the rotation was reported: nothing of NAME.1 is left to ship
        elif rotated is not None:
            await self._ship_rotated(ship_log, rotated)
        else:
            self.sink.notice(ship_log.name, "gap", "the position the shipper had reached is gone (file rotated "
                                                   "or truncated meanwhile); continuing from the start of the "
                                                   "current file")

    async def _ship_rotated(self, ship_log: ShipLog, rb: ReadBack) -> None:
        """The rest of `NAME.1` after the stored position, a block at a time (joined into events for a log
        with `multiline`, the last one ended by the rotation, as the follower would have)."""
        follower = self.table.entries[ship_log.name].follower
        joiner = EventJoiner(follower.multiline, rb.start) if follower.multiline is not None else None
        fid = ""
        try:
            async for lines in read_lines(ship_log.name, rb, self.settings.max_line_bytes):
                batch = lines_of(lines)
                if joiner is not None and batch:
                    fid = batch[0].fid  # one file: one id
                    batch = as_lines(ship_log.name, fid, follower.parser, joiner.feed(to_raw(batch)))
                await self._ship(ship_log, batch)
            if joiner is not None:
                await self._ship(ship_log, as_lines(ship_log.name, fid, follower.parser, joiner.flush()))
        finally:
            os.close(rb.fd)
        self.sink.notice(ship_log.name, "rotated", f"{ship_log.path} was rotated; following the new file")

    async def _ship(self, ship_log: ShipLog, batch: list[Line]) -> None:
        if batch:
            self.sink.publish(ship_log.name, batch, position_of(ship_log.name, batch[-1]))
            await self._flush(ship_log)

    async def _last_entry(self, key: str) -> keys.Entry | None:
        found = await read_last(self.client, key, 1)
        return found[0] if found else None

    # --- storing ------------------------------------------------------------------------------------------

    async def _flush(self, ship_log: ShipLog) -> None:
        while ship_log.pending:
            batch = ship_log.pending[:BATCH_ENTRIES]
            await self._store(ship_log.retention, batch)
            del ship_log.pending[:len(batch)]
            ship_log.entries += len(batch)
            for fields in batch:
                if "lines" in fields:
                    ship_log.lines += fields["lines"].count("\n") + 1
                    ship_log.bytes += len(fields["lines"]) + 1
            ship_log.stored = batch[-1]["fid"], int(batch[-1]["end"])
            ship_log.last_write = time.time()

    async def _store(self, retention: Retention, batch: list[dict[str, str]]) -> None:
        key = retention.key
        retention.count(batch)
        uncertain = False
        while True:
            try:
                if uncertain:
                    last = await self._last_entry(key)
                    if last is not None and last.fields == batch[-1]:
                        retention.stored(batch, await self._ids_of(key, len(batch)))
                        break  # the failed write had been applied (all of it: MULTI/EXEC)
                keep = await retention.cut(self.client)
                async with self.client.pipeline(transaction=True) as pipe:
                    for fields in batch:
                        pipe.xadd(key, fields)  # type: ignore[arg-type]
                    if keep is not None:
                        pipe.xtrim(key, minid=keep, approximate=False)
                    done = await pipe.execute()
                retention.stored(batch, done[:len(batch)])
                break
            except (RedisError, OSError) as exc:
                uncertain = True
                await self.outage.failed(exc)
        self._ok()

    async def _ids_of(self, key: str, count: int) -> list[str]:
        return [entry.id for entry in await read_last(self.client, key, count)]

    async def _retry(self, op: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                result = await op()
            except (RedisError, OSError) as exc:
                await self.outage.failed(exc)
                continue
            self._ok()
            return result

    def _ok(self) -> None:
        """A command reached Redis: the end of an outage, if there was one, wakes the heartbeat."""
        if self.outage.ok():
            self.recovered.set()

    # --- the registry of known logs -----------------------------------------------------------------------

    async def _register(self, logs: list[ShipLog]) -> None:
        now = time.time()
        mapping: dict[Any, Any] = {
            keys.shipped_name(self.host, x.name): keys.registry_value(self.host, x.name, str(x.path), now,
                                                                     self._parse_of(x.name))
            for x in logs
        }
        await self._retry(lambda: self.client.hset(keys.LOGS_KEY, mapping=mapping))

    def _parse_of(self, name: str) -> str:
        # Announced with the log, so that web nodes parse its lines as this shipper was told to.
        entry = self.table.get(name)  # a journal log has no entry in the file table: its lines are not parsed
        parser = entry.follower.parser if entry is not None else None
        return "auto" if parser is None else parser.spec

    async def heartbeat(self) -> None:
        """The host's record every --host-heartbeat seconds (hosts.py), the logs' last_seen every 10 s."""
        next_registry = time.monotonic() + REGISTRY_INTERVAL
        while True:
            if self.beating:
                await self._retry(self._beat)
            if time.monotonic() >= next_registry:
                next_registry = time.monotonic() + REGISTRY_INTERVAL
                started = [x for x in self.sink.logs.values() if x.started]
                if started:
                    await self._register(started)
            if await self._recovered_within(self.settings.host_heartbeat):
                next_registry = 0.0

    async def _recovered_within(self, seconds: float) -> bool:
        """Wait up to `seconds`; True, at once, when Redis comes back after an outage meanwhile."""
        try:
            async with asyncio.timeout(seconds):
                await self.recovered.wait()
        except TimeoutError:
            return False
        self.recovered.clear()
        return True

    async def _beat(self) -> None:
        logs = list(self.sink.logs.values())
        lags = await off_loop(lambda: [file_lag(x.path, x.stored[1]) for x in logs])
        info = {x.name: {"path": str(x.path), "last_write": round(x.last_write, 3) or None, "lag": lag}
                for x, lag in zip(logs, lags, strict=True)}
        fields: dict[Any, Any] = heartbeat_fields(__version__, self.started, self.settings.host_heartbeat, info,
                                                  time.time())
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(keys.host_key(self.host), mapping=fields)
                pipe.hdel(keys.host_key(self.host), "stopped")
                await pipe.execute()
        except ResponseError as exc:  # an ACL that predates host records: shipping goes on without them
            log.warning("cannot write this host's record %s (%s); web nodes will not list the host",
                        keys.host_key(self.host), exc)
            self.beating = False

    async def stopped(self) -> None:
        """Say in the host's record that it stopped cleanly (a node then shows it gone at once)."""
        try:
            async with asyncio.timeout(2):
                await self.client.hset(keys.host_key(self.host), "stopped", f"{time.time():.3f}")
        except (RedisError, OSError, TimeoutError):
            pass  # Redis away: the node sees the host silent, then gone, by the age of its last heartbeat

    async def run(self) -> None:
        s = self.settings
        async with asyncio.TaskGroup() as group:
            group.create_task(self.table.run(), name="logs")
            group.create_task(watch(self.table, s.watcher, s.poll_interval), name="watch")
            group.create_task(self.heartbeat(), name="heartbeat")
            if self.journal:
                group.create_task(self.journal.run(), name="journal")


def to_raw(lines: list[Line]) -> list[RawLine]:
    return [RawLine(line.text, line.end, line.truncated) for line in lines]


def as_lines(log: str, fid: str, parser: Parser | None, events: list[RawLine]) -> list[Line]:
    return [Line(log, e.text, fid, e.end, e.truncated, parser) for e in events]


def shipped_position_in(path: Path, fid: str, end: int) -> tuple[str, ReadBack | None]:
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
        await cancel_and_wait((runner, stopper))
        await shipper.stopped()
        shipper.table.close()
        if stop_metrics is not None:
            stop_metrics()
        await client.aclose()
