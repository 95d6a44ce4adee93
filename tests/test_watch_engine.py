"""The watch engine in process (logtail/watches/engine.py): the hub's observers, evaluation per distinct
filter, what logs no watch covers cost, the catch-up from a saved position, and published blocks waiting to
be evaluated joined (arrivals.py): the same outcome as each on its own, in order, none lost at shutdown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtail.config import resolve
from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.match.filters import LineFilter
from logtail.sources.catalog import build_sources
from logtail.watches.arrivals import joined
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


# --- blocks wait, then are evaluated joined (logtail/watches/arrivals.py) -------------------------------------

LOGS = ("app.log", "db.log")
TEXTS = ("ERROR a", "INFO b", "WARN c", "ERROR d e")
WATCHES = ('[watches.a]\nlogs = ["*.log"]\nq = "ERROR"\nthreshold = 2\ncooldown = "0s"\nnotify = ["hook"]\n'
           '[watches.b]\nlogs = ["app.log"]\nlevel = ["warn"]\nthreshold = 1\ncooldown = "0s"\nnotify = ["hook"]\n'
           '[watches.c]\nlogs = ["*.log"]\nq = "ERROR"\nthreshold = 3\ncooldown = "1h"\nnotify = ["hook"]\n'
           '[watches.d]\nlogs = ["db.log"]\nq = "d e"\nthreshold = 1\ncooldown = "0s"\nnotify = ["hook"]\n')

published = st.lists(st.tuples(st.sampled_from(LOGS), st.lists(st.sampled_from(TEXTS), min_size=0, max_size=6),
                               st.booleans()), max_size=25)


def feed(engine: WatchEngine, blocks: list[tuple[str, list[str], bool]], each: bool) -> None:
    """Publish `blocks` (log, texts, as clean bytes or as lines) one after another in each log's file,
    evaluated after `each` of them or only at the end."""
    ends = dict.fromkeys(LOGS, 0)
    for log, texts, as_bytes in blocks:
        start = ends[log]
        if as_bytes:
            data = "".join(t + "\n" for t in texts).encode()
            ends[log] += len(data)
            engine.hub.publish(log, LineBlock.of_bytes(log, "000000000000", start, data),
                               Cursor(log, "000000000000", ends[log]))
        else:
            batch = lines(log, *texts, start=start)
            ends[log] = batch[-1].end if batch else start
            engine.hub.publish(log, batch, Cursor(log, "000000000000", ends[log]))
        if each:
            engine.evaluate_waiting()
    engine.evaluate_waiting()


def outcome(engine: WatchEngine) -> object:
    """What evaluating gave: the alerts in the order they fired, each counter, levels and positions."""
    alerts = [(a.watch, a.count, [line["text"] for line in a.lines]) for a in engine.unsaved]
    counters = {name: (c.total, c.pending, c.unspent, c.suppressed, [dict(s.record()) if isinstance(s, Line)
                                                                     else s for s in c.sample])
                for name, c in engine.counters.items()}
    return alerts, counters, {k: dict(v) for k, v in engine.lines_by_level.items()}, engine.positions


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(published)
def test_blocks_evaluated_joined_count_as_each_on_its_own(tmp_path: Path,
                                                          blocks: list[tuple[str, list[str], bool]]) -> None:
    """Blocks of several logs evaluated together fire the same alerts, in the same order, with the same lines,
    and leave the same counters, levels and positions as each block evaluated when it was published."""
    one_by_one, joined = make(tmp_path, WATCHES), make(tmp_path, WATCHES)
    for engine in (one_by_one, joined):
        engine.seeds.clear()
    feed(one_by_one, blocks, each=True)
    feed(joined, blocks, each=False)
    assert outcome(joined) == outcome(one_by_one)


def test_contiguous_blocks_of_one_file_are_joined() -> None:
    def of_bytes(start: int, data: bytes, fid: str = "000000000000") -> LineBlock:
        return LineBlock.of_bytes("app.log", fid, start, data)

    blocks = [of_bytes(0, b"a\nb\n"), of_bytes(4, b"c\n"), of_bytes(9, b"d\n"), of_bytes(11, b"e\n", "111111111111"),
              LineBlock.of_lines("app.log", lines("app.log", "f", start=20)),
              LineBlock.of_lines("app.log", lines("app.log", "g", start=22))]
    out = joined((block, n) for n, block in enumerate(blocks))
    assert [(block.data, block.start, parts) for block, parts in out] == [
        (b"a\nb\nc\n", 0, [(0, 0), (2, 1)]),  # 9 does not follow 6: a gap
        (b"d\n", 9, [(0, 2)]), (b"e\n", 11, [(0, 3)]),  # another file
        (b"", 0, [(0, 4), (1, 5)])]
    assert [line.text for line in out[-1][0].lines] == ["f", "g"]


async def test_waiting_blocks_are_evaluated_within_the_delay(tmp_path: Path) -> None:
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 100\n')
    engine.seeds.clear()
    engine.hub.publish("app.log", lines("app.log", "ERROR 1", "ok"), Cursor("app.log", "000000000000", 11))
    assert engine.counters["a"].total == 0 and engine.waiting  # waits: nobody called evaluate_waiting
    deadline = asyncio.get_running_loop().time() + 10
    while engine.counters["a"].total == 0 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert engine.counters["a"].total == 1 and engine.positions["app.log"].offset == 11
    await engine.client.aclose()


async def test_close_evaluates_what_waits_so_no_alert_is_missed_across_a_restart(tmp_path: Path) -> None:
    """A block published just before the server stops is evaluated by `close`: its alert is in the saved
    outbox (sent at the next start) and the saved position is past it; never a position past lines that
    were not evaluated."""
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 1\nnotify = ["hook"]\n',
                  state=True)
    engine.seeds.clear()
    engine.hub.publish("app.log", lines("app.log", "ok", "ERROR last"), Cursor("app.log", "000000000000", 14))
    assert "app.log" not in engine._snapshot()["positions"]  # not evaluated yet: its position is not saved
    await engine.close()
    saved = json.loads((tmp_path / "state" / "watches.json").read_text())
    assert saved["positions"] == {"app.log": "app.log=000000000000:14"}
    assert [(item["alert"]["count"], item["pending"]) for item in saved["outbox"]] == [(1, ["hook"])]
    assert engine._timer is None  # nothing left to run after the loop


async def test_a_cancelled_run_still_leaves_what_waited_saved(tmp_path: Path) -> None:
    """The server's shutdown: `run` is cancelled (and says so: the cancellation is not swallowed), then
    `close` saves the state, with what was published last evaluated."""
    engine = make(tmp_path, '[watches.a]\nlogs = ["app.log"]\nq = "ERROR"\nthreshold = 1\nnotify = ["hook"]\n',
                  state=True)
    engine.seeds.clear()
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0)
    engine.hub.publish("app.log", lines("app.log", "ERROR at the end"), Cursor("app.log", "000000000000", 17))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.close()
    saved = json.loads((tmp_path / "state" / "watches.json").read_text())
    assert saved["positions"] == {"app.log": "app.log=000000000000:17"}
    assert [item["alert"]["lines"][0]["text"] for item in saved["outbox"]] == ["ERROR at the end"]
