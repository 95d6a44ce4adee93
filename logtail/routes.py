"""HTTP routes: the dashboard page, the log list, the streams, health and metrics.

Parameters are validated before a stream starts, so a bad request gets a 4xx with a message naming the
parameter instead of a 200 with an empty stream. A log is looked up by name in the registry; no part of a
request is ever joined to a filesystem path.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from . import __version__
from .cursor import parse_cursors
from .fields import FIELD_HELP, parse_field_filters
from .filters import FilterError, LineFilter
from .metrics import render
from .since import Start, since_start
from .state import AppState, state_of
from .stream import LogStream, StreamOptions
from .subscription import Overflow
from .timestamps import SINCE_HELP, parse_since

MAX_BACKLOG = 100_000
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
    """The filter parameters shared by the streams and the search, checked before anything starts."""

    def __init__(
        self,
        q: Annotated[str, Query(max_length=1000, description="Only lines containing this substring")] = "",
        regex: Annotated[str, Query(max_length=1000, description="Only lines matching this RE2 pattern")] = "",
        ignore_case: Annotated[bool, Query(description="Case-insensitive q and regex")] = False,
        invert: Annotated[bool, Query(description="Only lines that do NOT match q/regex")] = False,
        level: Annotated[list[str], Query(description="Only these levels: error, warn, info, debug "
                                                      "(repeat or comma-separate)")] = [],  # noqa: B006
        field: Annotated[list[str], Query(description=FIELD_HELP)] = [],  # noqa: B006
    ) -> None:
        levels = frozenset(v.strip().lower() for item in level for v in item.split(",") if v.strip())
        try:
            self.filter = LineFilter(q, regex, ignore_case, invert, levels, parse_field_filters(field))
        except FilterError as exc:
            raise HTTPException(400, detail=str(exc)) from None


class StreamQuery:
    """Query parameters of both stream endpoints, checked before the stream starts."""

    def __init__(
        self,
        filters: Annotated[FilterQuery, Depends()],
        backlog: Annotated[int | None, Query(ge=0, le=MAX_BACKLOG,
                                             description="Last N complete lines first (default 10)")] = None,
        format: Annotated[Literal["sse", "text", "ndjson"], Query(description="Wire format")] = "sse",
        last_event_id: Annotated[str | None, Query(max_length=65536,
                                                   description="Resume after this event id")] = None,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
        since: Annotated[str | None, Query(max_length=64, description=SINCE_HELP)] = None,
        overflow: Annotated[Overflow, Query(description=OVERFLOW_HELP)] = "catchup",
    ) -> None:
        self.filter = filters.filter
        self.backlog = backlog
        self.format = format
        # The header wins: browsers send it only on their own reconnect, so it is newer than any id that
        # was written into the URL when the stream was first opened.
        self.cursors = parse_cursors(last_event_id_header or last_event_id)
        self.overflow = overflow
        self.since: float | None = None
        # A reconnect carries an id: it resumes from there and must not replay from `since` again.
        if since is not None and not self.cursors:
            try:
                self.since = parse_since(since.strip(), time.time())
            except ValueError as exc:
                raise HTTPException(422, detail=str(exc)) from None


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        st = state_of(request)
        return st.templates.TemplateResponse(request, "dashboard.html", {
            "root": request.scope.get("root_path", "").rstrip("/"),
            "logs": [info.model_dump() for info in _list_logs(request)],
            "page": {"max_lines": st.settings.page_max_lines, "heartbeat": st.settings.heartbeat,
                     "version": __version__},
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
                response_class=Response, response_model=None, responses=_STREAM_RESPONSES)
    async def stream_one(request: Request, name: Annotated[str, NAME_PATH],
                         params: Annotated[StreamQuery, Depends()]) -> Response:
        _require(request, [name])
        return await _open_stream(request, [name], params, multi=False)

    @router.get("/api/stream", summary="Stream several logs on one connection",
                response_class=Response, response_model=None, responses=_STREAM_RESPONSES)
    async def stream_many(request: Request, params: Annotated[StreamQuery, Depends()],
                          log: Annotated[list[str], Query(description="Log names (repeat)", max_length=200)]
                          ) -> Response:
        names = list(dict.fromkeys(log))  # keep order, drop repeats
        if not names:
            raise HTTPException(422, detail="log: give at least one log name")
        _require(request, names)
        return await _open_stream(request, names, params, multi=True)

    return router


_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}, "text/plain": {}, "application/x-ndjson": {}},
          "description": "An endless stream of lines and notices"},
    400: {"description": "Invalid filter (e.g. a regex RE2 cannot compile, a malformed field)"},
    404: {"description": "Unknown log"},
    503: {"description": "Too many open streams; retry later"},
}


def _require(request: Request, names: list[str]) -> None:
    st = state_of(request)
    for name in names:
        if not st.has_log(name):
            raise HTTPException(404, detail=f"unknown log {name[:200]!r}")


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


async def _open_stream(request: Request, names: list[str], params: StreamQuery, multi: bool) -> Response:
    st = state_of(request)
    s = st.settings
    if st.hub.client_count >= s.max_clients:
        return JSONResponse({"detail": f"too many open streams (max_clients={s.max_clients}); retry later"},
                            status_code=503, headers={"Retry-After": "5"})
    if params.backlog is not None and params.backlog > s.window_lines:
        raise HTTPException(422, detail=f"backlog: at most {s.window_lines} (the retained window)")
    backlog = min(s.backlog, s.window_lines) if params.backlog is None else params.backlog
    if params.since is None:
        return make_stream(st, names, StreamOptions(params.filter, params.format, backlog, params.cursors, multi,
                                                    params.overflow))
    starts = await _since_starts(st, names, params.since)
    cursors = {name: start.cursor for name, start in starts.items()}
    sibling_starts = frozenset(name for name, start in starts.items() if start.sibling_start)
    return make_stream(st, names, StreamOptions(params.filter, params.format, 0, cursors, multi, params.overflow,
                                                sibling_starts))


async def _since_starts(st: AppState, names: list[str], moment: float) -> dict[str, Start]:
    starts = {}
    for name in names:
        entry = st.registry.get(name)
        start = await since_start(st.hub.channel(name), entry.follower if entry else None, moment)
        if start is not None:
            starts[name] = start
    return starts


def make_stream(st: AppState, names: list[str], options: StreamOptions) -> LogStream:
    s = st.settings
    return LogStream(names, options, st.hub, st.registry, send_timeout=s.send_timeout, retry_ms=s.retry_ms,
                     queue_bytes=s.queue_bytes, resume_max_bytes=s.resume_max_bytes,
                     max_line_bytes=s.max_line_bytes, shipped=st.shipped)
