"""Background work that must not fail silently: a source's reading, the keep-alive ticker, the watches.

Such a task ends only when cancelled (shutdown). If it ends on an unexpected error instead (a bug; outages
are each task's own to ride out), nothing else would say so until shutdown: the task group or the task
would hold the exception unread. So the failure is logged at once, with its traceback, and named in
`stopped`, which `/readyz` answers with a 503 so that a supervisor or a load balancer acts on it; the
server's other work goes on. Cancellation passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)


async def supervised(work: Awaitable[None], what: str, stopped: list[str]) -> None:
    try:
        await work
    except Exception as exc:
        log.exception("%s stopped: %s", what, exc)
        stopped.append(f"{what} stopped ({type(exc).__name__}); restart logtail")
