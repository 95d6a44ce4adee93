"""The composition root: `create_app(settings)` builds the hub, the log table, the watcher and the routes.

Nothing is created at import time; everything the app needs lives on `app.state.logtail`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from logtail import __version__
from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.core.rawresponse import Transfers
from logtail.paths import resource_dir
from logtail.ship.metrics import OutageCollector
from logtail.sources.files.table import LogRegistry
from logtail.sources.files.watch import watch
from logtail.sources.redis.node import RedisNode
from logtail.web.fastpath import StreamFastPath
from logtail.web.history import build_history_router
from logtail.web.keepalive import keep_alive
from logtail.web.metrics import build_registry
from logtail.web.middleware.auth import BasicAuth
from logtail.web.middleware.headers import SecurityHeaders
from logtail.web.middleware.proxy import AcceptPrefixedPaths
from logtail.web.routes import build_router
from logtail.web.state import AppState
from logtail.web.stream import SERVER_SEND


class LogtailApp(FastAPI):
    """FastAPI, plus the server's own `send` kept in each request's scope for streams (stream.SERVER_SEND)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[SERVER_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    hub = Hub(settings.window_lines, settings.queue_bytes)
    registry = LogRegistry(settings, hub)
    node = RedisNode(settings, hub) if settings.redis else None
    state = AppState(
        settings=settings,
        hub=hub,
        registry=registry,
        templates=Jinja2Templates(directory=str(resource_dir("templates"))),
        metrics=build_registry(hub),
        transfers=Transfers(settings.send_timeout),
        shipped=node.shipped if node else None,
    )
    if node is not None:
        reader = node.reader
        state.metrics.register(OutageCollector(reader.outage, lambda: reader.malformed))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(registry.run(), name="logs"),
            asyncio.create_task(watch(registry, settings.watcher, settings.poll_interval), name="watch"),
            asyncio.create_task(keep_alive(hub, state.transfers, settings.heartbeat), name="keep-alive"),
        ]
        if node is not None:
            tasks.append(asyncio.create_task(node.reader.run(), name="redis"))
        try:
            yield
        finally:
            state.shutdown_streams()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            registry.close()
            if node is not None:
                await node.close()

    app = LogtailApp(
        title="logtail",
        version=__version__,
        description="Follow log files like `tail -F` and stream new lines over Server-Sent Events.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN with inline code, which the CSP forbids (and a
        # log viewer should not fetch code from elsewhere): only the schema, /openapi.json, is served.
        docs_url=None,
        redoc_url=None,
    )
    app.state.logtail = state
    app.include_router(build_router())
    app.include_router(build_history_router())
    app.mount("/static", StaticFiles(directory=str(resource_dir("static"))), name="static")
    app.add_middleware(StreamFastPath, state=state)  # innermost: after auth, prefix and headers
    app.add_middleware(SecurityHeaders, no_store=bool(settings.auth))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET"],
                           allow_headers=["Last-Event-ID"], allow_credentials=False)
    if settings.auth:
        app.add_middleware(BasicAuth, credentials=settings.auth)
    app.add_middleware(AcceptPrefixedPaths)  # outermost: auth and routes see one form of the path
    return app
