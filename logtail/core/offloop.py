"""Reading off the event loop: the one helper every blocking read (history, resume, catch-up) goes through,
and the bounded pool that costly requests (pattern compiles, searches, `since=`) share.

`asyncio.to_thread` is not enough when the caller owns the descriptor being read: a cancelled caller
returns at once while its thread is still inside `os.pread`, and the caller's `finally` then closes the
descriptor, whose number the kernel may hand to the next `open()`: the thread would read another file.

Heavy work has a pool of its own (`HEAVY`) so that it can never take every thread of the default pool, which
password checks (scrypt), resumes and downloads need; within it, one client (address) runs at most
`per_client` calls at once and its further calls wait for its own, not for everybody's.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any, executor: Executor | None = None,
                   discard: Callable[[T], None] | None = None) -> T:
    """`fn(*args)` in a worker thread (of `executor`, else the loop's default pool).

    If the caller is cancelled meanwhile, the call is still awaited before the cancellation goes on: it may
    be reading a descriptor that the caller's `finally` is about to close; what it returned then goes to
    `discard` (a result that holds open files, say), since nobody else will have it.
    """
    future = asyncio.get_running_loop().run_in_executor(executor, functools.partial(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled() and future.exception() is None and discard is not None:
            discard(future.result())
        raise


class HeavyPool:
    """A bounded thread pool for costly calls, with at most `per_client` calls at once per client."""

    def __init__(self, threads: int = 2, per_client: int = 1) -> None:
        self.threads = threads
        self.per_client = per_client
        self._executor: ThreadPoolExecutor | None = None  # made on first use: nothing runs at import
        self._clients: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}  # calls holding or awaiting each client's semaphore

    async def run(self, client: str, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="logtail-heavy")
        gate = self._clients.get(client)
        if gate is None:
            gate = self._clients[client] = asyncio.Semaphore(self.per_client)
        self._users[client] = self._users.get(client, 0) + 1
        try:
            async with gate:
                return await off_loop(fn, *args, executor=self._executor)
        finally:
            self._users[client] -= 1
            if not self._users[client]:  # forget idle clients: the table stays as small as the work
                del self._users[client], self._clients[client]


HEAVY = HeavyPool()
