"""One open instance of a followed file (a generation: the file a name pointed to between two rotations),
and where following a file that was already there starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from logtail.core.cursor import HEAD_BYTES, file_id
from logtail.sources.files.opening import open_regular

SEED_MAX_BYTES = 16 * 1024 * 1024  # most bytes read back from the end of a file to find its last lines


@dataclass
class Generation:
    """One open file: a single instance of the followed name between rotations or truncations."""

    fd: int
    dev: int
    ino: int
    head: bytes = b""
    _full_id: str = field(default="", repr=False)
    # Monotonic time the path stopped naming this file (None while it does), and of its last growth since.
    detached_at: float | None = None
    grew_at: float = 0.0

    def fid(self, offset: int) -> str:
        if offset >= HEAD_BYTES and len(self.head) >= HEAD_BYTES:
            if not self._full_id:
                self._full_id = file_id(self.head, offset)
            return self._full_id
        return file_id(self.head, offset)

    def fixed_fid(self, offset: int) -> str | None:
        """The id at every position from `offset` on, when it no longer depends on the position: past the
        first HEAD_BYTES of a file whose head is read in full. Otherwise None."""
        if offset >= HEAD_BYTES and len(self.head) >= HEAD_BYTES:
            return self.fid(offset)
        return None

    def refresh_head(self) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head = os.pread(self.fd, HEAD_BYTES, 0)

    def head_changed(self) -> bool:
        return bool(self.head) and os.pread(self.fd, len(self.head), 0) != self.head

    def close(self) -> None:
        os.close(self.fd)


def open_generation(path: Path, inside: Path | None = None) -> Generation:
    """The file at `path`, open (a glob match: confined to its directory `inside`, opening.py)."""
    fd, st = open_regular(path, inside=inside)  # the one rule of which files are read (opening.py)
    try:
        gen = Generation(fd, st.st_dev, st.st_ino)
        gen.refresh_head()
        return gen
    except BaseException:
        os.close(fd)
        raise


def seed_offset(fd: int, size: int, lines: int) -> int:
    """Where the last `lines` complete lines start, reading back at most SEED_MAX_BYTES.

    A line starts after a newline, so the answer is just after the (lines+1)-th newline from the end.
    """
    pos, found = size, 0
    while pos > 0 and size - pos < SEED_MAX_BYTES:
        start = max(0, pos - 65536)
        block = os.pread(fd, pos - start, start)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            found += 1
            if found > lines:
                return start + idx + 1
        pos = start
    if pos > 0:  # gave up reading back: start at the next line boundary, not mid-line
        nl = os.pread(fd, 65536, pos).find(b"\n")
        return pos + nl + 1 if nl >= 0 else size
    return 0
