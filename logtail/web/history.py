"""HTTP routes over what a source retains of a log: download (with Range), search (NDJSON), rotated files.

What each does is the log's source's business (`sources.base.Source`); what a source cannot do for a log it
says with `Unavailable`, which the app answers as that status and message (`routes.unavailable_response`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from logtail.core.cursor import Cursor, parse_cursors
from logtail.core.ranges import NumberTooLong, refuse_long_number
from logtail.match.filters import LineFilter
from logtail.sources.base import (
    DEFAULT_LIMIT,
    MAX_CONTEXT,
    MAX_LIMIT,
    DownloadRequest,
    SearchRequest,
)
from logtail.web.access import require_readable
from logtail.web.query import FILTER_PARAMETERS, QueryError, refuse_long_numbers
from logtail.web.routes import NAME_PATH, filter_query, require_source
from logtail.web.state import state_of


class RotatedInfo(BaseModel):
    name: str
    rotated: int
    compressed: bool
    size: int
    mtime: float


def _cursor(param: str, value: str | None, log_name: str) -> Cursor | None:
    """The cursor for `log_name` in an id (a line's `id`, or a multi-log event id); 400 if malformed."""
    if not value:
        return None
    for entry in value.split(","):
        parsed = list(parse_cursors(entry).values())
        if len(parsed) != 1 or str(parsed[0]) != entry.strip():
            raise HTTPException(400, detail=f"{param}: {entry.strip()[:100]!r} is not a cursor "
                                            f"(expected the id of a line, NAME=<file id>:<offset>)")
    cursor = parse_cursors(value).get(log_name)
    if cursor is None:
        raise HTTPException(400, detail=f"{param}: the cursor is not one of log {log_name!r}")
    return cursor


class SearchQuery:
    """The search's parameters: the stream's filter parameters, plus order, paging and context."""

    def __init__(
        self,
        name: Annotated[str, NAME_PATH],
        line_filter: Annotated[LineFilter, Depends(filter_query)],
        order: Annotated[Literal["newest", "oldest"], Query(description="newest first (default) or oldest")]
        = "newest",
        limit: Annotated[int, Query(description=f"Most matches to send (1-{MAX_LIMIT})")] = DEFAULT_LIMIT,
        context: Annotated[int, Query(description=f"Lines around each match (0-{MAX_CONTEXT})")] = 0,
        before: Annotated[str | None, Query(max_length=65536, description="Only lines before this id")] = None,
        after: Annotated[str | None, Query(max_length=65536, description="Only lines after this id")] = None,
        rotated: Annotated[bool, Query(description="Also search the rotated files NAME.1, NAME.2.gz, ...")]
        = False,
    ) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise HTTPException(422, detail=f"limit: must be between 1 and {MAX_LIMIT} (page with before/after)")
        if not 0 <= context <= MAX_CONTEXT:
            raise HTTPException(422, detail=f"context: must be between 0 and {MAX_CONTEXT}")
        self.request = SearchRequest(line_filter, order, limit, context, _cursor("before", before, name),
                                     _cursor("after", after, name), rotated)


NUMERIC_HISTORY = ("limit", "context", "rotated", "before", "after")


async def _no_long_numbers(request: Request) -> None:
    """Over-long numbers are a 400 naming the parameter (or `Range`), before FastAPI reads any as an int."""
    try:
        refuse_long_numbers(request.query_params.multi_items(), NUMERIC_HISTORY)
        refuse_long_number("Range", request.headers.get("range"))
    except QueryError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None
    except NumberTooLong as exc:
        raise HTTPException(400, detail=str(exc)) from None


def build_history_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(_no_long_numbers)])

    @router.get("/api/logs/{name}/download", response_class=Response, response_model=None,
                summary="Download a log file (Range requests supported)", responses=_DOWNLOAD_RESPONSES)
    @router.head("/api/logs/{name}/download", response_class=Response, response_model=None,
                 include_in_schema=False)
    async def download(
        request: Request, name: Annotated[str, NAME_PATH],
        rotated: Annotated[int | None, Query(ge=1, le=999999, description="The rotated file NAME.N[.gz]")] = None,
        range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
        if_range: Annotated[str | None, Header(alias="If-Range", include_in_schema=False)] = None,
    ) -> Response:
        st = state_of(request)
        require_readable(request, [name])
        source = require_source(request, name)
        response = await source.download(name, DownloadRequest(rotated, range_header, if_range), st.transfers)
        st.access.audit.record(request.scope, "download", [name])  # what is served, not what was refused
        return response

    @router.get("/api/logs/{name}/rotated", summary="The rotated files of a log (NAME.1, NAME.2.gz, ...)",
                responses={404: {"description": "Unknown log, or a log whose rotated files are out of reach "
                                                "(another host's)"}})
    async def rotated_files(request: Request, name: Annotated[str, NAME_PATH]) -> list[RotatedInfo]:
        source = require_source(request, name)
        found = await source.rotated(name)
        return [RotatedInfo(name=f.name, rotated=f.rotated, compressed=f.compressed, size=f.size, mtime=f.mtime)
                for f in found]

    @router.get("/api/logs/{name}/search", summary="Search a log's whole file (NDJSON stream)",
                response_class=Response, response_model=None, responses=_SEARCH_RESPONSES,
                openapi_extra={"parameters": FILTER_PARAMETERS})
    async def search(request: Request, name: Annotated[str, NAME_PATH],
                     params: Annotated[SearchQuery, Depends()]) -> Response:
        st = state_of(request)
        require_readable(request, [name])
        source = require_source(request, name)
        response = source.search(name, params.request, st.transfers)
        st.access.audit.record(request.scope, "search", [name])
        return response

    return router


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}, "application/gzip": {}}, "description": "The whole file"},
    206: {"description": "The requested byte range (Content-Range)"},
    404: {"description": "Unknown log, or no such file at the moment"},
    416: {"description": "The range starts past the end of the file"},
}
_SEARCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/x-ndjson": {}},
          "description": "Matches, progress objects and a final `done` object, one JSON object per line"},
    400: {"description": "Invalid filter or cursor"},
    404: {"description": "Unknown log"},
    422: {"description": "limit or context out of range"},
}
