"""HTTP routes: the dashboard page, the log list, the streams, health and metrics.

Parameters are validated before a stream starts, so a bad request gets a 4xx with a message naming the
parameter instead of a 200 with an empty stream. A log is looked up by name among the sources (`sources.base.Source`);
no part of a request is ever joined to a filesystem path.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, get_args

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.types import Scope

from logtail import __version__
from logtail.core.frames import NoticeKind
from logtail.core.offloop import HEAVY
from logtail.match.fields import LOGFMT_PAIR, OPERATORS
from logtail.match.filters import LineFilter
from logtail.match.levels import LEVELS
from logtail.sources.base import Source, Start, Unavailable
from logtail.web.access import first_unreadable, identity, readable, require_readable, unknown_log
from logtail.web.metrics import render
from logtail.web.query import LOG_PARAMETER, MAX_FIELDS, PARAMETERS, FilterSpec, QueryError, check_stream, filter_spec
from logtail.web.state import AppState, state_of
from logtail.web.stream import LogStream, StreamOptions

# No length cap here: any name that is not in the table, however long, is an unknown log (404).
NAME_PATH = Path(description="Log name, as listed by /api/logs")


class LogInfo(BaseModel):
    name: str
    path: str
    size: int
    exists: bool
    mtime: float | None
    host: str | None = None  # the shipping host of a log NAME@HOST read from Redis; None for a local file


async def filter_query(request: Request) -> LineFilter:
    """The filter parameters of a search, by the streams' rules and at their cost: checked on the loop,
    compiled as `compiled` says. Document them with `openapi_extra={"parameters": FILTER_PARAMETERS}`."""
    query = request.query_params
    if len(query.multi_items()) > MAX_FIELDS:  # as for streams: refused, not truncated
        raise HTTPException(422, detail=f"query: more than {MAX_FIELDS} parameters")
    single = {name: query[name] for name in ("q", "regex", "ignore_case", "invert") if name in query}
    try:
        return await compiled(filter_spec(single, query.getlist("level"), query.getlist("field")), request.scope)
    except QueryError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None


async def compiled(spec: FilterSpec, scope: Scope) -> LineFilter:
    """`spec`'s filter. Compiling user patterns can cost milliseconds each: never on the loop, within a
    budget per request (`FilterSpec.build`), in the heavy pool, one request at a time per client."""
    return await HEAVY.run(client_key(scope), spec.build) if spec.has_patterns else spec.build()


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        st = state_of(request)
        who = identity(request.scope)
        return st.templates.TemplateResponse(request, "dashboard.html", {
            "root": request.scope.get("root_path", "").rstrip("/"),
            "user": who.name if who else None,
            "user_hint": ("signed in through the proxy: sign out there" if who and who.via_proxy
                          else "signed in with a password: close the browser to sign out"),
            "sign_out": st.settings.auth_proxy_sign_out if who and who.via_proxy else None,
            "logs": [info.model_dump() for info in await _list_logs(request)],
            "levels": LEVELS,
            "page": {"max_lines": st.settings.page_max_lines, "heartbeat": st.settings.heartbeat,
                     "backlog": st.settings.backlog, "version": __version__,
                     "notice_kinds": get_args(NoticeKind),
                     # Without watches the page asks for none (a 404 would be an error in its console).
                     "watches": getattr(request.app.state, "watches", None) is not None,
                     "field_grammar": {"logfmtPair": LOGFMT_PAIR, "operators": OPERATORS}},
        })

    @router.get("/healthz", summary="Liveness check")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        if not state_of(request).access.control.may_read_metrics(identity(request.scope)):
            raise HTTPException(403, detail="metrics are open to the users of --metrics-users only")
        return Response(render(state_of(request).metrics), media_type="text/plain; version=0.0.4")

    @router.get("/api/logs", summary="The logs that can be streamed")
    async def list_logs(request: Request) -> list[LogInfo]:
        return await _list_logs(request)

    @router.get("/api/logs/{name}", summary="One log", responses={404: {"description": "Unknown log"}})
    async def get_log(request: Request, name: Annotated[str, NAME_PATH]) -> LogInfo:
        _require(request, [name])
        require_readable(request, [name])
        return next(info for info in await _list_logs(request) if info.name == name)

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


async def unavailable_response(request: Request, exc: Exception) -> Response:
    """What a route answers when its source cannot do what it asked (`Unavailable`, raised out of the route): the
    status and message the source gave (the app's handler for it)."""
    assert isinstance(exc, Unavailable)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


def require_source(request: Request, name: str) -> Source:
    """The source of the log named in a request; 404 if there is none of that name (or the user may not read it)."""
    source = state_of(request).sources.find(name)
    if source is None or not readable(request, name):
        raise HTTPException(404, detail=unknown_log(name))
    return source


def _require(request: Request, names: list[str]) -> None:
    st = state_of(request)
    for name in names:
        if not st.has_log(name):
            raise HTTPException(404, detail=unknown_log(name))


async def _list_logs(request: Request) -> list[LogInfo]:
    return [LogInfo(name=x.name, path=x.path, size=x.size, exists=x.exists, mtime=x.mtime, host=x.host)
            for x in await state_of(request).sources.logs() if readable(request, x.name)]


async def open_stream(st: AppState, scope: Scope, path_name: str | None) -> Response:
    """The answer to a stream request, for the FastAPI routes and the shortcut alike: the stream, or the
    error that names what is wrong (parameters 4xx, unknown log 404, too many clients 503)."""
    header = dict(scope["headers"]).get(b"last-event-id")
    try:
        request = check_stream(scope["query_string"], header.decode("latin-1") if header else None, path_name,
                               st.settings, time.time())
        params = request.build(await compiled(request.spec, scope))
    except QueryError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    unknown = next((name for name in params.names if not st.has_log(name)), None)
    unknown = unknown or first_unreadable(st.access.control, scope, params.names)  # exactly as if unknown
    if unknown is not None:
        return JSONResponse({"detail": unknown_log(unknown)}, status_code=404)
    s = st.settings
    if st.hub.client_count >= s.max_clients:
        return JSONResponse({"detail": f"too many open streams (max_clients={s.max_clients}); retry later"},
                            status_code=503, headers={"Retry-After": "5"})
    st.access.audit.record(scope, "stream", params.names)
    await st.sources.started(params.names)
    if params.since is None:
        options = StreamOptions(params.filter, params.fmt, params.backlog, params.cursors, params.multi,
                                params.overflow)
        return st.access.guard(make_stream(st, params.names, options), scope)
    try:
        starts = await _since_starts(st, params.names, params.since, client_key(scope))
    except Unavailable as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    cursors = {name: start.cursor for name, start in starts.items()}
    sibling_starts = frozenset(name for name, start in starts.items() if start.sibling_start)
    options = StreamOptions(params.filter, params.fmt, 0, cursors, params.multi, params.overflow, sibling_starts)
    return st.access.guard(make_stream(st, params.names, options), scope)


async def _since_starts(st: AppState, names: list[str], moment: float, client: str) -> dict[str, Start]:
    starts = {}
    for name in names:
        source = st.sources.find(name)
        start = None if source is None else await source.since(st.hub.channel(name), moment, client)
        if start is not None:
            starts[name] = start
    return starts


def make_stream(st: AppState, names: list[str], options: StreamOptions) -> LogStream:
    s = st.settings
    return LogStream(names, options, st.hub, st.sources, send_timeout=s.send_timeout, retry_ms=s.retry_ms,
                     queue_bytes=s.queue_bytes)


def client_key(scope: Scope) -> str:
    """Whose heavy work this is, for the per-client limit of `offloop.HEAVY`: the peer's address."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
