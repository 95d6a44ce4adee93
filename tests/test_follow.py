"""The follow policy, one scenario per test, on real files: FileFollower.step() driven directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtail.core.block import lines_of
from logtail.core.cursor import file_id, parse_cursors
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.core.lines import LineSplitter
from logtail.core.subscription import Subscription
from logtail.match.filters import LineFilter
from logtail.sources.files.follow import FileFollower
from logtail.sources.files.generation import seed_offset
from logtail.sources.files.readback import plan_lines, read_back
from tests.hub_support import FORMATS, PIECES
from tests.streams import append, async_wait_for


class Watcher:
    """A follower for one file with a subscriber recording everything the hub sends, in order."""

    def __init__(self, path: Path, *, seed_lines: int = 10, max_line_bytes: int = 65536,
                 from_start: bool = False, missing_grace: float = 0.0, rotate_wait: float = 0.0,
                 window_lines: int = 100_000) -> None:
        self.hub = Hub(window_lines=window_lines, queue_bytes=1 << 30)
        self.follower = FileFollower("t", path, self.hub, max_line_bytes=max_line_bytes,
                                     seed_lines=seed_lines, from_start=from_start, missing_grace=missing_grace,
                                     rotate_wait=rotate_wait)
        self.sub = Subscription(["t"], LineFilter(), "ndjson", 1 << 30, multi=False)
        self.hub.subscribe(["t"], self.sub)

    @classmethod
    def on_empty(cls, path: Path, **options: Any) -> Watcher:
        """A watcher of `path` made empty, past its first step: what is appended next is new."""
        path.write_bytes(b"")
        watcher = cls(path, **options)
        watcher.step()
        return watcher

    def step(self) -> list[dict[str, object]]:
        """Run the follower until it has nothing more to read; return the new lines and notices."""
        for _ in range(100_000):
            if not self.follower.step():
                break
        data = self.sub.take()
        return [json.loads(x) for x in data.splitlines()]

    def texts(self) -> list[str]:
        return [label(e) for e in self.step()]

    def taken(self) -> list[str]:
        """What the hub has sent since the last call, without stepping (the follower runs on its own)."""
        return [label(json.loads(x)) for x in self.sub.take().splitlines()]

    def ids(self) -> dict[str, str]:
        """Step; the new lines' ids by text."""
        return {str(e["text"]): str(e["id"]) for e in self.step() if "text" in e}

    def window(self) -> list[str]:
        return [line.text for line in self.hub.channel("t").recent()]


def label(event: dict[str, object]) -> str:
    return str(event["text"]) if "text" in event else f"<{event['kind']}>"


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
    w = Watcher.on_empty(log)
    append(log, b"one\ntw")
    assert w.texts() == ["one"]
    append(log, b"o\n")
    assert w.texts() == ["two"]


def test_multibyte_character_split_across_writes(log: Path) -> None:
    w = Watcher.on_empty(log)
    append(log, "日本".encode()[:4])
    assert w.texts() == []
    append(log, "日本".encode()[4:] + b"\n")
    assert w.texts() == ["日本"]


def test_crlf_invalid_utf8_and_empty_lines(log: Path) -> None:
    w = Watcher.on_empty(log)
    append(log, b"dos\r\n\xff\xfe\n\n")
    assert w.texts() == ["dos", "\ufffd\ufffd", ""]


def test_long_line_is_truncated_and_flagged(log: Path) -> None:
    w = Watcher.on_empty(log, max_line_bytes=100)
    append(log, b"z" * 1000 + b"\nafter\n")
    events = w.step()
    assert events[0]["text"] == "z" * 100 and events[0]["truncated"] is True
    assert events[1]["text"] == "after" and "truncated" not in events[1]


