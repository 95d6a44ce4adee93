"""Background work that must not fail silently: a source's reading, the keep-alive ticker, the watches.

Such a task ends only when cancelled (shutdown). If it ends on an unexpected error instead (a bug; outages
are each task's own to ride out), nothing else would say so until shutdown: the task group or the task
would hold the exception unread. So the failure is logged at once, with its traceback, and named in
`stopped`, which `/readyz` answers with a 503 so that a supervisor or a load balancer acts on it; the
server's other work goes on. Cancellation passes through untouched; at shutdown `cancel_and_wait` makes sure
it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

log = logging.getLogger(__name__)


async def supervised(work: Awaitable[None], what: str, stopped: list[str]) -> None:
    try:
        await work
    except Exception as exc:
        log.exception("%s stopped: %s", what, exc)
        stopped.append(f"{what} stopped ({type(exc).__name__}); restart logtail")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], every: float = 0.5) -> None:
    """Cancel `tasks` and wait until every one has ended, cancelling again any still running `every` seconds
    later.

    One cancellation can be lost: on Python 3.11, `asyncio.wait_for` returns its result instead of raising
    when the cancellation arrives as the operation it waits for completes, and redis-py sends every command
    through it. A loop around such a send then goes on as if never cancelled, and a shutdown that cancelled
    it once would wait for it forever (seen: a node reading a Redis Cluster, which sends every 50 ms, not
    stopping on SIGTERM)."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
