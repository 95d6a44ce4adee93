"""A shortcut for stream requests past FastAPI's routing, for memory per connection.

A stream lives for hours, and everything on its call stack lives with it: through FastAPI that is the
router, the route, the dependency solver's `AsyncExitStack` and the exception middleware, several KB per
idle connection (with this shortcut, 2,000 idle clients cost 16.7 KB each: `bench/bench.py --scenario
idle-10000 --clients 2000`). This middleware answers every GET of a
stream path itself with `routes.open_stream`, exactly what the FastAPI routes answer (the same parser,
`streamquery`, the same checks and errors); the routes remain for the OpenAPI schema and for other methods.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from logtail.web.middleware.proxy import route_path
from logtail.web.routes import open_stream
from logtail.web.state import AppState

_PREFIX, _SUFFIX = "/api/logs/", "/stream"


class StreamFastPath:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = route_path(scope)
            if path == "/api/stream":
                await (await open_stream(self.state, scope, None))(scope, receive, send)
                return
            name = stream_log(path)
            if name is not None:
                await (await open_stream(self.state, scope, name))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def stream_log(path: str) -> str | None:
    """The log name in `/api/logs/{name}/stream` as FastAPI's route reads it, or None for another path."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX) and len(path) > len(_PREFIX) + len(_SUFFIX):
        name = path[len(_PREFIX):-len(_SUFFIX)]
        return name if "/" not in name else None
    return None
