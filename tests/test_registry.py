"""The table of logs: configured files and glob matches, their names, their directories."""

from __future__ import annotations

import asyncio
from pathlib import Path

from logtail.config import LogSource, Settings
from logtail.core.hub import Hub
from logtail.sources.files.table import FileTable


def registry_of(*sources: LogSource) -> FileTable:
    return FileTable(Settings(sources=sources), Hub(10, 1 << 20))


async def test_files_and_glob_matches_become_logs_and_new_matches_join(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.log").write_text("a\n")
    (tmp_path / "jobs" / "notes.txt").write_text("x\n")
    reg = registry_of(LogSource("web", tmp_path / "access.log"),
                      LogSource(None, tmp_path / "jobs" / "*.log", is_glob=True))
    task = asyncio.create_task(reg.run())
    try:
        await asyncio.sleep(0)
        assert sorted(e.name for e in reg) == ["a.log", "web"]
        assert "web" in reg and reg.get("web") is not None and reg.get("nope") is None
        assert reg.directories() == {tmp_path, tmp_path / "jobs"}
        (tmp_path / "jobs" / "b.log").write_text("b\n")
        reg.changed.clear()
        reg.on_change(tmp_path / "jobs", "b.log", created=True)
        assert reg.changed.is_set() and "b.log" in reg
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        reg.close()


def test_glob_matches_with_clashing_or_unsafe_names_get_unique_safe_names(tmp_path: Path) -> None:
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "app.log").write_text("line\n")
    (tmp_path / "x" / "we ird.log").write_text("line\n")
    reg = registry_of(LogSource(None, tmp_path / "*" / "*.log", is_glob=True))
    reg.expand_globs()
    names = sorted(e.name for e in reg)
    assert len(names) == 3 and "app.log" in names and "we_ird.log" in names
    assert [n for n in names if n.startswith("app.log-")], names  # the second app.log, suffixed
    assert len({e.path for e in reg}) == 3


def test_a_change_wakes_only_the_follower_of_that_file(tmp_path: Path) -> None:
    reg = registry_of(LogSource("a", tmp_path / "a.log"), LogSource("b", tmp_path / "b.log"))
    for src in reg.settings.sources:
        reg._add(src.name or "", src.path, from_start=True)
    a, b = reg.get("a"), reg.get("b")
    assert a is not None and b is not None
    a.follower.wakeup.clear()
    b.follower.wakeup.clear()
    reg.on_change(tmp_path, "a.log")
    assert a.follower.wakeup.is_set() and not b.follower.wakeup.is_set()
    reg.on_change(tmp_path, None)  # unknown: everyone
    assert b.follower.wakeup.is_set()
