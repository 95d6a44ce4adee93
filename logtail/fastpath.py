"""A shortcut for well-formed stream requests past FastAPI's routing, for memory per connection.

A stream lives for hours, and everything on its call stack lives with it: through FastAPI that is the
router, the route, the dependency solver's `AsyncExitStack` and the exception middleware, measured at about
12 KB of a 28 KB idle connection (bench/README.md, tracemalloc). This middleware answers a stream request
itself when it is plainly valid (known logs, simple parameter values, room for another client) and builds the
very same `LogStream` as the FastAPI route (`routes.make_stream`). Anything else (an error to report, an
unusual spelling of a value) goes on to FastAPI, which stays the reference: same validation, same messages,
and an accurate OpenAPI schema.
"""

from __future__ import annotations

from typing import get_args
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from .cursor import parse_cursors
from .fields import parse_field_filters
from .filters import FilterError, LineFilter
from .routes import MAX_BACKLOG, make_stream
from .sse import Format
from .state import AppState
from .stream import StreamOptions
from .subscription import OVERFLOWS

_FLAGS = {"0": False, "1": True, "false": False, "true": True}
_SIMPLE = {"backlog", "q", "regex", "ignore_case", "invert", "level", "field", "format", "last_event_id", "log",
           "overflow"}
# Parameters whose handling needs more than a parse (since= reads the files): FastAPI's route does it.
_ROUTED = {"since"}
_FORMATS: tuple[str, ...] = get_args(Format)


class StreamFastPath:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            options = self._options(scope)
            if options is not None:
                names, opts = options
                await make_stream(self.state, names, opts)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _options(self, scope: Scope) -> tuple[list[str], StreamOptions] | None:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if path == "/api/stream":
            multi, names = True, []
        elif path.startswith("/api/logs/") and path.endswith("/stream"):
            name = path[len("/api/logs/"):-len("/stream")]
            if not name or "/" in name:
                return None
            multi, names = False, [name]
        else:
            return None
        return _parse(self.state, scope, names, multi)


def _parse(st: AppState, scope: Scope, names: list[str], multi: bool) -> tuple[list[str], StreamOptions] | None:
    """Stream options when every parameter is plainly valid, else None (FastAPI then answers)."""
    try:
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True,
                          strict_parsing=False, max_num_fields=300)
    except ValueError:
        return None
    single: dict[str, str] = {}
    levels: list[str] = []
    fields: list[str] = []
    for key, value in pairs:
        if key in _ROUTED:
            return None
        if key not in _SIMPLE:
            continue  # FastAPI ignores unknown parameters too
        if key == "log" and multi:
            names.append(value)
        elif key == "level":
            levels.extend(v.strip().lower() for v in value.split(",") if v.strip())
        elif key == "field":
            fields.append(value)
        elif key in single:
            return None  # a repeated parameter: let FastAPI decide which one counts
        else:
            single[key] = value
    names = list(dict.fromkeys(names))
    s = st.settings
    if not names or not all(map(st.has_log, names)) or st.hub.client_count >= s.max_clients:
        return None
    fmt = single.get("format", "sse")
    overflow = single.get("overflow", "catchup")
    flags = [single.get(k, "0").lower() for k in ("ignore_case", "invert")]
    backlog_text = single.get("backlog")
    if fmt not in _FORMATS or overflow not in OVERFLOWS or any(f not in _FLAGS for f in flags):
        return None
    if backlog_text is not None and not (backlog_text.isascii() and backlog_text.isdigit()):
        return None
    backlog = min(s.backlog, s.window_lines) if backlog_text is None else int(backlog_text)
    if backlog > min(s.window_lines, MAX_BACKLOG) or len(single.get("last_event_id", "")) > 65536:
        return None
    try:
        line_filter = LineFilter(single.get("q", ""), single.get("regex", ""), _FLAGS[flags[0]], _FLAGS[flags[1]],
                                 frozenset(levels), parse_field_filters(fields))
    except FilterError:
        return None
    header = dict(scope["headers"]).get(b"last-event-id", b"").decode("latin-1") or None
    cursors = parse_cursors(header or single.get("last_event_id"))
    return names, StreamOptions(line_filter, fmt, backlog, cursors, multi, overflow)  # type: ignore[arg-type]
