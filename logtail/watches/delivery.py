"""Sending alerts: one asyncio task per destination, with its own bounded queue, off the hub's path.

The hub only appends to a queue (`Outbox.put`), never awaits. A failed send is retried when the failure
may pass (timeout, refused connection, 5xx) with capped exponential backoff and jitter, for as long as it
takes; a 4xx is final (recorded as the watch's `last_error`). While a destination is down its queue fills;
when full, the oldest alert is folded into a summary carried by the next one sent (never dropped silently).
A destination that is down delays only its own queue.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from jinja2 import TemplateError

from logtail.watches.counter import Alert
from logtail.watches.payloads import build
from logtail.watches.spec import DestinationSpec

log = logging.getLogger(__name__)
QUEUE = 100  # alerts waiting per destination
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0


@dataclass
class Outcome:
    alert: Alert
    destination: str
    outcome: str  # sent | failed (4xx, final) | summarised (folded into a later alert)
    error: str | None = None


def describe(dest: DestinationSpec, response: httpx.Response | None, exc: Exception | None) -> str:
    if response is not None:
        reason = response.text[:200].strip()
        return f"{dest.name}: HTTP {response.status_code}{': ' + reason if reason else ''}"
    return f"{dest.name}: {type(exc).__name__}: {exc}"[:300]


async def send_once(client: httpx.AsyncClient, dest: DestinationSpec, alert: Alert,
                    summarised: dict[str, int] | None = None) -> tuple[httpx.Response | None, Exception | None]:
    try:
        request = build(dest, alert, summarised)
    except TemplateError as exc:  # the user's template: sending again would fail the same way
        return None, exc
    try:
        response = await client.post(dest.url, content=request.content, headers=request.headers,
                                     timeout=dest.timeout)
    except httpx.HTTPError as exc:
        return None, exc
    return response, None


class Destination:
    def __init__(self, spec: DestinationSpec, client: httpx.AsyncClient, report: Callable[[Outcome], None],
                 backoff_cap: float = BACKOFF_CAP, queue: int = QUEUE) -> None:
        self.spec = spec
        self.client = client
        self.report = report
        self.backoff_cap = backoff_cap
        self.limit = queue
        self.queue: deque[Alert] = deque()
        self.summarised = {"alerts": 0, "matches": 0}
        self.wakeup = asyncio.Event()
        self.last_error: str | None = None

    def put(self, alert: Alert) -> None:
        if len(self.queue) >= self.limit:
            oldest = self.queue.popleft()
            self.summarised["alerts"] += 1
            self.summarised["matches"] += oldest.count
            self.report(Outcome(oldest, self.spec.name, "summarised"))
        self.queue.append(alert)
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            alert = self.queue.popleft()  # in flight: no longer folded into a summary when the queue is full
            folded = dict(self.summarised) if self.summarised["alerts"] else None
            outcome = await self._deliver(alert, folded)
            if folded:  # told (or refused for good): alerts folded since then wait for the next one
                self.summarised = {k: self.summarised[k] - folded[k] for k in folded}
            self.report(outcome)

    async def _deliver(self, alert: Alert, folded: dict[str, int] | None) -> Outcome:
        delay = BACKOFF_FIRST
        while True:
            response, exc = await send_once(self.client, self.spec, alert, folded)
            if response is not None and response.status_code < 400:
                self.last_error = None
                return Outcome(alert, self.spec.name, "sent")
            error = describe(self.spec, response, exc)
            self.last_error = error
            if (response is not None and response.status_code < 500) or isinstance(exc, TemplateError):
                log.warning("alert %s not accepted by %s (not retried)", alert.id, error)
                return Outcome(alert, self.spec.name, "failed", error)
            # Timeouts, refused connections and 5xx may pass: try again, later each time, never in lockstep.
            log.warning("alert %s: %s; retrying in %.1fs", alert.id, error, delay)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff_cap)
