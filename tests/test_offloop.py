"""The off-loop helper: a cancelled caller does not return while its call still runs in a thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from logtail.core.offloop import off_loop


async def test_result_and_exception_come_back() -> None:
    assert await off_loop(sum, [1, 2, 3]) == 6
    with pytest.raises(ZeroDivisionError):
        await off_loop(divmod, 1, 0)


async def test_cancellation_waits_for_the_call_to_finish() -> None:
    """The caller's `finally` may close the descriptor the thread is reading: it must not run before the
    thread is done."""
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def blocking() -> str:
        started.set()
        release.wait(10)
        done.append("read")
        return "data"

    async def caller() -> None:
        try:
            await off_loop(blocking)
        finally:
            done.append("closed")

    task = asyncio.create_task(caller())
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    await asyncio.sleep(0.2)
    assert not task.done(), "the cancelled caller went on while its thread was still reading"
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["read", "closed"]
