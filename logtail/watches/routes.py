"""HTTP routes of the watches: the list, a watch's per-minute counts, a test alert, its live view, and the
lines per log and level the engine counts (the page's volume bars).

A watch's live view is `/api/stream` with the watch's logs and filter: the query is built here and the
request is answered by the streams' own `open_stream`, with every stream parameter the client adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from logtail.config import ConfigError
from logtail.watches.counter import Alert
from logtail.watches.engine import WatchEngine
from logtail.watches.spec import MAX_WINDOW, parse_duration
from logtail.web.access import readable
from logtail.web.query import PARAMETERS
from logtail.web.routes import open_stream
from logtail.web.state import AppState, state_of

WATCH_PATH = Path(description="Watch name, as listed by /api/watches")
_FILTER_KEYS = {"q", "regex", "ignore_case", "invert", "level", "field", "log"}


def _engine(request: Request) -> WatchEngine:
    engine: WatchEngine | None = getattr(request.app.state, "watches", None)
    if engine is None:
        raise HTTPException(404, detail="no watches are configured")
    return engine


def _watch(request: Request, name: str) -> WatchEngine:
    """The engine, if `name` is a watch the request's user may see; else 404, as for an unknown watch."""
    engine = _engine(request)
    if name not in engine.specs or not _may_see(request, engine, name):
        raise HTTPException(404, detail=f"unknown watch {name[:200]!r}")
    return engine


def _may_see(request: Request, engine: WatchEngine, name: str) -> bool:
    """A watch is the user's to see when they may read every log it covers now: like a multi-log stream, its
    live view is refused whole for one log they may not read, and its name, filter and counts tell of those
    logs too. A watch that covers no log now (its host gone, or not shipping yet) may have counted lines of
    logs the user may not read: only a user who may read every log sees it."""
    spec, names = engine.specs[name], _log_names(state_of(request))
    covered = [log for log in names if spec.covers(log)]
    return all(readable(request, log) for log in covered or names)


def describe(engine: WatchEngine, name: str, now: float,
             visible: Callable[[str], bool] = lambda log: True) -> dict[str, Any]:
    """A watch as /api/watches shows it; an alert's lines only of the logs `visible` (the user may read)."""
    spec, counter = engine.specs[name], engine.counters[name]
    last = engine.last_alert.get(name)

    def _summary(alert: Alert) -> dict[str, Any]:
        lines = [line for line in alert.lines if visible(str(line.get("log", "")))]
        return {"id": alert.id, "at": alert.at, "count": alert.count, "lines": lines}

    return {
        "name": name, "logs": list(spec.logs), "filter": dict(_pairs(spec.query)),
        "threshold": spec.threshold, "window": spec.window, "cooldown": spec.cooldown, "notify": list(spec.notify),
        "matches": counter.total, "state": counter.state(now),
        "last_alert": None if last is None else _summary(last),
        "recent_alerts": [_summary(alert) for alert in engine.recent_alerts[name]],
        "last_error": engine.error_of(name),
    }



def _pairs(query: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in query:
        if key in ("level", "field"):
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


def _duration(name: str, value: str) -> float:
    try:
        seconds = parse_duration(value, name)
    except ConfigError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    if not 0 < seconds <= MAX_WINDOW:
        raise HTTPException(422, detail=f"{name}: must be longer than 0s and at most 1d")
    return seconds


def build_watch_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/watches", summary="The watches, their counts and states")
    async def list_watches(request: Request) -> list[dict[str, Any]]:
        engine: WatchEngine | None = getattr(request.app.state, "watches", None)
        now = time.time()
        visible = partial(readable, request)
        return [] if engine is None else [describe(engine, name, now, visible) for name in engine.specs
                                           if _may_see(request, engine, name)]

    @router.get("/api/levels", summary="Lines published per log and level since start (the page's volume bars)",
                responses={404: {"description": "No watches are configured (lines are counted only with them)"}})
    async def levels(request: Request) -> dict[str, Any]:
        engine = _engine(request)
        return {"at": time.time(),
                "logs": {name: {level or "none": count for level, count in list(by_level.items())}
                         for name, by_level in list(engine.lines_by_level.items()) if readable(request, name)}}

    @router.get("/api/watches/{name}", summary="One watch", responses={404: {"description": "Unknown watch"}})
    async def get_watch(request: Request, name: Annotated[str, WATCH_PATH]) -> dict[str, Any]:
        return describe(_watch(request, name), name, time.time(), partial(readable, request))

    @router.get("/api/watches/{name}/counts", summary="Matches per step (the series behind the sparkline)",
                responses={404: {"description": "Unknown watch"}})
    async def counts(request: Request, name: Annotated[str, WATCH_PATH],
                     since: Annotated[str, Query(max_length=16, description="How far back: 1h, 24h, 1d")] = "1h",
                     step: Annotated[str, Query(max_length=16, description="Bucket size, whole minutes: 1m, 5m")]
                     = "1m") -> dict[str, Any]:
        engine = _watch(request, name)
        back, size = _duration("since", since), _duration("step", step)
        if size < 60 or size % 60:
            raise HTTPException(422, detail="step: must be a whole number of minutes (1m, 5m, 1h)")
        return {"name": name, "step": size, "counts": engine.counters[name].counts(time.time(), back, size)}

    @router.post("/api/watches/{name}/test", summary="Send a test alert to the watch's destinations",
                 responses={404: {"description": "Unknown watch"}})
    async def test(request: Request, name: Annotated[str, WATCH_PATH]) -> dict[str, Any]:
        engine = _watch(request, name)
        return {"name": name, "results": await engine.test(name)}

    @router.get("/api/watches/{name}/stream", summary="The watch's live view: /api/stream with its logs and filter",
                response_class=Response, response_model=None, openapi_extra={"parameters": PARAMETERS},
                responses={404: {"description": "Unknown watch, or none of its logs exists yet"}})
    async def stream(request: Request, name: Annotated[str, WATCH_PATH]) -> Response:
        engine = _watch(request, name)
        st = state_of(request)
        return await open_stream(st, {**request.scope, "query_string": watch_query(st, engine, name,
                                                                                   request.scope["query_string"])},
                                 None)

    return router


def watch_query(st: AppState, engine: WatchEngine, name: str, client_query: bytes) -> bytes:
    """The `/api/stream` query of a watch's live view: its logs and filter, and the client's own stream
    parameters (backlog, format, since, ...); the client cannot widen the filter or add logs."""
    spec = engine.specs[name]
    logs = sorted({info for info in _log_names(st) if spec.covers(info)})
    if not logs:
        raise HTTPException(404, detail=f"watch {name!r}: none of its logs exists yet")
    own = [(k, v) for k, v in parse_qsl(client_query.decode("latin-1"), keep_blank_values=True)
           if k not in _FILTER_KEYS]
    return urlencode([*(("log", log) for log in logs), *spec.query, *own]).encode()


def _log_names(st: AppState) -> list[str]:
    return st.sources.names()