def test_rotation_by_rename_drains_the_old_file_then_follows_the_new(log: Path) -> None:
    w = Watcher.on_empty(log)
    append(log, b"a\n")
    assert w.texts() == ["a"]
    append(log, b"b\n")
    log.rename(log.with_name("app.log.1"))
    append(log.with_name("app.log.1"), b"late\n")  # written by the app before it reopened its log
    log.write_bytes(b"new\n")
    assert w.texts() == ["b", "late", "<rotated>", "new"]


def test_rename_seen_before_the_new_file_exists_is_still_a_rotation(log: Path) -> None:
    """inotify wakes the follower on the rename, before the app creates the new file: not `missing`."""
    w = Watcher.on_empty(log, missing_grace=60)
    append(log, b"a\n")
    log.rename(log.with_name("app.log.1"))
    assert w.texts() == ["a"]  # the name is gone for now: keep draining the old file, no notice yet
    append(log.with_name("app.log.1"), b"late\n")
    assert w.texts() == ["late"]
    log.write_bytes(b"new\n")
    assert w.texts() == ["<rotated>", "new"]


def test_lines_written_to_a_renamed_file_after_the_new_one_appeared_are_read(log: Path) -> None:
    """The old file was read to its end once, at the rotation: what the app still wrote to its descriptor
    of the renamed file was lost. It is drained until it is deleted (or quiet for rotate_wait), and the new
    file's lines wait for it: files are read one after the other."""
    w = Watcher.on_empty(log, rotate_wait=60)
    append(log, b"a\n")
    assert w.texts() == ["a"]
    old = log.with_name("app.log.1")
    log.rename(old)
    log.write_bytes(b"new\n")
    assert w.texts() == []
    append(old, b"late 1\n")
    assert w.texts() == ["late 1"]
    append(old, b"late 2\npartial")
    assert w.texts() == ["late 2"]
    old.unlink()
    assert w.texts() == ["partial", "<rotated>", "new"]
    append(log, b"more\n")
    assert w.texts() == ["more"]


