"""HTTP routes over whole log files: download (with Range), search (NDJSON) and the rotated siblings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from logtail.core.cursor import Cursor, parse_cursors
from logtail.core.offloop import off_loop
from logtail.sources.files.download import Download, DownloadResponse
from logtail.sources.files.regions import DEFAULT_LIMIT, MAX_CONTEXT, MAX_LIMIT, SearchRequest
from logtail.sources.files.search import SearchResponse
from logtail.sources.files.siblings import rotated_siblings
from logtail.sources.redis.history import ShippedDownload, ShippedSearch
from logtail.web.query import FILTER_PARAMETERS
from logtail.web.routes import NAME_PATH, FilterQuery, require_log
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
        filters: Annotated[FilterQuery, Depends()],
        order: Annotated[Literal["newest", "oldest"], Query(description="newest first (default) or oldest")]
        = "newest",
        limit: Annotated[int, Query(description=f"Most matches to send (1-{MAX_LIMIT})")] = DEFAULT_LIMIT,
        context: Annotated[int, Query(description=f"Lines around each match (0-{MAX_CONTEXT})")] = 0,
        before: Annotated[str | None, Query(max_length=65536, description="Only lines before this id")] = None,
        after: Annotated[str | None, Query(max_length=65536, description="Only lines after this id")] = None,
        rotated: Annotated[bool, Query(description="Also search the rotated files NAME.1, NAME.2.gz, ...")]
        = False,
    ) -> None:
        line_filter = filters.filter
        if not 1 <= limit <= MAX_LIMIT:
            raise HTTPException(422, detail=f"limit: must be between 1 and {MAX_LIMIT} (page with before/after)")
        if not 0 <= context <= MAX_CONTEXT:
            raise HTTPException(422, detail=f"context: must be between 0 and {MAX_CONTEXT}")
        self.request = SearchRequest(line_filter, order, limit, context, _cursor("before", before, name),
                                     _cursor("after", after, name), rotated)


def build_history_router() -> APIRouter:
    router = APIRouter()

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
        if st.shipped is not None and name in st.shipped:  # another host's log: what Redis retains of it
            return ShippedDownload(st.shipped, st.shipped.logs[name], st.transfers)
        entry = require_log(request, name)
        path, compressed = entry.path, False
        if rotated is not None:
            sibling = next((s for s in await off_loop(rotated_siblings, entry.path) if s.number == rotated), None)
            if sibling is None:
                raise HTTPException(404, detail=f"log {name!r} has no rotated file {rotated}")
            path, compressed = sibling.path, sibling.compressed
        filename = name if rotated is None else f"{name}.{rotated}{'.gz' if compressed else ''}"
        download = Download(name, path, rotated or 0, compressed, filename, range_header, if_range)
        return DownloadResponse(download, st.transfers)

    @router.get("/api/logs/{name}/rotated", summary="The rotated files of a log (NAME.1, NAME.2.gz, ...)",
                responses={404: {"description": "Unknown log"}})
    async def rotated_files(request: Request, name: Annotated[str, NAME_PATH]) -> list[RotatedInfo]:
        return await off_loop(_rotated_infos, require_log(request, name).path)

    @router.get("/api/logs/{name}/search", summary="Search a log's whole file (NDJSON stream)",
                response_class=Response, response_model=None, responses=_SEARCH_RESPONSES,
                openapi_extra={"parameters": FILTER_PARAMETERS})
    async def search(request: Request, name: Annotated[str, NAME_PATH],
                     params: Annotated[SearchQuery, Depends()]) -> Response:
        st = state_of(request)
        if st.shipped is not None and name in st.shipped:  # another host's log: what Redis retains of it
            return ShippedSearch(st.shipped, st.shipped.logs[name], params.request, st.transfers)
        entry = require_log(request, name)
        s = st.settings
        return SearchResponse(name, entry.path, params.request, s.max_line_bytes, st.transfers,
                              entry.follower.parser)

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


def _rotated_infos(log_path: Path) -> list[RotatedInfo]:
    infos = []
    for sib in rotated_siblings(log_path):
        try:
            st = os.stat(sib.path)
        except OSError:
            continue
        infos.append(RotatedInfo(name=sib.path.name, rotated=sib.number, compressed=sib.compressed,
                                 size=st.st_size, mtime=st.st_mtime))
    return infos
