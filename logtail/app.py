"""The composition root: `create_app(settings)` builds the hub, the log sources and the routes.

Nothing is created at import time; everything the app needs lives on `app.state.logtail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from logtail import __version__
from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.core.rawresponse import Transfers
from logtail.core.supervised import cancel_and_wait, supervised
from logtail.paths import resource_dir
from logtail.sources.base import Unavailable
from logtail.sources.catalog import build_sources
from logtail.web.fastpath import StreamFastPath
from logtail.web.gate import AccessGate
from logtail.web.history import build_history_router
from logtail.web.hosts import build_hosts_router
from logtail.web.keepalive import keep_alive
from logtail.web.metrics import build_registry
from logtail.web.middleware.auth import BasicAuth
from logtail.web.middleware.headers import SecurityHeaders
from logtail.web.middleware.proxy import AcceptPrefixedPaths
from logtail.web.middleware.proxyauth import PEER, ProxyHeaderAuth
from logtail.web.readiness import build_readiness_router
from logtail.web.routes import build_router, unavailable_response
from logtail.web.state import AppState
from logtail.web.stream import SERVER_SEND

if TYPE_CHECKING:
    from logtail.watches.engine import WatchEngine


class LogtailApp(FastAPI):
    """FastAPI, plus the server's own `send` kept in each request's scope for streams (stream.SERVER_SEND)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[SERVER_SEND] = send
            # The connection's own peer, before X-Forwarded-For replaces `client`: a proxy's user header is
            # believed only from a trusted peer (middleware/proxyauth.py), whoever the proxy says it serves.
            scope[PEER] = scope.get("client")
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    hub = Hub(settings.window_lines, settings.queue_bytes, settings.window_total_lines)
    sources = build_sources(settings, hub)
    state = AppState(
        settings=settings,
        hub=hub,
        sources=sources,
        templates=Jinja2Templates(directory=str(resource_dir("templates"))),
        metrics=build_registry(hub),
        transfers=Transfers(settings.send_timeout),
    )
    for collector in sources.collectors():
        state.metrics.register(collector)
    watches = _watch_engine(state) if settings.watches else None
    state.access = AccessGate.build(settings, state.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        work = {"sources": sources.run(), "keep-alive": keep_alive(hub, state.transfers, settings.heartbeat)}
        if watches is not None:
            work["watches"] = watches.run()
        tasks = [asyncio.create_task(supervised(run, name, state.stopped), name=name) for name, run in work.items()]
        reloading = _reload_on_sighup(state, settings, tasks)
        try:
            yield
        finally:
            if reloading:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            state.shutdown_streams()
            await cancel_and_wait(tasks)
            if watches is not None:
                await watches.close()
            await sources.close()

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
    app.state.watches = watches  # the watch routes' engine (logtail.watches.routes)
    app.add_exception_handler(Unavailable, unavailable_response)
    app.include_router(build_router())
    app.include_router(build_history_router())
    app.include_router(build_readiness_router())
    app.include_router(build_hosts_router())
    if settings.watches:
        from logtail.watches.routes import build_watch_router

        app.include_router(build_watch_router())
    app.mount("/static", StaticFiles(directory=str(resource_dir("static"))), name="static")
    app.add_middleware(StreamFastPath, state=state)  # innermost: after auth, prefix and headers
    app.add_middleware(SecurityHeaders, no_store=bool(settings.auth))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET"],
                           allow_headers=["Last-Event-ID"], allow_credentials=False)
    if state.access.control.basic:
        app.add_middleware(BasicAuth, users=state.access.control.users)
    if settings.auth_proxy_header:
        app.add_middleware(ProxyHeaderAuth, header=settings.auth_proxy_header,
                           groups_header=settings.auth_proxy_groups_header, trusted=settings.forwarded_allow_ips)
    app.add_middleware(AcceptPrefixedPaths)  # auth and routes see one form of the path
    # Outermost: X-Forwarded-* from --forwarded-allow-ips, applied here rather than by uvicorn so that the
    # connection's peer is recorded first (LogtailApp); server.py turns uvicorn's own off.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app


def _watch_engine(state: AppState) -> WatchEngine:
    # Imported only when watches are configured: a server without them loads none of it (nor httpx).
    from logtail.sources.redis.client import connect
    from logtail.watches.engine import WatchEngine
    from logtail.watches.metrics import WatchCollector

    # Alerts are claimed in Redis so that, of several nodes, one sends each (coordination.py).
    redis = connect(state.settings.redis) if state.settings.redis else None
    engine = WatchEngine(state.settings, state.hub, state.sources, redis=redis)
    state.metrics.register(WatchCollector(engine))
    return engine


def _reload_on_sighup(state: AppState, settings: Settings, tasks: list[asyncio.Task[None]]) -> bool:
    """SIGHUP reads the users and the [access] rules again (web/gate.py); False where no handler can be set
    (not the main thread: an app run inside a test)."""
    loop = asyncio.get_running_loop()

    def reload() -> None:
        tasks.append(loop.create_task(state.access.reload(settings), name="reload"))

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, reload)
        return True
    return False
