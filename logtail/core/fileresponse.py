"""The base of history's raw ASGI responses (rawresponse.py): downloads and searches.

A download or a search stops at the next block when its client leaves (the listener sets `_gone`) and frees
its files at once. Starlette's `FileResponse` would also read until EOF, past a growing log's size at start.
While it runs, the response is in `transfers`, where the keep-alive ticker ends it when a send has been
stuck for longer than the send timeout, as it does for the live streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Receive, Scope, Send

from logtail.core.frames import dump_json
from logtail.core.rawresponse import ClientGone, RawResponse, Transfers


class FileStreamResponse(RawResponse):
    """A raw ASGI response that stops when the client leaves and closes its files whatever happens."""

    def __init__(self, transfers: Transfers) -> None:
        super().__init__(transfers.send_timeout)
        self.transfers = transfers.senders
        self._gone = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        self.sender.task = asyncio.current_task()
        self.sender.last_sent = asyncio.get_running_loop().time()
        self.transfers.add(self.sender)
        listener = asyncio.create_task(self.listen(receive, self._gone.set))
        try:
            await self.respond(scope)
        except ClientGone:
            pass
        finally:
            listener.cancel()
            self.transfers.discard(self.sender)

    async def respond(self, scope: Scope) -> None:
        raise NotImplementedError

    def check_client(self) -> None:
        if self._gone.is_set():
            raise ClientGone

    async def error(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        payload = dump_json({"detail": detail})
        await self.send_start(status, [(b"content-type", b"application/json"),
                                       (b"content-length", str(len(payload)).encode()), *(headers or [])])
        await self.send_body(payload, more=False)


class TextDownload(FileStreamResponse):
    """What a source retains of a log as a text download, oldest first: `batches` says what, a batch of line
    texts at a time, and the client leaving stops it between two batches."""

    def __init__(self, name: str, transfers: Transfers) -> None:
        super().__init__(transfers)
        self.name = name

    async def respond(self, scope: Scope) -> None:
        await self.send_start(200, [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-disposition", f'attachment; filename="{self.name}.txt"'.encode()),
            (b"cache-control", b"no-cache"),
        ])
        if scope["method"] != "HEAD":
            async for texts in self.batches():
                self.check_client()
                await self.send_body("".join(text + "\n" for text in texts).encode())
        await self.send_body(b"", more=False)

    def batches(self) -> AsyncIterator[list[str]]:
        raise NotImplementedError
