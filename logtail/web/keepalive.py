"""One ticker for every open response: heartbeats during silence, and the send timeout.

Per-client timers cost more than the sends they guard: `asyncio.timeout` around each send, or around each
wait for new lines, measured ~20 us apiece here (a heap push and a cancelled handle every time), which at a
thousand clients is most of a core. Instead, each response records when it last sent and whether a send
is under way (rawresponse.Sender), and this single task looks at all of them a few times per heartbeat
interval: a quiet SSE client gets a heartbeat comment queued, a client stuck in a send for longer than the
send timeout is ended (a live stream, a download or a search alike).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from logtail.core.frames import HEARTBEAT
from logtail.core.hub import Hub
from logtail.core.rawresponse import Sender, Transfers


def tick_interval(heartbeat: float, send_timeout: float) -> float:
    return max(0.05, min(1.0, heartbeat / 3, send_timeout / 3))


def tick(hub: Hub, now: float, heartbeat: float, send_timeout: float, interval: float,
         transfers: Iterable[Sender] = ()) -> None:
    quiet_since = now - heartbeat + interval  # heartbeat at the last tick before `heartbeat` of silence
    for sub in list(hub.subscriptions):
        if sub.sending_since is not None:
            if now - sub.sending_since > send_timeout:
                sub.stall()
        elif sub.fmt == "sse" and sub.last_sent <= quiet_since:
            sub.heartbeat(HEARTBEAT)
    for sender in list(transfers):
        if sender.sending_since is not None and now - sender.sending_since > send_timeout:
            sender.stall()


async def keep_alive(hub: Hub, transfers: Transfers, heartbeat: float) -> None:
    loop = asyncio.get_running_loop()
    interval = tick_interval(heartbeat, transfers.send_timeout)
    while True:
        await asyncio.sleep(interval)
        tick(hub, loop.time(), heartbeat, transfers.send_timeout, interval, transfers.senders)
