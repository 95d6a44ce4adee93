"""Which files a reader may open: the one rule that following, history, read-back, `since=` and the shipper
all go through.

Only regular files are read. A FIFO, a socket or a device named like a log (`mkfifo app.log.1`) must not be
opened blocking: `open()` of a FIFO waits for a writer, and on the event loop that froze every client. So a
file is opened with `O_NONBLOCK` (which returns at once for a FIFO and changes nothing for a regular file's
reads) and then `fstat` must say it is regular; anything else is closed, logged once per path, and refused
with `NotRegularFile`, an `OSError` like every other reason a file cannot be read.

Rotated siblings (`NAME.1`, `NAME.2.gz`) are opened with `O_NOFOLLOW`: a symlink there is somebody's link to
another file, never a rotation, so it is skipped by every reader alike.

A glob match is opened confined to its directory (`inside`), at every open and by every reader (follow,
download, search; resume and `since=` read what the follower opened): a link that was listed while it
pointed inside and is re-pointed at a file elsewhere is refused from then on, as `PermissionError`.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

_warned: set[str] = set()  # paths already logged as refused (bounded below: a name is logged once)
_WARNED_MAX = 1000


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or directory: not a file a reader will open."""


def open_regular(path: Path | str, *, follow_symlinks: bool = True,
                 inside: Path | None = None) -> tuple[int, os.stat_result]:
    """An open read-only descriptor on the regular file at `path`, and its stat; `OSError` otherwise (a
    symlink with `follow_symlinks` false raises `OSError(ELOOP)`; with `inside`, one that resolves outside
    that directory raises `PermissionError`)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if inside is not None:
        # Opened without following links, and a link's target only once it is checked: re-pointing the link
        # (or replacing the file by one) between the check and the open cannot lead the open elsewhere.
        try:
            return _open_regular(path, flags | nofollow)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
        return _open_regular(confined(Path(path), inside), flags | nofollow)
    try:
        return _open_regular(path, flags if follow_symlinks else flags | nofollow)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            _refused(path, "a symbolic link where a rotated file was expected")
        raise


def _open_regular(path: Path | str, flags: int) -> tuple[int, os.stat_result]:
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        _refused(path, "not a regular file")
        raise NotRegularFile(errno.EINVAL, f"{Path(path).name} is not a regular file")
    return fd, st


def _refused(path: Path | str, why: str) -> None:
    key = str(path)
    if key not in _warned and len(_warned) < _WARNED_MAX:
        _warned.add(key)
        log.warning("not reading %s: %s", key, why)


def link_stays_inside(path: Path) -> bool:
    """Whether a glob match may be followed: a regular name, or a symlink that resolves inside the directory
    the match was found in. A link created in a watched directory to a file elsewhere (a 0600 file of another
    service, say) is skipped and logged; a configured path itself is always followed, link or not."""
    if not path.is_symlink():
        return True
    try:
        confined(path, path.parent)
    except OSError:
        return False
    return True


def confined(link: Path, directory: Path) -> Path:
    """The file the symlink `link` resolves to, if it is inside `directory`; `PermissionError` if it is
    elsewhere, `FileNotFoundError` if it resolves to nothing (dangling, or a loop of links)."""
    try:
        root = directory.resolve(strict=True)
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        _refused(link, "a symbolic link that resolves to nothing")
        raise FileNotFoundError(errno.ENOENT, f"{link.name} resolves to nothing") from None
    if target.parent == root or root in target.parents:
        return target
    _refused(link, f"a symbolic link to {target}, outside {root}")
    raise PermissionError(errno.EACCES, f"{link.name} links to a file outside {root}")
