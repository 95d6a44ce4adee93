"""The keep-alive ticker: heartbeats only for quiet SSE clients; a send stuck past the timeout is ended."""

from __future__ import annotations

import asyncio

from logtail.core.frames import HEARTBEAT
from logtail.core.hub import Hub
from logtail.core.rawresponse import Sender
from logtail.core.subscription import Subscription
from logtail.match.filters import LineFilter
from logtail.web.keepalive import tick, tick_interval


def subscribed(hub: Hub, fmt: str = "sse") -> Subscription:
    sub = Subscription(["a"], LineFilter(), fmt, 1 << 20, multi=False)  # type: ignore[arg-type]
    hub.subscribe(["a"], sub)
    return sub


def test_heartbeat_goes_to_quiet_sse_clients_only() -> None:
    hub = Hub(10, 1 << 20)
    quiet, busy, text = subscribed(hub), subscribed(hub), subscribed(hub, "text")
    quiet.last_sent = 0.0
    busy.last_sent = 14.0
    text.last_sent = 0.0
    tick(hub, now=15.0, heartbeat=15.0, send_timeout=30.0, interval=1.0)
    assert quiet.chunks == [HEARTBEAT]
    assert busy.chunks == [] and text.chunks == []


def test_heartbeat_is_due_before_a_full_interval_of_silence() -> None:
    hub = Hub(10, 1 << 20)
    sub = subscribed(hub)
    sub.last_sent = 100.0
    tick(hub, now=113.0, heartbeat=15.0, send_timeout=30.0, interval=1.0)
    assert sub.chunks == []
    tick(hub, now=114.0, heartbeat=15.0, send_timeout=30.0, interval=1.0)
    assert sub.chunks == [HEARTBEAT]  # the next tick (115) would be too late at 1 s granularity


async def test_a_send_stuck_past_the_timeout_cancels_the_writer() -> None:
    hub = Hub(10, 1 << 20)
    sub = subscribed(hub)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def writer() -> None:
        sub.sending_since = 0.0
        await never

    sub.task = asyncio.create_task(writer())
    await asyncio.sleep(0)
    tick(hub, now=5.0, heartbeat=15.0, send_timeout=10.0, interval=1.0)
    assert not sub.stalled
    tick(hub, now=11.0, heartbeat=15.0, send_timeout=10.0, interval=1.0)
    assert sub.stalled
    await asyncio.gather(sub.task, return_exceptions=True)
    assert sub.task.cancelled()


async def test_a_download_or_search_stuck_past_the_timeout_is_cancelled_too() -> None:
    """Downloads and searches are on the same ticker as the streams (no timer around each of their sends)."""
    hub = Hub(10, 1 << 20)
    sender, idle = Sender(), Sender()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def writer() -> None:
        sender.sending_since = 0.0
        await never

    sender.task = asyncio.create_task(writer())
    idle.task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    tick(hub, now=5.0, heartbeat=15.0, send_timeout=10.0, interval=1.0, transfers=[sender, idle])
    assert not sender.stalled
    tick(hub, now=11.0, heartbeat=15.0, send_timeout=10.0, interval=1.0, transfers=[sender, idle])
    assert sender.stalled and not idle.stalled  # only a send under way for too long ends a transfer
    await asyncio.gather(sender.task, return_exceptions=True)
    assert sender.task.cancelled()
    idle.task.cancel()


def test_tick_interval_is_bounded() -> None:
    assert tick_interval(15, 30) == 1.0
    assert abs(tick_interval(0.3, 30) - 0.1) < 1e-9
    assert tick_interval(0.01, 30) == 0.05
