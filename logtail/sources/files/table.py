"""The table of logs: configured names and glob matches, each with its one follower.

Only names in this table can be read: a client's name is looked up here, never joined to a path. Globs are
re-expanded on every rescan and on directory events, so files that appear later become logs (read from
their first line) and show up in `/api/logs`.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtail.config import NAME_RE, LogSource, Settings
from logtail.core.events import rule_for
from logtail.core.sink import Sink
from logtail.match.parsers import parser_for
from logtail.sources.files.follow import FileFollower
from logtail.sources.files.opening import link_stays_inside

log = logging.getLogger(__name__)


@dataclass
class FileLog:
    name: str
    path: Path
    follower: FileFollower


class FileTable:
    def __init__(self, settings: Settings, sink: Sink,
                 on_add: Callable[[FileLog], None] | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.on_add = on_add  # told of each new log before its follower starts (the shipper gates it)
        self.entries: dict[str, FileLog] = {}
        self._by_path: dict[Path, str] = {}
        # directory -> file name -> log: a change event names both, and joining them into a Path per event
        # costs more than the rest of the lookup
        self._by_dir: dict[Path, dict[str, str]] = {}
        self._symlinks: list[FileLog] = []  # followed by name; their targets live in other directories
        self._draining: set[FileFollower] = set()  # followers still reading a renamed file
        self.woken: set[FileFollower] = set()  # by the last batch of change events (see next_read)
        self._group: asyncio.TaskGroup | None = None
        self.changed = asyncio.Event()  # set when logs are added (the watcher refreshes its directories)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get(self, name: str) -> FileLog | None:
        return self.entries.get(name)

    def __iter__(self) -> Iterator[FileLog]:
        return iter(list(self.entries.values()))

    async def run(self) -> None:
        """Start a follower for every configured file and glob match; own their tasks until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for src in self.settings.sources:
                if not src.is_glob and src.journal is None:  # journal logs are the journal source's
                    assert src.name is not None
                    self._add(src.name, src.path, from_start=False, parse=src.parse, src=src)
            self.expand_globs(from_start=False)
            await asyncio.Event().wait()  # run until cancelled; the followers run in the group

    def close(self) -> None:
        for entry in self.entries.values():
            entry.follower.close()

    def expand_globs(self, from_start: bool = True) -> None:
        for src in self.settings.sources:
            if src.is_glob:
                for match in sorted(glob.glob(str(src.path))):
                    path = Path(match)
                    if path not in self._by_path and path.is_file() and link_stays_inside(path):
                        self._add(self._name_for(path), path, from_start, parse=src.parse, src=src)

    def _name_for(self, path: Path) -> str:
        # A glob match is named after its file; a clash (same file name in two directories) or a name that
        # is not URL-safe gets a stable suffix from the path so every log keeps one unique name.
        name = re.sub(r"[^A-Za-z0-9._-]", "_", path.name)[:100]
        if name in (".", "..") or not NAME_RE.fullmatch(name) or name in self.entries:
            name = f"{name}-{hashlib.blake2b(str(path).encode(), digest_size=4).hexdigest()}"
        return name

    def _add(self, name: str, path: Path, from_start: bool, parse: str = "auto", src: LogSource | None = None) -> None:
        s = self.settings
        parser = parser_for(parse)  # checked with the configuration
        follower = FileFollower(name, path, self.sink, max_line_bytes=s.max_line_bytes,
                                seed_lines=s.window_lines, from_start=from_start, flush_window=s.flush_window,
                                rotate_wait=s.rotate_wait, on_draining=self._set_draining, parser=parser,
                                inside=path.parent if src is not None and src.is_glob else None,
                                **_multiline_of(src, s.multiline_wait))
        entry = FileLog(name, path, follower)
        self.entries[name] = entry
        self._by_path[path] = name
        self._by_dir.setdefault(path.parent, {})[path.name] = name
        if path.is_symlink():
            self._symlinks.append(entry)
        self.sink.add(name, parser)
        if self.on_add is not None:
            self.on_add(entry)
        if self._group is not None:
            self._group.create_task(follower.run(), name=f"follow {name}")
        follower.wake()
        self.changed.set()
        log.debug("following %s as %r", path, name)

    def _set_draining(self, follower: FileFollower, draining: bool) -> None:
        if draining:
            self._draining.add(follower)
        else:
            self._draining.discard(follower)

    # --- notifications -------------------------------------------------------------------------------

    def directories(self) -> set[Path]:
        """Directories to watch: those of every configured path (and symlink target) and glob."""
        dirs: set[Path] = set()
        for entry in self.entries.values():
            dirs.add(entry.path.parent)
        for entry in self._symlinks:
            dirs.add(Path(os.path.realpath(entry.path)).parent)
        for src in self.settings.sources:
            if src.is_glob:
                dirs.update(Path(d) for d in glob.glob(str(src.path.parent)) if os.path.isdir(d))
        return {d for d in dirs if d.is_dir()}

    def on_change(self, directory: Path, name: str | None, created: bool = False) -> None:
        """A change in `directory` (to the file `name`, or unknown): wake the followers it concerns.

        Only a name that appeared (created or moved in) can be a new glob match, so writes to unrelated
        files in a watched directory cost a dictionary lookup and nothing more (while no renamed file is
        being drained).
        """
        if name is None:
            self.wake_all()
            return
        names = self._by_dir.get(directory)
        target = names.get(name) if names is not None else None
        if target is not None:
            follower = self.entries[target].follower
            follower.wake()
            self.woken.add(follower)
        elif self._draining:
            # A write to a renamed file is reported under its new name (app.log.1), which no follower has.
            for follower in self._draining:
                if follower.path.parent == directory:
                    follower.wake()
        for entry in self._symlinks:
            if entry.path.parent != directory:
                entry.follower.wake()  # the change may be to a symlink's target
        if created:
            self.expand_globs()

    def next_read(self) -> float:
        """When the first of the followers the last change events woke is due to read again: the watcher
        leaves its descriptor unread until then (watch.py)."""
        return min((follower.pace.next_read for follower in self.woken), default=float("-inf"))

    def wake_all(self) -> None:
        for entry in self.entries.values():
            entry.follower.wake()
        self.expand_globs()


def _multiline_of(src: LogSource | None, default_wait: float) -> dict[str, Any]:
    """The follower's multi-line arguments for a configured source (checked with the configuration)."""
    spec = None if src is None else src.multiline_spec
    if src is None or spec is None:
        return {}
    wait = src.multiline_wait if src.multiline_wait is not None else default_wait
    return {"multiline": rule_for(spec), "multiline_wait": wait}
