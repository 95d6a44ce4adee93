"""Background work that fails is logged at once and makes the node unready (logtail/core/supervised.py), and the
server's other work goes on: for each source (test_sources_base.py) and for the server's own tasks."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

import logtail.app
from logtail.app import create_app
from logtail.config import LogSource, Settings
from logtail.core.supervised import cancel_and_wait, supervised


async def bug() -> None:
    raise RuntimeError("a bug")


async def test_a_failure_is_logged_with_its_traceback_and_named(caplog: pytest.LogCaptureFixture) -> None:
    stopped: list[str] = []
    with caplog.at_level(logging.ERROR, logger="logtail.core.supervised"):
        await supervised(bug(), "the ticker", stopped)
    assert stopped == ["the ticker stopped (RuntimeError); restart logtail"]
    record = next(r for r in caplog.records if r.getMessage() == "the ticker stopped: a bug")
    assert record.exc_info is not None


async def test_cancellation_passes_through_and_is_no_failure() -> None:
    stopped: list[str] = []
    task = asyncio.create_task(supervised(asyncio.Event().wait(), "waiting", stopped))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stopped == []


async def test_a_server_task_that_fails_makes_readyz_answer_503_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The keep-alive ticker stands for every task of the server (sources, keep-alive, watches): a bug in it
    used to end it silently, and the node went on answering ready."""

    async def failing_keep_alive(*args: Any) -> None:
        await bug()

    monkeypatch.setattr(logtail.app, "keep_alive", failing_keep_alive)
    log = tmp_path / "app.log"
    log.write_text("one\n")
    app = create_app(Settings(sources=(LogSource("app.log", log),)))
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as client:
        async with asyncio.timeout(5):
            while (ready := await client.get("/readyz")).status_code == 200:
                await asyncio.sleep(0.01)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "reason": "keep-alive stopped (RuntimeError); restart logtail"}
        assert (await client.get("/api/logs")).json()[0]["name"] == "app.log"  # the rest goes on


async def test_a_cancellation_lost_in_asyncio_wait_for_is_sent_again() -> None:
    """A loop of sends through `asyncio.wait_for` (redis-py's, under a source's reading): on Python 3.11 a
    cancellation that arrives as the awaited operation completes is lost (wait_for returns the result), and
    the loop goes on. `cancel_and_wait` cancels again, so a shutdown ends; a single cancel and a wait for the
    task, as before, waited for ever."""
    loop = asyncio.get_running_loop()
    sends: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def reading() -> None:
        while True:
            send = loop.create_future()
            sends.put_nowait(send)
            await asyncio.wait_for(send, 60)

    task = asyncio.create_task(reading())
    first = await sends.get()
    await asyncio.sleep(0)  # the task waits in wait_for
    first.set_result(None)  # the operation completes, and the shutdown's cancellation comes in the same turn
    await asyncio.wait_for(cancel_and_wait([task], every=0.05), 10)
    assert task.cancelled()
