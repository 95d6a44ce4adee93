"""One ticker for every open stream: heartbeats during silence, and the send timeout.

Per-client timers cost more than the sends they guard: `asyncio.timeout` around each send, or around each
wait for new lines, measured ~20 us apiece here (a heap push and a cancelled handle every time), which at a
thousand clients is most of a core. Instead, each subscription records when it last sent and whether a send
is under way, and this single task looks at all of them a few times per heartbeat interval: a quiet SSE
client gets a heartbeat comment queued, a client stuck in a send for longer than `send_timeout` is ended.
"""

from __future__ import annotations

import asyncio

from .hub import Hub
from .sse import HEARTBEAT


def tick_interval(heartbeat: float, send_timeout: float) -> float:
    return max(0.05, min(1.0, heartbeat / 3, send_timeout / 3))


def tick(hub: Hub, now: float, heartbeat: float, send_timeout: float, interval: float) -> None:
    quiet_since = now - heartbeat + interval  # heartbeat at the last tick before `heartbeat` of silence
    for sub in list(hub.subscriptions):
        if sub.sending_since is not None:
            if now - sub.sending_since > send_timeout:
                sub.stall()
        elif sub.fmt == "sse" and sub.last_sent <= quiet_since:
            sub.heartbeat(HEARTBEAT)


async def keep_alive(hub: Hub, heartbeat: float, send_timeout: float) -> None:
    loop = asyncio.get_running_loop()
    interval = tick_interval(heartbeat, send_timeout)
    while True:
        await asyncio.sleep(interval)
        tick(hub, loop.time(), heartbeat, send_timeout, interval)
