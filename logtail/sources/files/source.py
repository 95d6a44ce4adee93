"""Local files as a `Source`: the table of followed files, their read-back, `since=`, search and download."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client.registry import Collector
from starlette.responses import Response

from logtail.config import Settings
from logtail.core.catchup import Reading
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, NoticeKind
from logtail.core.hub import Channel, Hub
from logtail.core.offloop import off_loop
from logtail.core.rawresponse import Transfers
from logtail.sources.base import DownloadRequest, LogInfo, RotatedFile, SearchRequest, Start, Unavailable
from logtail.sources.files.download import Download, DownloadResponse
from logtail.sources.files.readback import notice_frames, plan_lines, plan_read_back
from logtail.sources.files.search import SearchResponse
from logtail.sources.files.siblings import rotated_siblings
from logtail.sources.files.since import since_start
from logtail.sources.files.table import FileLog, FileTable
from logtail.sources.files.watch import watch


class FileSource:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        self.settings = settings
        self.table = FileTable(settings, hub)

    def __contains__(self, name: str) -> bool:
        return name in self.table

    def _entry(self, name: str) -> FileLog:
        entry = self.table.get(name)
        if entry is None:  # the web layer asks only for names the source has
            raise Unavailable(404, f"unknown log {name[:200]!r}")
        return entry

    def names(self) -> list[str]:
        return list(self.table.entries)

    async def logs(self) -> list[LogInfo]:
        return await off_loop(_infos, list(self.table))

    async def run(self) -> None:
        s = self.settings
        async with asyncio.TaskGroup() as group:
            group.create_task(self.table.run(), name="logs")
            group.create_task(watch(self.table, s.watcher, s.poll_interval), name="watch")

    async def close(self) -> None:
        self.table.close()

    async def read_after(self, ch: Channel, cursor: Cursor, fmt: Format, sibling_start: bool) -> Reading:
        entry = self.table.get(ch.name)
        p = await plan_read_back(ch, entry.follower if entry else None, cursor, self.settings.resume_max_bytes,
                                 sibling_start)
        assert p.end is not None  # a lagging log with no position rejoins at once (CatchUp._from_window)
        blocks = plan_lines(p, self.settings.max_line_bytes) if p.readbacks else None
        return Reading(p.end, blocks, notice_frames(p, fmt) if p.notices else b"", after_hole=p.lost,
                       reads_past=p.reads_past, close=p.close)

    async def since(self, ch: Channel, moment: float, client: str = "") -> Start | None:
        entry = self.table.get(ch.name)
        return await since_start(ch, entry.follower if entry else None, moment, client)

    async def rotated(self, name: str) -> list[RotatedFile]:
        return await off_loop(_rotated_files, self._entry(name).path)

    async def download(self, name: str, request: DownloadRequest, transfers: Transfers) -> Response:
        entry = self._entry(name)
        path, compressed, number = entry.path, False, request.rotated
        if number is not None:
            sibling = next((s for s in await off_loop(rotated_siblings, entry.path) if s.number == number), None)
            if sibling is None:
                raise Unavailable(404, f"log {name!r} has no rotated file {number}")
            path, compressed = sibling.path, sibling.compressed
        filename = name if number is None else f"{name}.{number}{'.gz' if compressed else ''}"
        download = Download(name, path, number or 0, compressed, filename, request.range, request.if_range,
                            entry.follower.inside)
        return DownloadResponse(download, transfers)

    def search(self, name: str, request: SearchRequest, transfers: Transfers) -> Response:
        entry = self._entry(name)
        return SearchResponse(name, entry.path, request, self.settings.max_line_bytes, transfers,
                              entry.follower.parser, entry.follower.inside)

    def collectors(self) -> list[Collector]:
        return []

    def unready(self) -> str | None:
        return None

    async def started(self, names: Sequence[str]) -> None:
        # A file's follower publishes its position with the first lines it reads, as soon as it is added: a
        # stream opened while the rest of its window is read gets that rest as live lines, nothing lost.
        pass

    def entry_time(self, line: Line) -> float | None:
        return None  # a file records no time per line: the line's own timestamp orders it

    def opening_notice(self, name: str) -> tuple[NoticeKind, str] | None:
        return None  # a missing or unreadable file was noticed when it became so; the window says the rest

    async def hosts(self) -> list[dict[str, Any]]:
        return []  # local files: this host, which serves them


def _infos(entries: list[FileLog]) -> list[LogInfo]:
    infos = []
    for entry in entries:
        try:
            st = os.stat(entry.path)
            infos.append(LogInfo(entry.name, str(entry.path), st.st_size, True, st.st_mtime))
        except OSError:
            infos.append(LogInfo(entry.name, str(entry.path), 0, False, None))
    return infos


def _rotated_files(log_path: Path) -> list[RotatedFile]:
    files = []
    for sib in rotated_siblings(log_path):
        try:
            st = os.stat(sib.path)
        except OSError:
            continue
        files.append(RotatedFile(sib.path.name, sib.number, sib.compressed, st.st_size, st.st_mtime))
    return files


def configure(settings: Settings, hub: Hub) -> FileSource:
    """The local files of `serve` (also when it has none: globs and configured paths may appear later)."""
    return FileSource(settings, hub)
