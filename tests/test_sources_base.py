"""Sources: one source that fails neither stops the others nor goes unnoticed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from logtail.sources.base import Source, Sources


class Following:
    """A source that follows until cancelled (the run of every real source)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def run(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def unready(self) -> str | None:
        return None


class Failing(Following):
    """A source whose run meets a bug (an outage is each source's own to ride out)."""

    async def run(self) -> None:
        self.started.set()
        raise RuntimeError("a bug")


async def test_a_failed_source_is_logged_at_once_and_makes_the_node_unready_while_the_others_follow_on(
        caplog: pytest.LogCaptureFixture) -> None:
    following, failing = Following(), Failing()
    sources = Sources(cast(list[Source], [failing, following]))
    assert sources.unready() is None
    with caplog.at_level(logging.ERROR, logger="logtail.core.supervised"):
        task = asyncio.create_task(sources.run())
        await asyncio.wait_for(following.started.wait(), 5)
        await asyncio.wait_for(failing.started.wait(), 5)
        await asyncio.sleep(0)  # the failure's handling is the failing task's next step
    assert not task.done() and not following.cancelled, "the other source was stopped with the failed one"
    assert sources.unready() == "Failing stopped (RuntimeError); restart logtail"
    record: Any = next(r for r in caplog.records if r.getMessage() == "Failing stopped: a bug")
    assert record.exc_info is not None and "a bug" in record.getMessage()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert following.cancelled
