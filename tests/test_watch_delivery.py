"""One destination's queue (logtail/watches/delivery.py): bounded, the oldest folded into a summary that the
next alert carries, retried until the destination is back; a slow destination delays only itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from logtail.watches.counter import Alert
from logtail.watches.delivery import Destination, Outcome
from logtail.watches.spec import DestinationSpec
from tests.receiver import Receiver
from tests.streams import async_wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def alert(i: int, count: int = 1) -> Alert:
    return Alert(f"w-{i}", "w", 0.0, count, 1, 60.0, [])


async def test_a_full_queue_folds_the_oldest_into_the_next_alert(receiver: Receiver) -> None:
    receiver.stop()  # down: refused
    outcomes: list[Outcome] = []
    async with httpx.AsyncClient() as client:
        dest = Destination(DestinationSpec("d", receiver.url), client, outcomes.append, backoff_cap=0.2, queue=2)
        task = asyncio.create_task(dest.run())
        try:
            dest.put(alert(0))
            await async_wait_for(lambda: not dest.queue, 20, "alert 0 in flight")  # retrying
            for i in range(1, 6):
                dest.put(alert(i, count=10))
            assert [a.id for a in dest.queue] == ["w-4", "w-5"]
            assert [(o.alert.id, o.outcome) for o in outcomes] == [("w-1", "summarised"), ("w-2", "summarised"),
                                                                   ("w-3", "summarised")]
            receiver.start()
            await async_wait_for(lambda: len(receiver.requests) == 3, 20, "three alerts")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    sent = receiver.alerts()
    assert [a["id"] for a in sent] == ["w-0", "w-4", "w-5"]
    assert "summarised" not in sent[0] and sent[1]["summarised"] == {"alerts": 3, "matches": 30}
    assert "summarised" not in sent[2]  # told once


async def test_a_slow_destination_does_not_delay_another(receiver: Receiver) -> None:
    slow = Receiver(delay=3.0).start()
    outcomes: list[Outcome] = []
    try:
        async with httpx.AsyncClient() as client:
            dests = [Destination(DestinationSpec(name, r.url, timeout=10.0), client, outcomes.append)
                     for name, r in (("slow", slow), ("fast", receiver))]
            tasks = [asyncio.create_task(d.run()) for d in dests]
            try:
                for d in dests:
                    d.put(alert(1))
                await async_wait_for(lambda: receiver.requests, 2.5, "the fast destination's alert")
                assert not slow.requests
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        slow.stop()
