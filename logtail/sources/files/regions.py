"""What a search covers: its request, and the regions of the log's files that the cursors leave."""

from __future__ import annotations

import os
from dataclasses import dataclass

from logtail.core.cursor import Cursor, file_id
from logtail.sources.base import SearchRequest
from logtail.sources.files.siblings import LogFile


class CursorNotFound(Exception):
    """A well-formed `before`/`after` cursor that points into none of the log's files."""

    def __init__(self, param: str) -> None:
        super().__init__(f"{param}: no file of this log has that position (rotated away or truncated since?)")
        self.param = param


@dataclass
class Region:
    """The part of one file to search: lines starting at or after `lo` and ending at or before `end_max`."""

    file: LogFile
    lo: int = 0
    end_max: int | None = None

    @property
    def total(self) -> int:
        if self.file.compressed:
            return self.file.size
        return max(0, (self.file.size if self.end_max is None else self.end_max) - self.lo)


def file_of_cursor(files: list[LogFile], cursor: Cursor) -> int | None:
    """Index of the file a cursor points into (the newest that fits), or None."""
    for i in reversed(range(len(files))):
        f = files[i]
        if file_id(f.head, cursor.offset) != cursor.fid:
            continue
        if f.compressed:
            return i
        if cursor.offset > f.size:
            continue
        at_line_end = cursor.offset == 0 or os.pread(f.fd, 1, cursor.offset - 1) == b"\n"
        if at_line_end or (f.rotated and cursor.offset == f.size):
            return i
    return None


def plan_regions(files: list[LogFile], req: SearchRequest) -> list[Region]:
    """The regions to search, in output order. A cursor is looked up in every file given (`files` holds
    the siblings whenever a cursor is given); without `rotated` only the live file is searched, or the
    cursor's file and, after it, the newer ones."""
    if not files:
        return []
    first = 0 if req.rotated else len(files) - 1
    last = len(files) - 1
    i_after = i_before = None
    if req.after is not None:
        i_after = file_of_cursor(files, req.after)
        if i_after is None:
            raise CursorNotFound("after")
        first = i_after
    if req.before is not None:
        i_before = file_of_cursor(files, req.before)
        if i_before is None:
            raise CursorNotFound("before")
        last = i_before
        if req.after is None and not req.rotated:
            first = i_before
    regions = []
    for i in range(first, last + 1):
        region = Region(files[i])
        if i == i_after and req.after is not None:
            region.lo = req.after.offset
        if i == i_before and req.before is not None:
            region.end_max = req.before.offset - 1  # lines ending before the cursor's line ends
        regions.append(region)
    return regions[::-1] if req.order == "newest" else regions
