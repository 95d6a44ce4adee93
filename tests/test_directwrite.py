"""Direct writes to a stream's transport, against a real uvicorn server and real sockets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import Message, Receive, Scope, Send

from logtail.core.directwrite import DirectWriter, direct_writer

from .support import free_port

REQUEST = b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Probe:
    """An ASGI app that starts a response, hands out its direct writer, and ends with one ASGI body."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.writer: asyncio.Future[DirectWriter | None] = loop.create_future()
        self.finish = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        self.writer.set_result(direct_writer(send))
        await self.finish.wait()
        await send({"type": "http.response.body", "body": b"world\n", "more_body": False})


@asynccontextmanager
async def serving(app: Probe, http: str = "httptools") -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, lifespan="off", log_level="warning",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.01)
        yield port
    finally:
        app.finish.set()
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def test_a_direct_write_is_framed_as_uvicorn_frames_a_body_chunk_and_keeps_its_place() -> None:
    app = Probe()
    async with serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        direct = await asyncio.wait_for(app.writer, 30)
        assert direct is not None
        assert direct.write(b"hello\n")
        assert direct.write(b"")  # nothing to write is no chunk (an empty chunk would end the body)
        app.finish.set()
        async with asyncio.timeout(30):
            response = await reader.readuntil(b"0\r\n\r\n")
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\n\r\n"


async def test_a_client_that_stops_reading_gets_no_direct_writes_and_neither_does_one_that_left() -> None:
    """Backpressure stays the stream writer's: once the transport is paused (the client's socket is full),
    direct writes are refused, so the queue, catch-up and the send timeout take over."""
    app = Probe()
    async with serving(app) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)  # and never read
        direct = await asyncio.wait_for(app.writer, 30)
        assert direct is not None
        chunk = b"x" * 65536
        accepted = 0
        while accepted < 2000 and direct.write(chunk):  # at most 128 MB: far beyond any socket's buffers
            accepted += 1
        assert accepted < 2000
        writer.close()
        async with asyncio.timeout(30):
            while not direct.cycle.disconnected:
                await asyncio.sleep(0.01)
        assert not direct.write(b"late\n")


async def test_no_direct_writer_where_only_asgi_sends_are_known_to_be_safe() -> None:
    app = Probe()
    async with serving(app, http="h11") as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        assert await asyncio.wait_for(app.writer, 30) is None  # h11 keeps its own state per message
        writer.close()

    async def wrapped(message: Message) -> None:  # e.g. a middleware's send wrapper
        pass

    assert direct_writer(wrapped) is None
