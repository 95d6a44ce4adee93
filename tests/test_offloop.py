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


async def test_heavy_work_has_its_own_threads_and_one_call_at_a_time_per_client() -> None:
    """Issue 21: eight `since=` requests of one client took every worker thread, so password checks and other
    clients waited a minute. Heavy calls run in their own pool; one client's calls run one at a time, while
    another client's call starts at once."""
    from logtail.core.offloop import HeavyPool

    pool = HeavyPool(threads=2, per_client=1)
    lock = threading.Lock()
    running: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    names: set[str] = set()
    b_started = threading.Event()

    def work(client: str) -> None:
        with lock:
            running[client] += 1
            most[client] = max(most[client], running[client])
            names.add(threading.current_thread().name)
        if client == "b":
            b_started.set()
        else:
            b_started.wait(5)  # "a" holds its thread until "b" has started alongside it
        with lock:
            running[client] -= 1

    await asyncio.wait_for(asyncio.gather(*(pool.run("a", work, "a") for _ in range(4)), pool.run("b", work, "b")),
                           20)
    assert most == {"a": 1, "b": 1}
    assert b_started.is_set()
    assert all(name.startswith("logtail-heavy") for name in names)
