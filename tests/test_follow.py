"""The follow policy, one scenario per test, on real files: FileFollower.step() driven directly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from logtail.filters import LineFilter
from logtail.follow import FileFollower, seed_offset
from logtail.hub import Hub, Subscription


class Watcher:
    """A follower for one file with a subscriber recording everything the hub sends, in order."""

    def __init__(self, path: Path, *, seed_lines: int = 10, max_line_bytes: int = 65536,
                 from_start: bool = False, missing_grace: float = 0.0, rotate_wait: float = 0.0) -> None:
        self.hub = Hub(window_lines=100_000, queue_bytes=1 << 30)
        self.follower = FileFollower("t", path, self.hub, max_line_bytes=max_line_bytes,
                                     seed_lines=seed_lines, from_start=from_start, missing_grace=missing_grace,
                                     rotate_wait=rotate_wait)
        self.sub = Subscription(["t"], LineFilter(), "ndjson", 1 << 30, multi=False)
        self.hub.subscribe(["t"], self.sub)

    def step(self) -> list[dict[str, object]]:
        """Run the follower until it has nothing more to read; return the new lines and notices."""
        for _ in range(100_000):
            if not self.follower.step():
                break
        data = self.sub.take()
        return [json.loads(x) for x in data.splitlines()]

    def texts(self) -> list[str]:
        return [str(e["text"]) if "text" in e else f"<{e['kind']}>" for e in self.step()]

    def window(self) -> list[str]:
        return [line.text for line in self.hub.channel("t").window]


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "app.log"


def test_existing_file_seeds_the_last_lines_and_holds_a_partial_one(log: Path) -> None:
    log.write_bytes(b"".join(b"l%d\n" % i for i in range(50)) + b"part")
    w = Watcher(log, seed_lines=3)
    assert w.texts() == ["l47", "l48", "l49"]
    append(log, b"ial\n")
    assert w.texts() == ["partial"]


def test_appended_lines_arrive_and_partial_lines_wait_for_their_newline(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"one\ntw")
    assert w.texts() == ["one"]
    append(log, b"o\n")
    assert w.texts() == ["two"]


def test_multibyte_character_split_across_writes(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, "日本".encode()[:4])
    assert w.texts() == []
    append(log, "日本".encode()[4:] + b"\n")
    assert w.texts() == ["日本"]


def test_crlf_invalid_utf8_and_empty_lines(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"dos\r\n\xff\xfe\n\n")
    assert w.texts() == ["dos", "\ufffd\ufffd", ""]


def test_long_line_is_truncated_and_flagged(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log, max_line_bytes=100)
    w.step()
    append(log, b"z" * 1000 + b"\nafter\n")
    events = w.step()
    assert events[0]["text"] == "z" * 100 and events[0]["truncated"] is True
    assert events[1]["text"] == "after" and "truncated" not in events[1]


def test_rotation_by_rename_drains_the_old_file_then_follows_the_new(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"a\n")
    assert w.texts() == ["a"]
    append(log, b"b\n")
    log.rename(log.with_name("app.log.1"))
    append(log.with_name("app.log.1"), b"late\n")  # written by the app before it reopened its log
    log.write_bytes(b"new\n")
    assert w.texts() == ["b", "late", "<rotated>", "new"]


def test_rename_seen_before_the_new_file_exists_is_still_a_rotation(log: Path) -> None:
    """inotify wakes the follower on the rename, before the app creates the new file: not `missing`."""
    log.write_bytes(b"")
    w = Watcher(log, missing_grace=60)
    w.step()
    append(log, b"a\n")
    log.rename(log.with_name("app.log.1"))
    assert w.texts() == ["a"]  # the name is gone for now: keep draining the old file, no notice yet
    append(log.with_name("app.log.1"), b"late\n")
    assert w.texts() == ["late"]
    log.write_bytes(b"new\n")
    assert w.texts() == ["<rotated>", "new"]


def test_copytruncate_is_reported_and_read_from_zero(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"old line one\nold line two\n")
    w.step()
    with log.open("r+b") as f:
        f.truncate(0)
    append(log, b"x\n")
    assert w.texts() == ["<truncated>", "x"]


def test_rewrite_that_grew_past_the_offset_is_still_a_truncation(log: Path) -> None:
    """A file rewritten with new content longer than what we had read must not be read from the middle."""
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"first\n")
    w.step()
    with log.open("r+b") as f:
        f.truncate(0)
        f.write(b"SECOND VERSION\n")
    assert w.texts() == ["<truncated>", "SECOND VERSION"]


def test_deleted_then_recreated(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"a\n")
    w.step()
    append(log, b"last words\n")
    log.unlink()
    assert w.texts() == ["last words", "<missing>"]
    assert w.texts() == []
    log.write_bytes(b"reborn\n")
    assert w.texts() == ["<appeared>", "reborn"]


def test_missing_at_start_including_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "later" / "app.log"
    w = Watcher(path)
    assert w.texts() == []
    path.parent.mkdir()
    path.write_bytes(b"hello\n")
    assert w.texts() == ["<appeared>", "hello"]


def test_symlink_is_followed_by_name(tmp_path: Path) -> None:
    real1, real2 = tmp_path / "v1.log", tmp_path / "v2.log"
    real1.write_bytes(b"")
    link = tmp_path / "current.log"
    link.symlink_to(real1)
    w = Watcher(link)
    w.step()
    append(real1, b"one\n")
    assert w.texts() == ["one"]
    real2.write_bytes(b"two\n")
    tmp = tmp_path / "tmp.link"
    tmp.symlink_to(real2)
    tmp.replace(link)
    assert w.texts() == ["<rotated>", "two"]


def test_burst_of_200000_lines_complete_and_in_order(log: Path) -> None:
    log.write_bytes(b"")
    w = Watcher(log)
    w.step()
    append(log, b"".join(b"%d\n" % i for i in range(200_000)))
    assert [int(t) for t in w.texts()] == list(range(200_000))


def test_glob_match_appearing_later_is_read_from_its_first_line(log: Path) -> None:
    log.write_bytes(b"first\nsecond\n")
    w = Watcher(log, from_start=True)
    assert w.texts() == ["first", "second"]


@pytest.mark.parametrize("size_lines", [0, 1, 5])
def test_seed_offset(tmp_path: Path, size_lines: int) -> None:
    path = tmp_path / "s.log"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(size_lines)) + b"tail")
    fd = os.open(path, os.O_RDONLY)
    try:
        off = seed_offset(fd, path.stat().st_size, 2)
    finally:
        os.close(fd)
    expected = b"".join(b"%d\n" % i for i in range(max(0, size_lines - 2)))
    assert off == len(expected)
