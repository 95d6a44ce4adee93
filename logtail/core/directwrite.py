"""Writing a stream's bytes straight to the client's transport, below ASGI, when nothing can go wrong.

A stream's writer is a task that waits for its queue (stream.py); every batch the hub fans out would wake it
and run an ASGI `send()` coroutine per client: at 10 clients and 100 lines/s, or at 1,000 clients, those
wake-ups and coroutine sends are most of the server's CPU. When the writer is parked with nothing queued
(so nothing it holds can be overtaken), the subscription hands the hub's shared chunk to the transport
right away instead, framed exactly as uvicorn frames a body chunk.

Only where that is as safe as the ASGI send: uvicorn's httptools protocol (the `send` it gives is a bound
method of its request cycle, whose transport, flow control and chunked framing are known), a GET response
already started with chunked encoding, the client connected and its transport not paused. Whenever one of
these does not hold the bytes go through the queue as before, so backpressure (a paused transport, then the
queue, then catch-up or skip), the send timeout (keepalive.py: only the writer's own sends can stall),
disconnects and shutdown are the writer's business as they always were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, cast

from starlette.types import Send

# The request cycle class of uvicorn's httptools protocol, the one whose internals are relied on here.
_CYCLE = ("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle")


class _Flow(Protocol):
    write_paused: bool


class _Cycle(Protocol):
    transport: asyncio.Transport
    flow: _Flow
    disconnected: bool
    response_complete: bool
    chunked_encoding: bool | None
    scope: dict[str, Any]


class DirectWriter:
    """One stream's transport, written to without a coroutine while it can take bytes at once."""

    __slots__ = ("clock", "cycle", "transport")

    def __init__(self, cycle: _Cycle, clock: Callable[[], float]) -> None:
        self.cycle = cycle
        self.transport = cycle.transport
        self.clock = clock

    def write(self, data: bytes) -> bool:
        """Write `data` as one body chunk now; False (nothing written) when it must wait for the writer."""
        cycle = self.cycle
        if cycle.flow.write_paused or cycle.disconnected or cycle.response_complete or self.transport.is_closing():
            return False
        if data:
            self.transport.write(b"".join((b"%x\r\n" % len(data), data, b"\r\n")))
        return True


def direct_writer(send: Send) -> DirectWriter | None:
    """A direct writer for the response `send` has started, or None where only ASGI sends are safe."""
    owner = getattr(send, "__self__", None)
    kind = type(owner)
    if (kind.__module__, kind.__qualname__) != _CYCLE:
        return None  # another server or protocol (h11), or a wrapped send (uvicorn's trace logging)
    cycle = cast(_Cycle, owner)
    if not cycle.chunked_encoding or cycle.scope.get("method") != "GET":
        return None
    return DirectWriter(cycle, asyncio.get_running_loop().time)
