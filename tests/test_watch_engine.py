"""The watch engine in process (logtail/watches/engine.py): the hub's observers, evaluation per distinct
filter, what logs no watch covers cost, and the catch-up from a saved position."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from logtail.config import resolve
from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.match.filters import LineFilter
from logtail.sources.catalog import build_sources
from logtail.watches.blockfilter import Batch
from logtail.watches.engine import WatchEngine


def make(tmp_path: Path, watches: str, state: bool = False) -> WatchEngine:
    for name in ("app.log", "db.log", "quiet.log"):
        (tmp_path / name).touch()
    config = tmp_path / "logtail.toml"
    config.write_text('sources = ["app.log", "db.log", "quiet.log"]\n'
                      + (f'state_dir = "{tmp_path / "state"}"\n' if state else "")
                      + '[destinations.hook]\nurl = "http://127.0.0.1:9/"\n' + watches)
    settings = resolve({}, None, config, {})
    hub = Hub(settings.window_lines, settings.queue_bytes)
    return WatchEngine(settings, hub, build_sources(settings, hub))


def lines(log: str, *texts: str, start: int = 0) -> list[Line]:
    out, end = [], start
    for text in texts:
        end += len(text) + 1
        out.append(Line(log, text, "000000000000", end))
    return out


def publish(engine: WatchEngine, log: str, batch: list[Line]) -> None:
    """Published and evaluated at once (a server evaluates what waits within EVALUATE_DELAY)."""
    engine.hub.publish(log, batch, Cursor(log, "000000000000", batch[-1].end if batch else 0))
    engine.evaluate_waiting()


def test_every_line_is_evaluated_without_any_subscriber(tmp_path: Path) -> None:
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 100\n'
                            '[watches.b]\nlogs = ["*.log"]\nlevel = ["error"]\nthreshold = 100\n')
    publish(engine, "app.log", lines("app.log", "ERROR x", "INFO y", "error: z"))
    publish(engine, "db.log", lines("db.log", "ERROR q"))
    assert engine.hub.client_count == 0
    assert (engine.counters["a"].total, engine.counters["b"].total) == (1, 3)
    assert dict(engine.lines_by_level["app.log"]) == {"error": 2, "info": 1}


def test_a_shared_filter_is_evaluated_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make(tmp_path, "".join(f'[watches.w{i}]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 100\n'
                                    for i in range(5)))
    asked: list[LineFilter] = []
    original = Batch.hits

    def counting(self: Batch, flt: LineFilter) -> list[int]:
        asked.append(flt)
        return original(self, flt)

    monkeypatch.setattr(Batch, "hits", counting)
    publish(engine, "app.log", lines("app.log", "ERROR 1", "ok", "ERROR 2"))
    assert asked == [LineFilter(q="ERROR")]  # five watches, one filter: one evaluation of the batch
    assert [c.total for c in engine.counters.values()] == [2] * 5


def test_a_log_no_watch_covers_is_only_counted_by_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\n')
    monkeypatch.setattr(Batch, "hits", lambda *a: pytest.fail("evaluated a log no watch covers"))
    publish(engine, "quiet.log", lines("quiet.log", "ERROR not watched"))
    assert dict(engine.lines_by_level["quiet.log"]) == {"error": 1}


async def test_catch_up_from_a_saved_position_in_the_window(tmp_path: Path) -> None:
    """Lines published while the engine catches up wait in the window: evaluated once, in order."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "watches.json").write_text(json.dumps(
        {"version": 1, "positions": {"app.log": "app.log=000000000000:8"}, "watches": {}, "outbox": []}))
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 2\nnotify = ["hook"]\n',
                  state=True)
    engine.seeds.clear()  # no file was read at start here
    assert "app.log" in engine.catching_up
    batch = lines("app.log", "ERROR 0", "ERROR 1", "ERROR 2")  # the first ends at 8: already evaluated
    publish(engine, "app.log", batch)
    assert engine.counters["a"].total == 0  # not live yet
    task = asyncio.create_task(engine._catch_up_from("app.log", Cursor("app.log", "000000000000", 8)))
    await asyncio.wait_for(task, 10)
    assert engine.counters["a"].total == 2 and "app.log" not in engine.catching_up
    assert [a.count for a, _ in engine.outbox.values()] == [2]
    publish(engine, "app.log", lines("app.log", "ERROR 3", start=24))
    assert engine.counters["a"].total == 3
    await engine.client.aclose()
