"""The streaming response: one client, from backlog or resume point to live lines, until it goes away.

This is a raw ASGI response (rawresponse.py) rather than `StreamingResponse`, `fastapi.sse.EventSourceResponse`
or sse-starlette because those miss the throughput and memory targets: they send once per event
and run a producer task per connection, and FastAPI's ping interval is fixed at 15 s. Here a client's
writer wakes when the hub has queued bytes for it and sends everything queued in one `send()` (while it is
parked with nothing queued, the hub's chunk goes straight to the client's transport instead: directwrite.py);
between sends it reads back what a lagging log missed (catchup.py), so a slow client reads at its own pace.
Heartbeats and the send timeout come from one ticker for all clients (keepalive.py), not from timers per
client. Per connection there is the request task and one task awaiting `receive()` for the disconnect, which
closes the subscription at once.

Subscribing happens inside `__call__`, where the `finally` that unsubscribes is guaranteed to run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from logtail.core.catchup import CatchUp
from logtail.core.cursor import Cursor
from logtail.core.directwrite import direct_writer
from logtail.core.frames import MEDIA_TYPES, Format, encode_retry, notice_frame
from logtail.core.hub import Hub
from logtail.core.rawresponse import ClientGone, RawResponse
from logtail.core.subscription import Overflow, Subscription, start_of_any_file
from logtail.match.filters import LineFilter
from logtail.sources.base import Sources
from logtail.web.interleave import interleave


@dataclass(frozen=True, slots=True)
class StreamOptions:
    filter: LineFilter
    fmt: Format
    backlog: int
    cursors: dict[str, Cursor]
    multi: bool
    overflow: Overflow = "catchup"
    sibling_starts: frozenset[str] = frozenset()  # logs whose cursor is the start of NAME.1 (since.Start)


# Where the app keeps the server's own `send` in a request's scope (app.LogtailApp). The middlewares that wrap
# `send` (Starlette's ServerErrorMiddleware, SecurityHeaders, CORS) act on the response start only, yet a
# stream's every chunk would pass through each wrapper, for hours, for every client: a stream sends its
# start through them (they set its headers once) and its body straight to the server.
SERVER_SEND = "logtail.server_send"


class LogStream(RawResponse):
    """ASGI response streaming `logs` to one client."""

    def __init__(self, logs: Sequence[str], options: StreamOptions, hub: Hub, sources: Sources, *,
                 send_timeout: float, retry_ms: int, queue_bytes: int) -> None:
        super().__init__(send_timeout)
        self.logs = list(logs)
        self.options = options
        self.hub = hub
        self.sources = sources  # where a lagging log is read back from
        self.retry_ms = retry_ms
        self.queue_bytes = queue_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opts = self.options
        sub = Subscription(self.logs, opts.filter, opts.fmt, self.queue_bytes, opts.multi, opts.overflow)
        sub.cursors.update({name: str(opts.cursors[name]) for name in self.logs if name in opts.cursors})
        self._subscribe(sub)
        catchup = CatchUp(sub, self.hub, self.sources.find, sibling_starts=opts.sibling_starts)
        self._send = send
        self.sender = sub  # the subscription records its writes for the keep-alive ticker
        sub.task = asyncio.current_task()
        sub.last_sent = asyncio.get_running_loop().time()
        listener = asyncio.create_task(self.listen(receive, sub.close))
        try:
            await self._start()
            self._send = scope.get(SERVER_SEND, send)
            sub.direct = direct_writer(self._send)
            await self._pump_in_own_task(sub, catchup)
        except ClientGone:
            pass
        finally:
            listener.cancel()
            self.hub.unsubscribe(sub)
            catchup.close()

    def _subscribe(self, sub: Subscription) -> None:
        # Start and subscribe in one step of the event loop: the backlog and the positions cover everything
        # up to now, the queue everything after; a log resumed from a cursor catches up from there.
        opts = self.options
        backlogs, resume = {}, {}
        for name in self.logs:
            cursor = self._resume_from(name)
            if cursor is None:
                backlogs[name] = self.hub.channel(name).tail(opts.backlog if not opts.cursors else 0, opts.filter)
            else:
                resume[name] = cursor
        runs = interleave(backlogs, self.sources.entry_time, time.time())
        sub.begin(runs, {name: self.hub.channel(name).position for name in self.logs}, resume)
        self.hub.subscribe(self.logs, sub)
        self._notice_outage(sub)

    def _notice_outage(self, sub: Subscription) -> None:
        # What a log's source says a new client must hear at once (Redis unreachable, say).
        for name in self.logs:
            source = self.sources.find(name)
            notice = None if source is None else source.opening_notice(name)
            if notice is not None:
                sub.notice(name, notice_frame(sub.fmt, name, *notice), self.hub.channel(name).position)

    def _resume_from(self, name: str) -> Cursor | None:
        opts = self.options
        cursor = opts.cursors.get(name)
        if cursor is None and opts.multi and opts.cursors and self.hub.channel(name).position is not None:
            # Resuming, but the id has no entry for this log: it had no position when the client last heard
            # of it (its file did not exist yet), so all of its file is new to the client.
            return start_of_any_file(name)
        return cursor

    async def _start(self) -> None:
        headers = [
            (b"content-type", MEDIA_TYPES[self.options.fmt].encode()),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: do not buffer this response
            (b"x-content-type-options", b"nosniff"),
        ]
        await self.send_start(200, headers)
        if self.options.fmt == "sse":
            await self.send_body(encode_retry(self.retry_ms))

    async def _pump_in_own_task(self, sub: Subscription, catchup: CatchUp) -> None:
        # The request task runs under a dozen frames (uvicorn, the middlewares, FastAPI), and every wake-up
        # of a coroutine resumes each frame of its chain. In a task of its own, a wake-up of the pump resumes
        # its three frames; the request task wakes once, at the end. Cancelling the request task (shutdown)
        # cancels the pump; the keep-alive ticker cancels a stuck send in the pump itself (sub.task).
        pump = asyncio.create_task(self._pump(sub, catchup))
        sub.task = pump
        await pump

    async def _pump(self, sub: Subscription, catchup: CatchUp) -> None:
        # Heartbeats are queued by the keep-alive ticker like any other bytes: no timer per wait here.
        loop = asyncio.get_running_loop()
        while not sub.closed:
            if sub.lagging and sub.room() > sub.queue_bytes // 2:
                await catchup.step()  # more lines to send, read back while the client drains its queue
            elif sub.idle:
                sub.waiter = loop.create_future()
                try:
                    await sub.waiter
                finally:
                    sub.waiter = None
            if sub.closed:
                break
            if sub.chunks or sub.missed:
                await self.send_body(sub.take())
        if sub.close_reason:
            await self.send_body(sub.close_reason)
            await self.send_body(b"", more=False)
