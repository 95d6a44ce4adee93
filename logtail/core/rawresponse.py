"""The base of logtail's raw ASGI responses: live streams (stream.py) and history's downloads and searches.

They are raw rather than Starlette's `StreamingResponse` for what they share: resources are opened inside
`__call__`, where the `finally` that frees them always runs; a task awaiting `receive()` notices a client
that leaves at once (after a disconnect uvicorn's `send()` returns silently, so without it a download would
read the whole file for nobody); and a client that stops reading is ended by the one keep-alive ticker
(keepalive.py), which looks at when each response's send started, instead of by a timer around every send
(`asyncio.timeout` costs ~20 us a send, most of a core at a thousand streams).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Send

log = logging.getLogger(__name__)


class ClientGone(Exception):
    """The client disconnected or stopped reading for longer than the send timeout."""


class Sender:
    """One response's writes as the keep-alive ticker sees them: when the last send ended, since when a send
    has been under way, and the task to cancel when it has been stuck for longer than the send timeout."""

    def __init__(self) -> None:
        self.last_sent = 0.0
        self.sending_since: float | None = None
        self.stalled = False
        self.task: asyncio.Task[Any] | None = None

    def stall(self) -> None:
        """The client has not accepted a send for too long: end the writer wherever it is waiting."""
        if not self.stalled and self.task is not None:
            self.stalled = True
            self.task.cancel()


@dataclass
class Transfers:
    """The downloads and searches under way, which the keep-alive ticker ends after `send_timeout` in one send."""

    send_timeout: float
    senders: set[Sender] = field(default_factory=set)


class RawResponse(Response):
    """A `Response` (so that routes can return it) that writes ASGI messages itself."""

    def __init__(self, send_timeout: float) -> None:
        self.status_code = 200
        self.background = None
        self.send_timeout = send_timeout
        self._send: Send | None = None
        self.sender = Sender()

    async def listen(self, receive: Receive, on_gone: Callable[[], None]) -> None:
        """Call `on_gone` when the client disconnects (run as a task beside the response)."""
        while (await receive())["type"] != "http.disconnect":
            pass
        on_gone()

    async def send_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.write_message({"type": "http.response.start", "status": status, "headers": headers})

    async def send_body(self, data: bytes, more: bool = True) -> None:
        await self.write_message({"type": "http.response.body", "body": data, "more_body": more})

    async def write_message(self, message: dict[str, Any]) -> None:
        assert self._send is not None
        sender = self.sender
        loop = asyncio.get_running_loop()
        sender.sending_since = loop.time()
        try:
            await self._send(message)
        except asyncio.CancelledError:
            # The ticker cancels a send stuck past send_timeout (keepalive.py); any other cancellation
            # (shutdown) is not ours and goes on.
            task = asyncio.current_task()
            if sender.stalled and task is not None and task.uncancel() == 0:
                log.info("client stopped reading for %.0fs; disconnecting it", self.send_timeout)
                raise ClientGone from None
            raise
        except OSError:
            raise ClientGone from None
        finally:
            sender.sending_since = None
            sender.last_sent = loop.time()
