"""The stream shortcut and FastAPI's routes answer every stream request alike.

The same generated requests go through the whole app (where `StreamFastPath` answers stream paths) and
through what lies behind the shortcut (FastAPI's routing and routes), in-process on one event loop with the
app's lifespan running; status, content type and error body must be the same.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Message

from logtail.app import create_app
from logtail.config import LogSource, Settings
from logtail.web.fastpath import StreamFastPath, stream_log

Answer = tuple[int, str, Any]


class Harness:
    """The app with its lifespan running on an event loop in a thread of its own."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.routes = behind_shortcut(app)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        async with self.app.router.lifespan_context(self.app):
            while "app.log" not in self.app.state.logtail.registry:
                await asyncio.sleep(0.01)
            self.ready.set()
            await self.stop.wait()

    def ask(self, target: ASGIApp, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> Answer:
        future = asyncio.run_coroutine_threadsafe(answer(self.app, target, path, query, headers), self.loop)
        return future.result(10)


def behind_shortcut(app: FastAPI) -> ASGIApp:
    """The app below `StreamFastPath` in the middleware stack: FastAPI's own handling of every request."""
    app.middleware_stack = app.middleware_stack or app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while not isinstance(layer, StreamFastPath):
        layer = layer.app
    return layer.app  # type: ignore[no-any-return]


async def answer(app: FastAPI, target: ASGIApp, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> Answer:
    """Status, content type and (for an error) the JSON body; a stream is left after its first bytes."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
             "headers": headers, "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "app": app}
    messages: list[Message] = []
    answered = asyncio.Event()
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)
        # A stream may send no body for a while (no backlog, no new line): its start is answer enough.
        if message["type"] == "http.response.body" or message.get("status") == 200:
            answered.set()

    async with asyncio.timeout(5):
        await target(scope, receive, send)
    start = messages[0]
    content_type = dict(start["headers"]).get(b"content-type", b"").decode()
    if start["status"] == 200:
        return 200, content_type, None
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], content_type, json.loads(body)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp("fastpath")
    (tmp / "app.log").write_text("".join(f"line {i}\n" for i in range(30)))
    app = create_app(Settings(sources=(LogSource("app.log", tmp / "app.log"), LogSource("b", tmp / "b.log")),
                              window_lines=100, max_clients=10_000))
    h = Harness(app)
    h.thread.start()
    assert h.ready.wait(10)
    try:
        yield h
    finally:
        assert h.stop is not None
        h.loop.call_soon_threadsafe(h.stop.set)
        h.thread.join(10)


KEYS = ["backlog", "q", "regex", "ignore_case", "invert", "level", "field", "format", "last_event_id", "overflow",
        "log", "other"]
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "5", "100", "101", "100001", "-1", "abc", " 7 ", "yes", "maybe", "TRUE", "Off",
                     "sse", "text", "ndjson", "xml", "error", "warn,info", "loud", "(", "a+", "app.log", "b", "nope",
                     "app.log=0123456789ab:5", "x" * 1001, "é", "%", "\x00", "skip", "catchup", "SKIP",
                     "status>=500", "user:alice", "a~(", "n>=x"]),
    st.text(max_size=8),
)
QUERIES = st.one_of(
    st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6),
    st.integers(190, 210).map(lambda n: [("log", f"l{i}") for i in range(n)]),  # around the 200-log limit
)


@settings(max_examples=150, deadline=None)
@given(pairs=QUERIES, multi=st.booleans(), header=st.none() | st.sampled_from(["app.log=0123456789ab:5", "junk"]),
       known_log=st.booleans())
def test_shortcut_and_routes_answer_alike(harness: Harness, pairs: list[tuple[str, str]], multi: bool,
                                          header: str | None, known_log: bool) -> None:
    path = "/api/stream" if multi else "/api/logs/app.log/stream"
    if multi and known_log:
        pairs = [("log", "app.log"), *pairs]  # most requests name a log that exists
    headers = [] if header is None else [(b"last-event-id", header.encode())]
    query = urlencode(pairs)
    shortcut = harness.ask(harness.app, path, query, headers)
    routes = harness.ask(harness.routes, path, query, headers)
    assert shortcut == routes
    status, _, body = shortcut
    if status != 200:
        assert 400 <= status < 500 and isinstance(body["detail"], str), shortcut


@pytest.mark.parametrize("count", [200, 201, 300])
def test_more_than_200_logs_are_refused_by_both(harness: Harness, count: int) -> None:
    """Regression: 201 to 300 `log=` values got a stream from the shortcut and 422 from FastAPI."""
    query = urlencode([("log", "app.log")] * count + [("log", f"l{i}") for i in range(count - 1)])
    for target in (harness.app, harness.routes):
        status, _, body = harness.ask(target, "/api/stream", query, [])
        assert (status, body["detail"]) == ((404, "unknown log 'l0'") if count <= 200
                                            else (422, "log: at most 200 logs on one stream"))


def test_a_parameter_of_the_routes_is_never_skipped_by_the_shortcut(harness: Harness) -> None:
    """Regression: the shortcut skipped parameters it did not know; a bad value of one must fail both."""
    for target in (harness.app, harness.routes):
        assert harness.ask(target, "/api/logs/app.log/stream", "backlog=1&invert=maybe", [])[:2] == (
            422, "application/json")


@pytest.mark.parametrize(("path", "name"), [
    ("/api/logs/app.log/stream", "app.log"), ("/api/logs/a%20b/stream", "a%20b"), ("/api/logs//stream", None),
    ("/api/logs/a/b/stream", None), ("/api/logs/stream", None), ("/api/logs/app.log/streams", None),
])
def test_stream_paths(path: str, name: str | None) -> None:
    assert stream_log(path) == name
