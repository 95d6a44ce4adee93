"""Change notification: each backend wakes the follower of a file that changed, and finds new glob matches."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from logtail.config import LogSource, Settings
from logtail.hub import Hub
from logtail.registry import LogRegistry
from logtail.watch import pick_backend, watch


async def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def test_auto_is_inotify_on_linux() -> None:
    assert pick_backend("auto") == "inotify" and pick_backend("poll") == "poll"


@pytest.mark.parametrize(("backend", "poll_interval"), [("inotify", 60.0), ("watchfiles", 60.0), ("poll", 0.2)])
async def test_backend_wakes_the_follower_and_sees_new_glob_matches(tmp_path: Path, backend: str,
                                                                    poll_interval: float) -> None:
    """The rescan runs only every `poll_interval`: with 60 s, what happens within the test is the backend's."""
    (tmp_path / "a.log").write_text("a\n")
    settings = Settings(sources=(LogSource(None, tmp_path / "*.log", is_glob=True),), poll_interval=poll_interval)
    reg = LogRegistry(settings, Hub(10, 1 << 20))
    reg.expand_globs()
    entry = reg.get("a.log")
    assert entry is not None
    task = asyncio.create_task(watch(reg, backend, poll_interval))
    try:
        await asyncio.sleep(0.3)  # the backend's watches are in place
        entry.follower.wakeup.clear()
        with (tmp_path / "a.log").open("a") as f:
            f.write("more\n")
        await wait_until(entry.follower.wakeup.is_set)
        (tmp_path / "b.log").write_text("b\n")
        await wait_until(lambda: "b.log" in reg)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        reg.close()
