"""Blocking calls run in a worker thread, so that the event loop never waits on a disk."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread.

    If the caller is cancelled meanwhile, the call is still awaited before the cancellation goes on: it may
    be reading a descriptor that the caller's `finally` is about to close.
    """
    future = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved, so asyncio does not log it
        raise
