"""The raw responses' shared base: a download or search whose client stops reading is ended by the ticker."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Scope

from logtail.core.fileresponse import FileStreamResponse
from logtail.core.hub import Hub
from logtail.core.rawresponse import Transfers
from logtail.web.keepalive import tick


class Blocks(FileStreamResponse):
    async def respond(self, scope: Scope) -> None:
        await self.send_start(200, [(b"content-type", b"text/plain")])
        await self.send_body(b"never read")


async def test_a_transfer_stuck_in_a_send_is_registered_and_ended_by_the_ticker() -> None:
    transfers = Transfers(send_timeout=10.0)
    sent: list[Message] = []
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await never  # the client's window stays shut

    async def receive() -> Message:
        await asyncio.get_running_loop().create_future()  # no disconnect either
        raise AssertionError("unreachable")

    response = Blocks(transfers)
    task = asyncio.create_task(response({"type": "http"}, receive, send))
    while len(sent) < 2:
        await asyncio.sleep(0)
    assert transfers.senders == {response.sender}
    now = asyncio.get_running_loop().time()
    tick(Hub(10, 1 << 20), now + 5, 15.0, 10.0, 1.0, transfers.senders)
    assert not task.done()
    tick(Hub(10, 1 << 20), now + 11, 15.0, 10.0, 1.0, transfers.senders)
    await asyncio.wait_for(task, 5)  # ended quietly: the client is gone, not an error
    assert transfers.senders == set()
