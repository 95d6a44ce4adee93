"""Reader processes: many streaming connections per process over raw asyncio sockets.

Each reader process opens its streams with a hand-written HTTP/1.1 GET, decodes the chunked body and the
frames incrementally, and checks every line's sequence number. A stream speaks one of three protocols:
logtail's SSE (`event: line` + JSON data), logtail's `format=text` (one raw line per line) or WebSocket text
messages of one raw line each (the `tail -F` baseline under websocketd). Per-line work is kept in C where it can
be (`bytes.count`, `find`): a whole received block whose line count and first/last sequence numbers agree
with the expected run is accepted in O(1) Python work, anything else is re-parsed event by event. A few
"measured" streams per run parse every event's JSON and record every line's latency; the others record
the latency of the first line of each block they receive (the oldest line in it, so the worst latency).

The parent talks to a reader over a multiprocessing Pipe: the reader says ("connected", summary) once all
its streams are open, then answers commands: ("start",) marks the start of measurement, ("expect", total,
timeout) waits until every stream got its last line (or the timeout) and answers ("report", dict),
("report",) answers at once, ("close",) ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast

from workload import ALL_LINES, SEQ_DIGITS, SEQ_PREFIX, TS_DIGITS, TS_OFFSET, Selection, selection

TEXT_RE = re.compile(rf"seq=(\d{{{SEQ_DIGITS}}}) ts=(\d+)")
MAX_SAMPLES = 2_000_000  # per process, per latency array
MAX_HOLES = 100_000  # per stream: missing lines remembered individually (to recognise late arrivals)


PROTOCOLS = ("sse", "text", "ws")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes in base64: the bench does not check the accept hash
TEXT_NOTICE = b"[logtail]"  # how format=text writes a notice (rotated, truncated, gap, ...)


@dataclass(frozen=True)
class StreamPlan:
    target: str  # request target, e.g. /api/logs/bench.log/stream?backlog=0
    regex_index: int | None  # None: the stream carries every line
    measured: bool
    filter_kind: str = "regex"  # what regex_index selects by: "regex" or "field" (workload.selection)
    protocol: str = "sse"  # one of PROTOCOLS


@dataclass(frozen=True)
class ReaderPlan:
    host: str
    port: int
    streams: list[StreamPlan]
    cores: list[int] | None
    connect_timeout: float
    concurrency: int = 64


@dataclass
class ReaderStats:
    """What one reader process measured, summed over its streams."""

    line_latency_us: array[int] = field(default_factory=lambda: array("q"))
    head_latency_us: array[int] = field(default_factory=lambda: array("q"))
    max_latency_ns: int = 0
    first_recv_ns: int = 0
    last_recv_ns: int = 0
    bytes: int = 0
    blocks: int = 0
    slow_blocks: int = 0
    notices: Counter[str] = field(default_factory=Counter)
    missed: int = 0  # sum of "missed" in gap notices
    newlines_per_line: int = 0  # in a line event, learnt from parsed events (-1: varies, no fast path)

    def lines_seen(self, now: int, head_ns: int) -> None:
        self.first_recv_ns = self.first_recv_ns or now
        self.last_recv_ns = now
        if now - head_ns > self.max_latency_ns:
            self.max_latency_ns = now - head_ns


class SeqTracker:
    """Received sequence numbers of one stream against its Selection: exact loss, duplicates, reordering."""

    __slots__ = ("dups", "holes", "next", "received", "reordered", "sel", "unexpected")

    def __init__(self, sel: Selection) -> None:
        self.sel = sel
        self.next = 0  # every selected seq below this was received or is in holes
        self.received = 0  # unique selected lines received
        self.dups = 0
        self.reordered = 0
        self.unexpected = 0  # lines the stream's filter should not have let through
        self.holes: set[int] = set()

    def add(self, seq: int) -> None:
        sel = self.sel
        if not sel.selects(seq):
            self.unexpected += 1
        elif seq >= self.next:
            if len(self.holes) < MAX_HOLES:
                self.holes.update(s for s in range(self.next, min(seq, self.next + MAX_HOLES)) if sel.selects(s))
            self.received += 1
            self.next = seq + 1
        elif seq in self.holes:
            self.holes.discard(seq)
            self.received += 1
            self.reordered += 1
        else:
            self.dups += 1

    def complete(self, total: int) -> bool:
        """True once the last selected line below `total` was received (earlier ones may be missing)."""
        return self.sel.count_below(total) == self.sel.count_below(self.next)


class SSEStream(asyncio.Protocol):
    def __init__(self, plan: ReaderPlan, stream: StreamPlan, stats: ReaderStats, on_progress: Any) -> None:
        self.plan = plan
        self.stream = stream
        self.stats = stats
        self.on_progress = on_progress  # called after each block while the reader waits for completion
        sel = ALL_LINES if stream.regex_index is None else selection(stream.filter_kind, stream.regex_index)
        self.tracker = SeqTracker(sel)
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.status = 0
        self.error = ""
        self.closed = False
        self.waiting = False  # the reader waits for the last line: report progress
        self.done = False  # closed, or got every line the reader waits for
        self.pings = 0
        self.lines = 0  # line events received (duplicates included)
        self._head = b""
        self._chunked = False
        self._raw = b""  # undecoded chunked-encoding bytes
        self._chunk_left = 0
        self._chunk_trailer = 0
        self._pending = b""  # decoded body bytes after the last complete event
        # what ends an event: a blank line in SSE, a newline in text (WebSocket messages are turned into text)
        self._separator = b"\n\n" if stream.protocol == "sse" else b"\n"

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    # -- asyncio.Protocol --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        if self.stream.protocol == "ws":
            extra = (
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {WS_KEY}\r\n"
            )
        else:
            extra = "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
        request = (
            f"GET {self.stream.target} HTTP/1.1\r\nHost: {self.plan.host}:{self.plan.port}\r\n"
            f"{extra}User-Agent: logtail-bench\r\n\r\n"
        )
        self.transport.write(request.encode())

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self.stats.bytes += len(data)
        if self.closed:  # after the last chunk
            return
        if not self.ready.done():
            data = self._response_head(data)
            if not data:
                return
        if self.stream.protocol == "ws":
            body = self._ws_messages(data)
        elif not self._chunked:
            body = data
        elif not (self._raw or self._chunk_left or self._chunk_trailer) and (eol := data.find(b"\r\n", 0, 12)) > 0:
            # the usual case: exactly one whole chunk (one server write) per read
            size = int(data[:eol], 16)
            body = data[eol + 2 : -2] if size and eol + size + 4 == len(data) else self._dechunk(data)
        else:
            body = self._dechunk(data)
        if not body:
            return
        sep = self._separator
        if self._pending:
            body = self._pending + body
        elif body.endswith(sep):
            self._events(body, now)
            return
        end = body.rfind(sep)
        if end < 0:
            self._pending = body
            return
        end += len(sep)
        self._pending = body[end:]
        self._events(body[:end], now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.error = self.error or f"closed before response ({exc or 'eof'})"
            self.ready.set_result(self.status)
        self.on_progress(self)

    # -- HTTP ----------------------------------------------------------------------------------------------

    def _response_head(self, data: bytes) -> bytes:
        """Consume the status line and headers; return whatever body bytes followed them."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > 65536:
                self._fail("response head too large")
            return b""
        head, rest = self._head[:end].decode("latin-1"), self._head[end + 4 :]
        self._head = b""
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        protocol = self.stream.protocol
        if self.status != (101 if protocol == "ws" else 200):
            self._fail(f"HTTP {self.status}: {rest[:200]!r}")
            return b""
        if protocol != "ws" and not headers.get("content-type", "").startswith(
            "text/event-stream" if protocol == "sse" else "text/plain"
        ):
            self._fail(f"content-type {headers.get('content-type')!r}")
            return b""
        self.status = 200  # the stream is open (a WebSocket answers 101)
        self.ready.set_result(self.status)
        return rest

    def _fail(self, error: str) -> None:
        self.error = error
        if not self.ready.done():
            self.ready.set_result(self.status)
        if self.transport is not None:
            self.transport.abort()

    def _dechunk(self, data: bytes) -> bytes:
        buf = self._raw + data if self._raw else data
        pos, size, parts = 0, len(buf), []
        while pos < size:
            if self._chunk_left:
                take = min(self._chunk_left, size - pos)
                parts.append(buf[pos : pos + take])
                pos += take
                self._chunk_left -= take
                if not self._chunk_left:
                    self._chunk_trailer = 2  # the CRLF after the chunk data
            elif self._chunk_trailer:
                skip = min(self._chunk_trailer, size - pos)
                pos += skip
                self._chunk_trailer -= skip
            else:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                length = int(buf[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if length == 0:  # last chunk: the server ended the stream
                    self.closed = True
                    if self.transport is not None:
                        self.transport.close()
                    pos = size
                    break
                self._chunk_left = length
        self._raw = buf[pos:]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _ws_messages(self, data: bytes) -> bytes:
        """The text of the complete WebSocket messages in `data` (server frames are unmasked), one per line."""
        buf = self._raw + data if self._raw else data
        messages, self._raw, closed = decode_ws_frames(buf)
        if closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        return b"\n".join(messages) + b"\n" if messages else b""

    # -- events --------------------------------------------------------------------------------------------

    def _events(self, block: bytes, now: int) -> None:
        """One or more complete SSE events (the block ends with a blank line).

        Fast path: the block holds exactly the line events from its first to its last sequence number, each
        with the usual number of newlines (learnt from the parsed events) and nothing else: one C-level
        scan (`count`) and a few slices. Anything else (notices, heartbeats, gaps, the measured streams) is
        parsed event by event.
        """
        stats = self.stats
        stats.blocks += 1
        first_at = block.find(SEQ_PREFIX)
        per_line = stats.newlines_per_line
        if first_at < 0 or per_line <= 0 or self.stream.measured:
            self._parse(block, now)
        else:
            last_at = block.rfind(SEQ_PREFIX)
            first = int(block[first_at + 4 : first_at + 4 + SEQ_DIGITS])
            last = int(block[last_at + 4 : last_at + 4 + SEQ_DIGITS]) if last_at != first_at else first
            ts_at = first_at + TS_OFFSET
            head_ns = int(block[ts_at : ts_at + TS_DIGITS])
            stats.first_recv_ns = stats.first_recv_ns or now
            stats.last_recv_ns = now
            if now - head_ns > stats.max_latency_ns:
                stats.max_latency_ns = now - head_ns
            if len(stats.head_latency_us) < MAX_SAMPLES:
                stats.head_latency_us.append((now - head_ns) // 1000)
            tracker = self.tracker
            sel = tracker.sel
            count = sel.count_between(first, last)
            if first == sel.next_selected(tracker.next) and block.count(b"\n") == count * per_line:
                tracker.received += count
                tracker.next = last + 1
                self.lines += count
            else:
                stats.slow_blocks += 1
                self._parse(block, now, latency=False)
        if self.waiting:
            self.on_progress(self)

    def _parse(self, block: bytes, now: int, latency: bool = True) -> None:
        if self.stream.protocol == "sse":
            self._parse_events(block, now, latency)
        else:
            self._parse_text(block, now, latency)

    def _parse_text(self, block: bytes, now: int, latency: bool) -> None:
        """Every line of a text block: log lines, and logtail's `[logtail] LOG: KIND: message` notices."""
        stats = self.stats
        head_ns = 0
        for raw in block.split(b"\n")[:-1]:
            ts = self._line(raw.decode("utf-8", "replace"), now, latency)
            if not ts:
                kind = raw.split(b": ", 2)[1].decode(errors="replace") if raw.startswith(TEXT_NOTICE) else None
                stats.notices[kind or "unparsable-line"] += 1
                continue
            stats.newlines_per_line = stats.newlines_per_line or 1
            head_ns = head_ns or ts
        if head_ns:
            stats.lines_seen(now, head_ns)

    def _line(self, text: str, now: int, latency: bool) -> int:
        """Count one received line; its write time, or 0 when it is not a bench line."""
        match = TEXT_RE.match(text)
        if match is None:
            return 0
        self.lines += 1
        ts = int(match.group(2))
        self.tracker.add(int(match.group(1)))
        samples = self.stats.line_latency_us
        if latency and self.stream.measured and len(samples) < MAX_SAMPLES:
            samples.append((now - ts) // 1000)
        return ts

    def _parse_events(self, block: bytes, now: int, latency: bool = True) -> None:
        """Parse every event in the block, the way a browser's EventSource would (LF line ends)."""
        stats = self.stats
        head_ns = 0
        for raw in block.split(b"\n\n"):
            if not raw:
                continue
            kind, data = "message", []
            if raw[0] == 58:  # ":" a comment: the heartbeat
                self.pings += 1
            for line in raw.split(b"\n"):
                name, _, value = line.partition(b":")
                value = value[1:] if value.startswith(b" ") else value
                if name == b"data":
                    data.append(value)
                elif name == b"event":
                    kind = value.decode()
            if not data:
                continue
            if kind == "line":
                newlines = raw.count(b"\n") + 2  # + the blank line split() removed
                if stats.newlines_per_line != newlines:
                    stats.newlines_per_line = newlines if stats.newlines_per_line == 0 else -1
                ts = self._line(json.loads(b"\n".join(data))["text"], now, latency)
                if not ts:
                    stats.notices["unparsable-line"] += 1
                    continue
                head_ns = head_ns or ts
            elif kind == "notice":
                notice = json.loads(b"\n".join(data))
                stats.notices[str(notice.get("kind"))] += 1
                stats.missed += int(notice.get("missed") or 0)
        if head_ns:
            stats.lines_seen(now, head_ns)


class Reader:
    """All streams of one reader process."""

    def __init__(self, plan: ReaderPlan, pipe: Connection) -> None:
        self.plan = plan
        self.pipe = pipe
        self.stats = ReaderStats()
        self.streams: list[SSEStream] = []
        self.commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.expect_total: int | None = None
        self.incomplete = 0
        self.all_done = asyncio.Event()
        self.cpu_start = 0.0
        self.wall_start = 0.0

    def progress(self, stream: SSEStream) -> None:
        """Called after each block a stream receives: counts down the streams still waiting for lines."""
        if self.expect_total is None or stream.done:
            return
        if stream.closed or not stream.ok or stream.tracker.complete(self.expect_total):
            stream.done = True
            self.incomplete -= 1
            if self.incomplete <= 0:
                self.all_done.set()

    async def connect(self, stream: StreamPlan, deadline: float) -> SSEStream:
        loop = asyncio.get_running_loop()
        proto = SSEStream(self.plan, stream, self.stats, self.progress)
        try:
            async with asyncio.timeout_at(deadline):
                await loop.create_connection(lambda: proto, self.plan.host, self.plan.port)
                await proto.ready
        except (OSError, TimeoutError) as exc:
            proto.error = proto.error or f"{type(exc).__name__}: {exc}"
            proto.done = True
            if proto.transport is not None:
                proto.transport.abort()
        return proto

    async def open_all(self) -> dict[str, Any]:
        """Open every planned stream (a few at a time, retrying refused/503 twice) until the deadline."""
        gate = asyncio.Semaphore(self.plan.concurrency)
        deadline = asyncio.get_running_loop().time() + self.plan.connect_timeout

        async def open_one(stream: StreamPlan) -> None:
            async with gate:
                for attempt in range(3):
                    proto = await self.connect(stream, deadline)
                    if proto.ok or attempt == 2 or proto.status not in (0, 503) or "Timeout" in proto.error:
                        break
                    await asyncio.sleep(0.2 * (attempt + 1))
                self.streams.append(proto)

        await asyncio.gather(*(open_one(s) for s in self.plan.streams))
        ok = sum(1 for s in self.streams if s.ok)
        errors = Counter(s.error.split(":")[0] for s in self.streams if not s.ok)
        samples = [s.error for s in self.streams if not s.ok][:3]
        return {
            "ok": ok,
            "failed": len(self.plan.streams) - ok,
            "errors": dict(errors),
            "error_samples": samples,
        }

    def report(self) -> dict[str, Any]:
        stats, live = self.stats, [s for s in self.streams if s.ok]
        trackers = [s.tracker for s in live]
        total = self.expect_total
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "streams": len(live),
            "closed": sum(1 for s in live if s.closed),
            "expected": sum(t.sel.count_below(total) for t in trackers) if total is not None else None,
            "received": sum(t.received for t in trackers),
            "lines": sum(s.lines for s in live),
            "duplicates": sum(t.dups for t in trackers),
            # the measured streams check every line: exact even when a loss and a duplicate share a block
            "measured_streams": sum(1 for s in live if s.stream.measured),
            "measured_loss": sum(
                s.tracker.sel.count_below(total) - s.tracker.received for s in live if s.stream.measured
            )
            if total is not None
            else None,
            "measured_duplicates": sum(s.tracker.dups for s in live if s.stream.measured),
            "missing_sample": sorted(set().union(*(s.tracker.holes for s in live if s.stream.measured)))[:10],
            "reordered": sum(t.reordered for t in trackers),
            "unexpected": sum(t.unexpected for t in trackers),
            "incomplete": sum(1 for t in trackers if total is not None and not t.complete(total)),
            "pings": sum(s.pings for s in live),
            "min_pings": min((s.pings for s in live), default=0),
            "notices": dict(stats.notices),
            "missed": stats.missed,
            "bytes": stats.bytes,
            "blocks": stats.blocks,
            "slow_blocks": stats.slow_blocks,
            "first_recv_ns": stats.first_recv_ns,
            "last_recv_ns": stats.last_recv_ns,
            "max_latency_ns": stats.max_latency_ns,
            "line_latency_us": stats.line_latency_us.tobytes(),
            "head_latency_us": stats.head_latency_us.tobytes(),
            "cpu_s": usage.ru_utime + usage.ru_stime - self.cpu_start,
            "wall_s": time.monotonic() - self.wall_start,
        }

    def reply(self, message: tuple[Any, ...]) -> None:
        # the event loop made the pipe non-blocking (add_reader); a report of a few MB needs blocking sends
        os.set_blocking(self.pipe.fileno(), True)
        self.pipe.send(message)

    async def serve_commands(self) -> None:
        while True:
            command = await self.commands.get()
            if command[0] == "start":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                self.cpu_start = usage.ru_utime + usage.ru_stime
                self.wall_start = time.monotonic()
                self.reply(("started",))
            elif command[0] == "expect":
                self.expect_total, timeout = command[1], command[2]
                waiting = [s for s in self.streams if not s.done]
                for stream in waiting:
                    stream.waiting = True
                self.incomplete = len(waiting) + 1  # + 1: not "all done" before every stream was checked
                for stream in waiting:
                    self.progress(stream)
                self.incomplete -= 1
                if self.incomplete:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await self.all_done.wait()
                self.reply(("report", self.report()))
            elif command[0] == "report":
                self.reply(("report", self.report()))
            elif command[0] == "close":
                for stream in self.streams:
                    if stream.transport is not None:
                        stream.transport.abort()
                return

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.pipe.fileno(), lambda: self.commands.put_nowait(self.pipe.recv()))
        try:
            self.reply(("connected", await self.open_all()))
            await self.serve_commands()
        finally:
            loop.remove_reader(self.pipe.fileno())


def decode_ws_frames(buf: bytes) -> tuple[list[bytes], bytes, bool]:
    """(payloads of the complete data frames, the incomplete rest, whether a close frame came) of server frames.

    Server frames are never masked (RFC 6455 5.1). websocketd sends one text frame per line of its command's
    output and does not fragment, so a continuation frame is taken as a message of its own.
    """
    pos, size, messages, closed = 0, len(buf), [], False
    while pos + 2 <= size:
        opcode, length, head = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
        if length == 126:
            if pos + 4 > size:
                break
            length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
        elif length == 127:
            if pos + 10 > size:
                break
            length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
        end = pos + head + length
        if end > size:
            break
        if opcode in (0, 1, 2):
            messages.append(buf[pos + head : end])
        elif opcode == 8:
            closed = True
        pos = end
    return messages, buf[pos:], closed


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def reader_main(plan: ReaderPlan, pipe: Connection) -> None:
    """Entry point of a reader process."""
    if plan.cores:
        os.sched_setaffinity(0, plan.cores)
    raise_open_files_limit()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(Reader(plan, pipe).run())
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


class ReaderPool:
    """The parent side: the reader processes (spawned: they share nothing with the parent) and their pipes."""

    def __init__(self, plans: list[ReaderPlan]) -> None:
        self.plans = plans
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.pipes: list[Connection] = []

    def start(self, timeout: float) -> dict[str, Any]:
        """Start every reader and wait until each has opened its streams; returns the summed summaries."""
        ctx = multiprocessing.get_context("spawn")
        for plan in self.plans:
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=reader_main, args=(plan, child_end), daemon=True)
            proc.start()
            child_end.close()
            self.procs.append(proc)
            self.pipes.append(parent_end)
        summary: dict[str, Any] = {"ok": 0, "failed": 0, "errors": Counter(), "error_samples": []}
        for part in self.gather("connected", timeout):
            summary["ok"] += part["ok"]
            summary["failed"] += part["failed"]
            summary["errors"].update(part["errors"])
            summary["error_samples"] += part["error_samples"]
        summary["errors"] = dict(summary["errors"])
        return summary

    def send(self, *command: Any) -> None:
        for pipe in self.pipes:
            pipe.send(command)

    def gather(self, kind: str, timeout: float) -> list[Any]:
        """One ("kind", payload) message from every reader, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        results: dict[int, Any] = {}
        while len(results) < len(self.pipes):
            waiting = [p for i, p in enumerate(self.pipes) if i not in results]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(waiting)} reader(s) sent no {kind!r} within {timeout:.0f}s")
            for pipe in multiprocessing.connection.wait(waiting, remaining):
                assert isinstance(pipe, Connection)
                try:
                    message = pipe.recv()
                except EOFError:
                    raise RuntimeError("a reader process died") from None
                if message[0] == kind:
                    results[self.pipes.index(pipe)] = message[1] if len(message) > 1 else None
        return [results[i] for i in range(len(self.pipes))]

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("close",))
        for proc in self.procs:
            proc.join(3)
            if proc.is_alive():
                proc.terminate()
                proc.join(3)
            if proc.is_alive():
                proc.kill()
                proc.join(3)
        for pipe in self.pipes:
            pipe.close()
