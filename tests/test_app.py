"""The composition root's own piece of plumbing: the server's `send`, kept for streams past the middlewares."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from logtail.app import LogtailApp
from logtail.web.middleware.headers import SecurityHeaders
from logtail.web.stream import SERVER_SEND


async def test_a_stream_body_can_skip_the_send_wrappers_its_start_went_through() -> None:
    """The start passes every middleware (their headers are added once); the body chunks sent through
    scope[SERVER_SEND] reach the server unwrapped and in order."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        direct = scope[SERVER_SEND]
        assert direct is not send  # there is a wrapper to skip
        await direct({"type": "http.response.body", "body": b"a", "more_body": True})
        await direct({"type": "http.response.body", "body": b"", "more_body": False})

    app = LogtailApp(routes=[Mount("/s", app=endpoint)])
    app.add_middleware(SecurityHeaders)
    sent: list[Message] = []

    async def server_send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: Scope = {"type": "http", "method": "GET", "path": "/s/x", "raw_path": b"/s/x", "query_string": b"",
                    "headers": [], "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80),
                    "asgi": {"version": "3.0"}, "http_version": "1.1"}
    await app(scope, receive, server_send)
    start, *body = sent
    assert dict(start["headers"])[b"x-frame-options"] == b"DENY"
    assert [m["body"] for m in body] == [b"a", b""]
