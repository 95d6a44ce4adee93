"""The download response: one file, whole or one byte range, never read past its size at the start."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from starlette.types import Scope

from logtail.core.fileresponse import FileStreamResponse
from logtail.core.offloop import off_loop
from logtail.core.ranges import NumberTooLong, RangeNotSatisfiable, Validators, parse_range
from logtail.core.rawresponse import Transfers
from logtail.sources.files.siblings import LogFile, open_file

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Download:
    """What a download request asks for: one file of a log, and the Range it may carry."""

    log_name: str
    path: Path
    rotated: int
    compressed: bool
    filename: str  # as the client saves it
    range_header: str | None
    if_range: str | None
    inside: Path | None = None  # a glob match's directory: the live file must be in it (opening.py)


class DownloadResponse(FileStreamResponse):
    """One file, whole or one byte range, as it was when the request came: never read past that size."""

    def __init__(self, download: Download, transfers: Transfers) -> None:
        super().__init__(transfers)
        self.d = download

    async def respond(self, scope: Scope) -> None:
        try:
            f = await off_loop(open_file, self.d.path, self.d.rotated, self.d.compressed, False, self.d.inside)
        except FileNotFoundError:
            await self.error(404, f"log {self.d.log_name!r} has no file at the moment (missing or rotated away)")
            return
        except OSError as exc:
            await self.error(403 if isinstance(exc, PermissionError) else 404,
                             f"log {self.d.log_name!r}: cannot read the file ({exc.strerror or exc})")
            return
        try:
            await self._serve(f, head_only=scope["method"] == "HEAD")
        finally:
            f.close()

    async def _serve(self, f: LogFile, head_only: bool) -> None:
        validators = Validators.of(f.identity[1], f.size, f.mtime_ns)
        span = None
        if self.d.range_header is not None and validators.if_range_holds(self.d.if_range):
            try:
                span = parse_range(self.d.range_header, f.size)
            except NumberTooLong as exc:  # the route refuses these first; a direct caller gets the same
                await self.error(400, str(exc))
                return
            except RangeNotSatisfiable:
                await self.error(416, f"range not satisfiable: the file has {f.size} bytes",
                                 [(b"content-range", f"bytes */{f.size}".encode())])
                return
        start, stop = span or (0, f.size)
        headers = [
            (b"content-type", b"application/gzip" if self.d.compressed else b"text/plain; charset=utf-8"),
            (b"content-length", str(stop - start).encode()),
            (b"content-disposition", f'attachment; filename="{self.d.filename}"'.encode()),
            (b"accept-ranges", b"bytes"),
            (b"etag", validators.etag.encode()),
            (b"last-modified", validators.last_modified.encode()),
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
