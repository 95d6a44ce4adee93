"""The files of a log: the live file and its rotated siblings `NAME.N` / `NAME.N.gz`, opened as a snapshot."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from logtail.core.cursor import HEAD_BYTES
from logtail.sources.files.opening import open_regular


@dataclass(frozen=True)
class Sibling:
    path: Path
    number: int
    compressed: bool


def rotated_siblings(log_path: Path) -> list[Sibling]:
    """Regular files `NAME.N` and `NAME.N.gz` beside the log, by N (1 = most recent). Symlinks are skipped.

    When both `NAME.N` and `NAME.N.gz` exist (a compressor at work), the uncompressed one is listed.
    """
    pattern = re.compile(re.escape(log_path.name) + r"\.([0-9]{1,6})(\.gz)?")
    found: dict[int, Sibling] = {}
    try:
        names = os.listdir(log_path.parent)
    except OSError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        path = log_path.parent / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        number, compressed = int(m.group(1)), m.group(2) is not None
        if number > 0 and (number not in found or found[number].compressed):
            found[number] = Sibling(path, number, compressed)
    return [found[n] for n in sorted(found)]


@dataclass
@dataclass
class LogFile:
    """One open file of a log: the live file (`rotated == 0`) or a rotated sibling."""

    label: str  # the file's name, shown to clients
    rotated: int
    compressed: bool
    fd: int
    size: int  # bytes on disk when opened: nothing past this is read
    mtime_ns: int
    identity: tuple[int, int]
    head: bytes = b""  # first HEAD_BYTES of the content (decompressed), the cursors' file id

    def close(self) -> None:
        os.close(self.fd)

    def pread(self, pos: int, size: int) -> bytes:
        return os.pread(self.fd, size, pos)


def open_file(path: Path, rotated: int = 0, compressed: bool = False, with_head: bool = True,
              inside: Path | None = None) -> LogFile:
    """A log's file, open: a rotated one never through a symlink, the live one of a glob match confined to
    its directory `inside` (opening.py)."""
    fd, st = open_regular(path, follow_symlinks=not rotated, inside=None if rotated else inside)
    try:
        f = LogFile(path.name, rotated, compressed, fd, st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino))
        if with_head:
            f.head = _gzip_head(fd) if compressed else os.pread(fd, HEAD_BYTES, 0)
        return f
    except BaseException:
        os.close(fd)
        raise


def _gzip_head(fd: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.FileIO(fd, closefd=False)) as gz:
            return gz.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error):
        return b""


def open_chain(log_path: Path, siblings: bool, inside: Path | None = None) -> list[LogFile]:
    """The live file and, with `siblings`, the rotated ones: oldest first, the live file (if any) last
    (`inside`: as for `open_file`)."""
    files: list[LogFile] = []
    try:
        if siblings:
            for sib in reversed(rotated_siblings(log_path)):
                try:
                    files.append(open_file(sib.path, sib.number, sib.compressed))
                except OSError:
                    continue  # rotated away or unreadable meanwhile
        try:
            live = open_file(log_path, inside=inside)
        except FileNotFoundError:
            return files
        if any(f.identity == live.identity for f in files):  # renamed between listing and opening
            live.close()
        else:
            files.append(live)
        return files
    except BaseException:
        for f in files:
            f.close()
        raise


class GzipReader:
    """Sequential reads of a gzip file through `forward_blocks` (positions are in uncompressed bytes)."""

    def __init__(self, fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        self.raw = io.FileIO(fd, closefd=False)
        self.gz = gzip.GzipFile(fileobj=self.raw)
        self.pos = 0
        self.error = ""

    def read(self, pos: int, size: int) -> bytes:
        assert pos == self.pos, "gzip files are read sequentially"
        try:
            data = self.gz.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # corrupt, or cut short while being written
            self.error = str(exc) or type(exc).__name__
            return b""
        self.pos += len(data)
        return data

    @property
    def compressed_pos(self) -> int:
        return self.raw.tell()
