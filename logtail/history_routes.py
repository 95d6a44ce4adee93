"""HTTP routes over whole log files: download (with Range), search (NDJSON) and the rotated siblings.

Both streaming responses are raw ASGI responses like `stream.LogStream`, for the same reasons: files are
opened inside `__call__`, where the `finally` that closes them always runs, and a task awaiting `receive()`
notices a client that leaves, so a download or a search stops at the next block and frees its files at
once. (After a disconnect uvicorn's `send()` returns silently: without that listener the whole file would
be read for nobody. Starlette's `FileResponse` also reads until EOF, past a growing log's size at start.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from .cursor import Cursor, parse_cursors
from .history import (
    DEFAULT_LIMIT,
    DOWNLOAD_CHUNK,
    MAX_CONTEXT,
    MAX_LIMIT,
    CursorNotFound,
    LogFile,
    RangeNotSatisfiable,
    Search,
    SearchRequest,
    open_chain,
    open_file,
    parse_range,
    rotated_siblings,
)
from .offloop import off_loop
from .registry import LogEntry
from .routes import NAME_PATH, FilterQuery
from .sse import dump_json
from .state import state_of
from .stream import ClientGone

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25


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

    # Imported here: the shipped logs' responses build on FileStreamResponse below.
    from .redis.history import ShippedDownload, ShippedSearch

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
            return ShippedDownload(st.shipped, st.shipped.logs[name], st.settings.send_timeout)
        entry = _entry(request, name)
        path, compressed = entry.path, False
        if rotated is not None:
            sibling = next((s for s in await off_loop(rotated_siblings, entry.path) if s.number == rotated), None)
            if sibling is None:
                raise HTTPException(404, detail=f"log {name!r} has no rotated file {rotated}")
            path, compressed = sibling.path, sibling.compressed
        filename = name if rotated is None else f"{name}.{rotated}{'.gz' if compressed else ''}"
        return DownloadResponse(name, path, rotated or 0, compressed, filename, range_header, if_range,
                                state_of(request).settings.send_timeout)

    @router.get("/api/logs/{name}/rotated", summary="The rotated files of a log (NAME.1, NAME.2.gz, ...)",
                responses={404: {"description": "Unknown log"}})
    async def rotated_files(request: Request, name: Annotated[str, NAME_PATH]) -> list[RotatedInfo]:
        return await off_loop(_rotated_infos, _entry(request, name).path)

    @router.get("/api/logs/{name}/search", summary="Search a log's whole file (NDJSON stream)",
                response_class=Response, response_model=None, responses=_SEARCH_RESPONSES)
    async def search(request: Request, name: Annotated[str, NAME_PATH],
                     params: Annotated[SearchQuery, Depends()]) -> Response:
        st = state_of(request)
        if st.shipped is not None and name in st.shipped:  # another host's log: what Redis retains of it
            return ShippedSearch(st.shipped, st.shipped.logs[name], params.request, st.settings.send_timeout)
        entry = _entry(request, name)
        s = st.settings
        return SearchResponse(name, entry.path, params.request, s.max_line_bytes, s.send_timeout)

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


def _entry(request: Request, name: str) -> LogEntry:
    entry = state_of(request).registry.get(name)
    if entry is None:
        raise HTTPException(404, detail=f"unknown log {name[:200]!r}")
    return entry


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


class FileStreamResponse(Response):
    """A raw ASGI response that stops when the client leaves and closes its files whatever happens."""

    def __init__(self, send_timeout: float) -> None:
        self.status_code = 200
        self.background = None
        self.send_timeout = send_timeout
        self._send: Send | None = None
        self._gone = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        listener = asyncio.create_task(self._listen(receive))
        try:
            await self.respond(scope)
        except ClientGone:
            pass
        finally:
            listener.cancel()

    async def respond(self, scope: Scope) -> None:
        raise NotImplementedError

    async def _listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone.set()

    def check_client(self) -> None:
        if self._gone.is_set():
            raise ClientGone

    async def send_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.write({"type": "http.response.start", "status": status, "headers": headers})

    async def send_body(self, data: bytes, more: bool = True) -> None:
        await self.write({"type": "http.response.body", "body": data, "more_body": more})

    async def error(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        payload = dump_json({"detail": detail})
        await self.send_start(status, [(b"content-type", b"application/json"),
                                  (b"content-length", str(len(payload)).encode()), *(headers or [])])
        await self.send_body(payload, more=False)

    async def write(self, message: Message) -> None:
        assert self._send is not None
        try:
            async with asyncio.timeout(self.send_timeout):
                await self._send(message)
        except TimeoutError:
            log.info("client stopped reading for %.0fs; disconnecting it", self.send_timeout)
            raise ClientGone from None
        except OSError:
            raise ClientGone from None


class DownloadResponse(FileStreamResponse):
    """One file, whole or one byte range, as it was when the request came: never read past that size."""

    def __init__(self, log_name: str, path: Path, rotated: int, compressed: bool, filename: str,
                 range_header: str | None, if_range: str | None, send_timeout: float) -> None:
        super().__init__(send_timeout)
        self.log_name = log_name
        self.path = path
        self.rotated = rotated
        self.compressed = compressed
        self.filename = filename
        self.range_header = range_header
        self.if_range = if_range

    async def respond(self, scope: Scope) -> None:
        try:
            f = await off_loop(open_file, self.path, self.rotated, self.compressed, False)
        except FileNotFoundError:
            await self.error(404, f"log {self.log_name!r} has no file at the moment (missing or rotated away)")
            return
        except OSError as exc:
            await self.error(403 if isinstance(exc, PermissionError) else 404,
                             f"log {self.log_name!r}: cannot read the file ({exc.strerror or exc})")
            return
        try:
            await self._serve(f, head_only=scope["method"] == "HEAD")
        finally:
            f.close()

    async def _serve(self, f: LogFile, head_only: bool) -> None:
        assert f.validators is not None
        span = None
        if self.range_header is not None and f.validators.if_range_holds(self.if_range):
            try:
                span = parse_range(self.range_header, f.size)
            except RangeNotSatisfiable:
                await self.error(416, f"range not satisfiable: the file has {f.size} bytes",
                                 [(b"content-range", f"bytes */{f.size}".encode())])
                return
        start, stop = span or (0, f.size)
        headers = [
            (b"content-type", b"application/gzip" if self.compressed else b"text/plain; charset=utf-8"),
            (b"content-length", str(stop - start).encode()),
            (b"content-disposition", f'attachment; filename="{self.filename}"'.encode()),
            (b"accept-ranges", b"bytes"),
            (b"etag", f.validators.etag.encode()),
            (b"last-modified", f.validators.last_modified.encode()),
            (b"cache-control", b"no-cache"),
        ]
        if span is not None:
            headers.append((b"content-range", f"bytes {start}-{stop - 1}/{f.size}".encode()))
        await self.send_start(206 if span else 200, headers)
        pos = start
        while pos < stop and not head_only:
            self.check_client()
            data = await off_loop(os.pread, f.fd, min(DOWNLOAD_CHUNK, stop - pos), pos)
            if not data:
                # Truncated while being sent: the promised length cannot be kept. Ending without the
                # final message makes the server close the connection, and the client sees a short body.
                log.warning("%s shrank to %d bytes during a download; closing the connection", f.label, pos)
                return
            pos += len(data)
            await self.send_body(data)
        await self.send_body(b"", more=False)


class SearchResponse(FileStreamResponse):
    """NDJSON: matches as they are found, progress at most every `PROGRESS_INTERVAL`, then `done`."""

    def __init__(self, log_name: str, path: Path, req: SearchRequest, max_line_bytes: int,
                 send_timeout: float) -> None:
        super().__init__(send_timeout)
        self.log_name = log_name
        self.path = path
        self.req = req
        self.max_line_bytes = max_line_bytes

    async def respond(self, scope: Scope) -> None:
        req = self.req
        with_siblings = req.rotated or req.before is not None or req.after is not None
        try:
            files = await off_loop(open_chain, self.path, with_siblings)
        except OSError as exc:
            await self.error(403 if isinstance(exc, PermissionError) else 500,
                             f"log {self.log_name!r}: cannot read the file ({exc.strerror or exc})")
            return
        search: Search | None = None
        try:
            try:
                search = await off_loop(Search, self.log_name, files, req, self.max_line_bytes)
            except CursorNotFound as exc:
                await self.error(400, str(exc))
                return
            await self.send_start(200, [
                (b"content-type", b"application/x-ndjson"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),  # nginx: pass progress on as it comes
            ])
            if not any(f.rotated == 0 for f in files):
                await self.send_body(dump_json({"event": "notice", "log": self.log_name, "kind": "missing",
                                           "message": f"{self.path.name} does not exist at the moment"}) + b"\n")
            await self._run(search)
        finally:
            if search is not None:
                search.close()
            for f in files:
                f.close()

    async def _run(self, search: Search) -> None:
        last_progress = time.monotonic()
        while True:
            self.check_client()
            objects = await off_loop(search.step)
            if objects is None:
                break
            data = b"".join(dump_json(obj) + b"\n" for obj in objects)
            now = time.monotonic()
            if now - last_progress >= PROGRESS_INTERVAL:
                last_progress = now
                data += dump_json({"event": "progress", "scanned": search.scanned, "total": search.total}) + b"\n"
            if data:
                await self.send_body(data)
        done = {"event": "done", "matches": search.matches, "scanned": search.scanned, "total": search.total,
                "truncated": search.truncated}
        await self.send_body(dump_json(done) + b"\n", more=False)
