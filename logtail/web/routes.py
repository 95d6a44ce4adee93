"""HTTP routes: the dashboard page, the log list, the streams, health and metrics.

Parameters are validated before a stream starts, so a bad request gets a 4xx with a message naming the
parameter instead of a 200 with an empty stream. A log is looked up by name in the registry; no part of a
request is ever joined to a filesystem path.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any, get_args

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.types import Scope

from logtail import __version__
from logtail.core.frames import NoticeKind
from logtail.core.offloop import HEAVY
from logtail.match.levels import LEVELS
from logtail.sources.files.since import Start, since_start
from logtail.sources.files.table import LogEntry
from logtail.web.metrics import render
from logtail.web.query import LOG_PARAMETER, MAX_FIELDS, PARAMETERS, QueryError, check_stream, parse_filter
from logtail.web.state import AppState, state_of
from logtail.web.stream import LogStream, StreamOptions

# No length cap here: any name that is not in the table, however long, is an unknown log (404).
NAME_PATH = Path(description="Log name, as listed by /api/logs")
OVERFLOW_HELP = ("When this client reads slower than lines arrive and its queue is full: `catchup` (default) "
                 "serves it the lines it is behind on from memory and the files, at its pace, then live again, "
                 "none lost or repeated; `skip` drops newer lines until it drains, then sends a `gap` notice "
                 "with the number missed (for viewers that only want the latest lines)")


class LogInfo(BaseModel):
    name: str
    path: str
    size: int
    exists: bool
    mtime: float | None
    host: str | None = None  # the shipping host of a log NAME@HOST read from Redis; None for a local file


class FilterQuery:
    """The filter parameters of a search, by the streams' rules (`streamquery.parse_filter`); document them
    with `openapi_extra={"parameters": FILTER_PARAMETERS}` on the route."""

    def __init__(self, request: Request) -> None:
        query = request.query_params
        if len(query.multi_items()) > MAX_FIELDS:  # as for streams: refused, not truncated
            raise HTTPException(422, detail=f"query: more than {MAX_FIELDS} parameters")
        single = {name: query[name] for name in ("q", "regex", "ignore_case", "invert") if name in query}
        try:
            self.filter = parse_filter(single, query.getlist("level"), query.getlist("field"))
        except QueryError as exc:
            raise HTTPException(exc.status, detail=exc.detail) from None


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        st = state_of(request)
        return st.templates.TemplateResponse(request, "dashboard.html", {
            "root": request.scope.get("root_path", "").rstrip("/"),
            "logs": [info.model_dump() for info in _list_logs(request)],
            "levels": LEVELS,
            "page": {"max_lines": st.settings.page_max_lines, "heartbeat": st.settings.heartbeat,
                     "backlog": st.settings.backlog, "version": __version__,
                     "notice_kinds": get_args(NoticeKind)},
        })

    @router.get("/healthz", summary="Liveness check")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        return Response(render(state_of(request).metrics), media_type="text/plain; version=0.0.4")

    @router.get("/api/logs", summary="The logs that can be streamed")
    async def list_logs(request: Request) -> list[LogInfo]:
        return _list_logs(request)

    @router.get("/api/logs/{name}", summary="One log", responses={404: {"description": "Unknown log"}})
    async def get_log(request: Request, name: Annotated[str, NAME_PATH]) -> LogInfo:
        _require(request, [name])
        return next(info for info in _list_logs(request) if info.name == name)

    @router.get("/api/logs/{name}/stream", summary="Stream one log (SSE, text or NDJSON)",
                response_class=Response, response_model=None, responses=_STREAM_RESPONSES,
                openapi_extra={"parameters": PARAMETERS})
    async def stream_one(request: Request, name: Annotated[str, NAME_PATH]) -> Response:
        return await open_stream(state_of(request), request.scope, name)

    @router.get("/api/stream", summary="Stream several logs on one connection",
                response_class=Response, response_model=None, responses=_STREAM_RESPONSES,
                openapi_extra={"parameters": [LOG_PARAMETER, *PARAMETERS]})
    async def stream_many(request: Request) -> Response:
        return await open_stream(state_of(request), request.scope, None)

    return router


_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}, "text/plain": {}, "application/x-ndjson": {}},
          "description": "An endless stream of lines and notices"},
    400: {"description": "Invalid filter (e.g. a regex RE2 cannot compile, a malformed field)"},
    404: {"description": "Unknown log"},
    503: {"description": "Too many open streams; retry later"},
}


def unknown_log(name: str) -> str:
    return f"unknown log {name[:200]!r}"


def require_log(request: Request, name: str) -> LogEntry:
    """The local log named in a request; 404 if there is none of that name."""
    entry = state_of(request).registry.get(name)
    if entry is None:
        raise HTTPException(404, detail=unknown_log(name))
    return entry


def _require(request: Request, names: list[str]) -> None:
    st = state_of(request)
    for name in names:
        if not st.has_log(name):
            raise HTTPException(404, detail=unknown_log(name))


def _list_logs(request: Request) -> list[LogInfo]:
    infos = []
    state = state_of(request)
    for entry in state.registry:
        try:
            st = os.stat(entry.path)
            infos.append(LogInfo(name=entry.name, path=str(entry.path), size=st.st_size, exists=True,
                                 mtime=st.st_mtime))
        except OSError:
            infos.append(LogInfo(name=entry.name, path=str(entry.path), size=0, exists=False, mtime=None))
    for shipped in state.shipped or ():
        known = shipped.known
        infos.append(LogInfo(name=shipped.name, path=known.path, size=0, exists=True, mtime=known.last_seen,
                             host=known.host))
    return infos


async def open_stream(st: AppState, scope: Scope, path_name: str | None) -> Response:
    """The answer to a stream request, for the FastAPI routes and the shortcut alike: the stream, or the
    error that names what is wrong (parameters 4xx, unknown log 404, too many clients 503)."""
    header = dict(scope["headers"]).get(b"last-event-id")
    try:
        request = check_stream(scope["query_string"], header.decode("latin-1") if header else None, path_name,
                               st.settings, time.time())
        # Compiling user patterns can cost milliseconds each: never on the loop, within a budget per request,
        # at most one request per client at a time.
        params = await HEAVY.run(client_key(scope), request.build) if request.spec.has_patterns else request.build()
    except QueryError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    unknown = next((name for name in params.names if not st.has_log(name)), None)
    if unknown is not None:
        return JSONResponse({"detail": unknown_log(unknown)}, status_code=404)
    s = st.settings
    if st.hub.client_count >= s.max_clients:
        return JSONResponse({"detail": f"too many open streams (max_clients={s.max_clients}); retry later"},
                            status_code=503, headers={"Retry-After": "5"})
    if params.since is None:
        options = StreamOptions(params.filter, params.fmt, params.backlog, params.cursors, params.multi,
                                params.overflow)
        return make_stream(st, params.names, options)
    starts = await _since_starts(st, params.names, params.since, client_key(scope))
    cursors = {name: start.cursor for name, start in starts.items()}
    sibling_starts = frozenset(name for name, start in starts.items() if start.sibling_start)
    options = StreamOptions(params.filter, params.fmt, 0, cursors, params.multi, params.overflow, sibling_starts)
    return make_stream(st, params.names, options)


async def _since_starts(st: AppState, names: list[str], moment: float, client: str) -> dict[str, Start]:
    starts = {}
    for name in names:
        entry = st.registry.get(name)
        start = await since_start(st.hub.channel(name), entry.follower if entry else None, moment, client)
        if start is not None:
            starts[name] = start
    return starts


def make_stream(st: AppState, names: list[str], options: StreamOptions) -> LogStream:
    s = st.settings
    return LogStream(names, options, st.hub, st.registry, send_timeout=s.send_timeout, retry_ms=s.retry_ms,
                     queue_bytes=s.queue_bytes, resume_max_bytes=s.resume_max_bytes,
                     max_line_bytes=s.max_line_bytes, shipped=st.shipped)


def client_key(scope: Scope) -> str:
    """Whose heavy work this is, for the per-client limit of `offloop.HEAVY`: the peer's address."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
