"""Reading off the event loop: the one helper every blocking read (history, resume, catch-up) goes through.

`asyncio.to_thread` is not enough when the caller owns the descriptor being read: a cancelled caller
returns at once while its thread is still inside `os.pread`, and the caller's `finally` then closes the
descriptor, whose number the kernel may hand to the next `open()`: the thread would read another file.
"""

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