async def test_a_quiet_renamed_file_is_let_go_after_rotate_wait_without_a_wakeup(log: Path) -> None:
    """The follower sets its own deadline: nothing else happens in the directory, yet the new file is read."""
    log.write_bytes(b"")
    w = Watcher(log, rotate_wait=0.3)
    follower = w.follower
    task = asyncio.create_task(follower.run())
    received: list[str] = []

    async def until(check: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(10):
                while not check():
                    await asyncio.sleep(0.01)
                    received.extend(w.taken())
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; received {received}") from None

    try:
        follower.wake()
        await until(lambda: follower.gen is not None, "the file opened")
        append(log, b"a\n")
        log.rename(log.with_name("app.log.1"))
        log.write_bytes(b"new\n")
        follower.wake()  # the one wake-up the watcher gives for the rename
        await until(lambda: "a" in received and follower.draining, "the old file drained")
        await until(lambda: "new" in received, "the new file after rotate_wait")
        assert received == ["a", "<rotated>", "new"] and not follower.draining
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        follower.close()


def test_quiet_means_not_written_for_rotate_wait(log: Path) -> None:
    """A renamed file last written longer ago than rotate_wait is let go as soon as it is read to its end."""
    w = Watcher.on_empty(log, rotate_wait=60)
    append(log, b"old\n")
    os.utime(log, (os.stat(log).st_atime, os.stat(log).st_mtime - 61))
    log.rename(log.with_name("app.log.1"))
    log.write_bytes(b"new\n")
    assert w.texts() == ["old", "<rotated>", "new"]


def test_names_rotated_twice_while_the_first_file_is_drained_are_read_in_turn(log: Path) -> None:
    """Each file that had the name is read once, in the order they had it (the newest must not be queued
    twice when the one before it, itself renamed meanwhile, gets its turn)."""
    w = Watcher.on_empty(log, rotate_wait=60)
    append(log, b"a1\n")
    assert w.texts() == ["a1"]
    one, two = log.with_name("app.log.1"), log.with_name("app.log.2")
    log.rename(one)
    log.write_bytes(b"b1\n")
    assert w.texts() == []
    one.rename(two)
    log.rename(one)
    log.write_bytes(b"c1\n")
    append(two, b"a2\n")
    append(one, b"b2\n")
    assert w.texts() == ["a2"]
    two.unlink()
    assert w.texts() == ["<rotated>", "b1", "b2"]
    append(one, b"b3\n")
    assert w.texts() == ["b3"]
    one.unlink()
    assert w.texts() == ["<rotated>", "c1"]
    append(log, b"c2\n")
    assert w.texts() == ["c2"]
    assert not w.follower.queue and not w.follower.draining


def test_name_gone_without_a_new_file_keeps_draining_then_missing(log: Path) -> None:
    w = Watcher.on_empty(log, rotate_wait=60)
    old = log.with_name("app.log.1")
    log.rename(old)  # nocreate: the app creates the file again when it reopens
    assert w.texts() == []
    append(old, b"late\n")
    assert w.texts() == ["late"]
    log.write_bytes(b"reopened\n")
    assert w.texts() == []
    old.unlink()
    assert w.texts() == ["<rotated>", "reopened"]
    log.rename(old)
    assert w.texts() == []
    old.unlink()
    assert w.texts() == ["<missing>"]


def test_unrotated_steps_make_no_extra_system_calls(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Draining renamed files costs nothing on the common path: a wake-up on a file that was not rotated
    makes one stat and the head check's pread, plus one pread when it grew (a short read is the end: no
    second read to find nothing, and the stat of the path gives the size: no fstat)."""
    w = Watcher.on_empty(log, rotate_wait=60)
    calls: list[str] = []
    for name in ("stat", "fstat", "pread", "open", "close"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, _n=name, _r=real: (calls.append(_n), _r(*a))[1])
    append(log, b"x\n")
    assert w.follower.step() is False
    assert sorted(calls) == ["pread", "pread", "stat"]  # the head check, the line
    calls.clear()
    assert w.follower.step() is False
    assert sorted(calls) == ["pread", "stat"]


async def test_ids_of_late_lines_resume_exactly(log: Path) -> None:
    """A position in a renamed file resumes with the rest of that file, then the next one from its start,
    whether the renamed file is still being drained or already let go (then it is NAME.1)."""
    log.write_bytes(b"")
    w = Watcher(log, rotate_wait=60, window_lines=1)  # a 1-line window: resume reads the files back
    w.step()
    append(log, b"a\n")
    w.step()
    old = log.with_name("app.log.1")
    log.rename(old)
    log.write_bytes(b"new 1\n")
    w.step()
    append(old, b"late 1\nlate 2\nlate 3\n")
    ids = w.ids()
    assert list(ids) == ["late 1", "late 2", "late 3"]
    assert await resumed(w, ids["late 1"]) == ["late 2", "late 3"]  # the rest is live
    assert w.texts() == []
    os.utime(old, (0, 0))  # not written for longer than rotate_wait: let go, and still there as NAME.1
    append(log, b"new 2\n")
    assert w.texts() == ["<rotated>", "new 1", "new 2"]
    assert await resumed(w, ids["late 1"]) == ["late 2", "late 3", "new 1", "new 2"]
    assert await resumed(w, ids["late 3"]) == ["new 1", "new 2"]


async def resumed(w: Watcher, last_event_id: str) -> list[str]:
    """What a client reconnecting with `last_event_id` is sent before live lines: the window or read-back."""
    cursor = parse_cursors(last_event_id)["t"]
    ch = w.hub.channel("t")
    after = ch.lines_after(cursor)
    if after is not None:
        return [line.text for line in after]
    p = read_back(ch, w.follower, cursor, 1 << 30)
    try:
        texts = [line.text async for batch in plan_lines(p, 65536) for line in lines_of(batch)]
        assert not p.notices
        return texts
    finally:
        p.close()


def test_copytruncate_is_reported_and_read_from_zero(log: Path) -> None:
    w = Watcher.on_empty(log)
    append(log, b"old line one\nold line two\n")
    w.step()
    with log.open("r+b") as f:
        f.truncate(0)
    append(log, b"x\n")
    assert w.texts() == ["<truncated>", "x"]


def test_rewrite_that_grew_past_the_offset_is_still_a_truncation(log: Path) -> None:
    """A file rewritten with new content longer than what we had read must not be read from the middle."""
    w = Watcher.on_empty(log)
    append(log, b"first\n")
    w.step()
    with log.open("r+b") as f:
        f.truncate(0)
        f.write(b"SECOND VERSION\n")
    assert w.texts() == ["<truncated>", "SECOND VERSION"]


def test_deleted_then_recreated(log: Path) -> None:
    w = Watcher.on_empty(log)
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
    w = Watcher.on_empty(log)
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join), max_size=8),
       cap=st.integers(1, 24))
def test_reads_give_every_format_the_per_line_bytes(writes: list[bytes], cap: int) -> None:
    """Past the file's first HEAD_BYTES, clean reads are published as blocks of bytes (block.py): what each
    format's client receives must be what the per-line path gives for the whole file, byte for byte."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.log"
        path.write_bytes(b"".join(b"head %03d\n" % i for i in range(40)))  # 360 bytes
        w = Watcher(path, from_start=True, max_line_bytes=cap)
        subs = {fmt: Subscription(["t"], LineFilter(), fmt, 1 << 30, multi=False) for fmt in FORMATS}
        for s in subs.values():
            w.hub.subscribe(["t"], s)
        w.step()
        for data in writes:
            append(path, data)
            w.step()
        content = path.read_bytes()
        reference = [Line("t", r.text, file_id(content, r.end), r.end, r.truncated)
                     for r in LineSplitter(cap).feed(content)]
        for fmt, s in subs.items():
            assert s.take() == b"".join(line.frame(fmt) for line in reference), fmt
        assert [(x.text, x.end, x.fid) for x in w.hub.channel("t").recent()] == [
            (x.text, x.end, x.fid) for x in reference]
        w.follower.close()


def test_a_clean_read_reaches_a_text_client_as_the_bytes_written(log: Path) -> None:
    log.write_bytes(b"x" * 299 + b"\n")
    w = Watcher(log, from_start=True)
    text = Subscription(["t"], LineFilter(), "text", 1 << 30, multi=False)
    w.hub.subscribe(["t"], text)
    w.step()
    written = "".join(f"line {i} é\n" for i in range(500)).encode()
    append(log, written)
    w.step()
    assert text.take() == b"x" * 299 + b"\n" + written
    assert w.hub.channel("t").blocks[-1].data == written  # one block of bytes: no Line made for it
    assert w.window()[-1] == "line 499 é"


async def test_a_step_that_fails_in_the_watchers_callback_backs_off_before_the_next(tmp_path: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch
                                                                                     ) -> None:
    """A parked follower steps straight from `wake`; when that step fails, its task retries only after the
    backoff (one failure, one warning and one notice), not at once."""
    log = tmp_path / "app.log"
    log.write_text("one\n")
    w = Watcher(log)
    follower = w.follower
    task = asyncio.create_task(follower.run())
    try:
        await async_wait_for(lambda: follower.parked, within=5)  # the first step done, waiting for a change
        follower.backoff = 30.0  # a retry inside this test can only be one that skipped the backoff
        calls: list[int] = []

        def failing_step() -> bool:
            calls.append(1)
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(follower, "step", failing_step)
        follower.wake()  # parked and due: stepped right here
        assert calls == [1]
        await async_wait_for(lambda: not follower.parked and follower.failing, within=5)
        for _ in range(20):
            await asyncio.sleep(0)
        assert calls == [1]
        assert [e["kind"] for e in map(json.loads, w.sub.take().splitlines()) if "kind" in e] == ["unreadable"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
