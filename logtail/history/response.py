"""The base of history's raw ASGI responses.

Like `stream.LogStream`, and for the same reasons: files are opened inside `__call__`, where the `finally`
that closes them always runs, and a task awaiting `receive()` notices a client that leaves, so a download or
a search stops at the next block and frees its files at once. (After a disconnect uvicorn's `send()` returns
silently: without that listener the whole file would be read for nobody. Starlette's `FileResponse` also
reads until EOF, past a growing log's size at start.)
"""

from __future__ import annotations

import asyncio
import logging

from fastapi.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..sse import dump_json
from ..stream import ClientGone

log = logging.getLogger(__name__)


class FileStreamResponse(Response):
    """A raw ASGI response that stops when the client leaves and closes its files whatever happens."""

    def __init__(self, send_timeout: float) -> None:
        self.status_code = 200
        self.background = None
        self.send_timeout = send_timeout
        self._send: Send | None = None
        self._gone = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        listener = asyncio.create_task(self._listen(receive))
        try:
            await self.respond(scope)
        except ClientGone:
            pass
        finally:
            listener.cancel()

    async def respond(self, scope: Scope) -> None:
        raise NotImplementedError

    async def _listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone.set()

    def check_client(self) -> None:
        if self._gone.is_set():
            raise ClientGone

    async def send_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.write({"type": "http.response.start", "status": status, "headers": headers})

    async def send_body(self, data: bytes, more: bool = True) -> None:
        await self.write({"type": "http.response.body", "body": data, "more_body": more})

    async def error(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        payload = dump_json({"detail": detail})
        await self.send_start(status, [(b"content-type", b"application/json"),
                                  (b"content-length", str(len(payload)).encode()), *(headers or [])])
        await self.send_body(payload, more=False)

    async def write(self, message: Message) -> None:
        assert self._send is not None
        try:
            async with asyncio.timeout(self.send_timeout):
                await self._send(message)
        except TimeoutError:
            log.info("client stopped reading for %.0fs; disconnecting it", self.send_timeout)
            raise ClientGone from None
        except OSError:
            raise ClientGone from None
