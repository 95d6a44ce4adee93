"""The watches at work: every published line of a watched log is evaluated here, whether or not anyone
streams it, and positions, counters and undelivered alerts are kept in the state file.

The hub calls `observe()` for every published batch (`Hub.observers`), which only keeps it: each log's
batches are evaluated joined within `EVALUATE_DELAY` (arrivals.py), each match counted at the time its line
was published. A log no watch covers costs a count by level. Each distinct filter among a log's watches is
evaluated once per joined batch.

Never missed, never doubled: an alert is handed to its destinations only once the state that holds it (and
the positions past its lines) is on disk. A crash before that re-evaluates the lines at the next start and
fires it then; a crash after that finds it in the saved outbox and sends it. At start, each watched log with
a saved position is evaluated from there to the live position through the read-back a lagging client uses
(the hub's window, else the files, `sources/files/readback.py`; a shipped log's Redis stream); its live
lines wait in the window meanwhile, and it joins the live evaluation in one step of the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from logtail.config import Settings
from logtail.core.block import LineBlock, lines_of
from logtail.core.cursor import Cursor, parse_cursors
from logtail.core.hub import Hub
from logtail.match.filters import LineFilter
from logtail.sources.base import Sources
from logtail.sources.redis.client import Client
from logtail.watches.arrivals import EVALUATE_DELAY, Arrival, Part, joined, runs
from logtail.watches.blockfilter import Batch
from logtail.watches.coordination import AlertClaims, node_identity
from logtail.watches.counter import Alert, Run, WatchCounter
from logtail.watches.delivery import BACKOFF_CAP, Destination, Outcome, describe, send_once
from logtail.watches.spec import WatchSpec
from logtail.watches.statefile import StateFile

if TYPE_CHECKING:
    pass


log = logging.getLogger(__name__)
SAVE_INTERVAL = 1.0  # positions alone are saved at most this often; a new alert is saved at once
TICK = 1.0  # how often ended cooldowns are checked for the alert they owe
POSITION_WAIT = 0.1
RECENT = 5  # alerts per watch kept for the page (their lines are marked in the watch's live view)
# A shipped log found in Redis within this long of the start is seeded with lines shipped before it: not news.
# One found later is a host that began shipping meanwhile: its first lines are evaluated.
SHIPPED_SEED_GRACE = 15.0  # a watched log's first position (the follower opening its file) is polled this often


class WatchEngine:
    def __init__(self, settings: Settings, hub: Hub, sources: Sources, backoff_cap: float | None = None,
                 redis: Client | None = None) -> None:
        self.settings = settings
        self.hub = hub
        self.sources = sources
        self.specs = {spec.name: spec for spec in settings.watches}
        self.counters = {name: WatchCounter(spec) for name, spec in self.specs.items()}
        self.client = httpx.AsyncClient(follow_redirects=False)
        cap = backoff_cap if backoff_cap is not None else BACKOFF_CAP
        self.destinations = {d.name: Destination(d, self.client, self._delivered, cap) for d in settings.destinations}
        self.lines_by_level: dict[str, Counter[str | None]] = {}
        self.outcomes: Counter[tuple[str, str, str]] = Counter()  # (watch, destination, outcome)
        self.last_error: dict[str, str | None] = dict.fromkeys(self.specs)
        self.last_alert: dict[str, Alert] = {}
        self.recent_alerts: dict[str, deque[Alert]] = {name: deque(maxlen=RECENT) for name in self.specs}
        self._covering: dict[str, list[tuple[LineFilter, list[WatchSpec]]]] = {}
        self.positions: dict[str, Cursor] = {}  # each watched log evaluated up to here
        self.catching_up: dict[str, Cursor] = {}  # logs evaluated from a saved position, not live yet
        self.waiting: dict[str, list[Arrival]] = {}  # published, evaluated within EVALUATE_DELAY (arrivals.py)
        self._seq = itertools.count()  # the order of arrival across logs
        self._timer: asyncio.TimerHandle | None = None  # the next evaluation of what waits
        self.outbox: dict[str, tuple[Alert, set[str]]] = {}  # alert id -> (alert, destinations still to tell)
        self.unsaved: list[Alert] = []  # fired, not on disk yet: not sent yet
        self.store = StateFile(Path(settings.state_dir)) if settings.state_dir else None
        self._dirty = asyncio.Event()
        self._urgent = asyncio.Event()
        self.identity = node_identity()  # replaced by the saved one: a claim made before a restart is ours
        self._restore()
        self.claims = AlertClaims(redis, self.identity) if redis is not None else None
        self.started = time.monotonic()
        self.seeds = self._seed_sizes()  # log -> its size at start: the lines up to there are old
        hub.observers.append(self.observe)

    def _seed_sizes(self) -> dict[str, int]:
        # A file present at start is followed from its last lines (the window's seed), published as the
        # follower opens it: those lines were written before this start. Measured before the followers run.
        sizes = {}
        for src in self.settings.sources:
            found = glob.glob(str(src.path)) if src.is_glob else [str(src.path)]
            for path in found:
                name = src.name or Path(path).name
                if self._watches_of(name):
                    with contextlib.suppress(OSError):
                        sizes[name] = os.stat(path).st_size
        return sizes

    # --- evaluation (on the hub's publish path: no awaits) ---------------------------------------------------

    def observe(self, name: str, block: LineBlock, position: Cursor) -> None:
        """A published block: what the watches evaluate of it waits (arrivals.py) for `evaluate_waiting`."""
        groups = self._watches_of(name)
        if not block.count:
            if groups and name not in self.catching_up and name not in self.seeds:
                self._wait(name, Arrival(block, None, position, 0.0, 0))
            return
        evaluated: LineBlock | None = None
        if groups and not self._shipped_seed(name):
            evaluated = block
            seed = self.seeds.get(name)
            if seed is not None:
                # Lines that were in the file at start (the window's seed) are not news: never evaluated as new.
                evaluated = LineBlock.of_lines(name, [line for line in block.lines if line.end > seed])
                if position.offset >= seed:
                    del self.seeds[name]
            if name in self.catching_up:
                evaluated = None  # these lines are in the window: the catch-up evaluates them in order
        self._wait(name, Arrival(block, evaluated, None if evaluated is None else position, time.time(),
                                 next(self._seq)))

    def _wait(self, name: str, arrival: Arrival) -> None:
        waiting = self.waiting.get(name)
        if waiting is None:
            self.waiting[name] = [arrival]
        else:
            waiting.append(arrival)
        if self._timer is None:
            with contextlib.suppress(RuntimeError):  # no loop: a test that publishes calls evaluate_waiting
                self._timer = asyncio.get_running_loop().call_later(EVALUATE_DELAY, self.evaluate_waiting)

    def evaluate_waiting(self) -> None:
        """Evaluate every waiting block, each log's joined (arrivals.py), their matches counted in the order
        and at the times they arrived; then each log's position moves past them."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self.waiting = self.waiting, {}
        found: dict[str, list[tuple[int, int, Run]]] = {}
        for name, arrivals in waiting.items():
            self._count_levels(name, [a.block for a in arrivals if a.block.count and a.evaluated is not a.block])
            evaluated = [(a.evaluated, a) for a in arrivals if a.evaluated is not None and a.evaluated.count]
            for block, parts in joined(evaluated):
                batch = Batch(block)
                if all(a.evaluated is a.block for _, a in parts):
                    self._by_level(name).update(batch.levels)
                else:
                    self._count_levels(name, [a.block for _, a in parts if a.evaluated is a.block])
                self._find(name, batch, parts, found)
            position = next((a.position for a in reversed(arrivals) if a.position is not None), None)
            if position is not None:
                self.positions[name] = position
                self._dirty.set()
        self._count(found)

    def _count_levels(self, name: str, blocks: list[LineBlock]) -> None:
        for block, _ in joined((b, None) for b in blocks):
            self._by_level(name).update(Batch(block).levels)

    def _by_level(self, name: str) -> Counter[str | None]:
        by_level = self.lines_by_level.get(name)
        if by_level is None:
            by_level = self.lines_by_level[name] = Counter()
        return by_level

    def _shipped_seed(self, name: str) -> bool:
        # The Redis reader publishes a newly found log's last entries before adding it to the table.
        return (self._not_found_yet(name)
                and time.monotonic() - self.started < SHIPPED_SEED_GRACE)

    def _not_found_yet(self, name: str) -> bool:
        # A shipped log the Redis reader has published but not yet added to its table.
        return bool(self.settings.redis) and "@" in name and name not in self.sources

    def _watches_of(self, name: str) -> list[tuple[LineFilter, list[WatchSpec]]]:
        groups = self._covering.get(name)
        if groups is None:
            by_filter: dict[LineFilter, list[WatchSpec]] = {}
            for spec in self.specs.values():
                if spec.covers(name):
                    by_filter.setdefault(spec.filter, []).append(spec)
            groups = self._covering[name] = list(by_filter.items())
        return groups

    def _evaluate(self, name: str, block: LineBlock) -> None:
        """A block read back (catching up) evaluated now, after every block published before."""
        self.evaluate_waiting()
        found: dict[str, list[tuple[int, int, Run]]] = {}
        self._find(name, Batch(block), [(0, Arrival(block, block, None, time.time(), next(self._seq)))], found)
        self._count(found)

    def _find(self, name: str, batch: Batch, parts: list[Part],
              found: dict[str, list[tuple[int, int, Run]]]) -> None:
        """Each distinct filter once per batch: its runs of matches go to every watch that shares it, with
        (place of arrival, place of the watch among the log's) to count and fire them in that order."""
        order = 0
        for flt, specs in self._watches_of(name):
            matched = runs(batch, flt, parts)
            for spec in specs:
                if matched:
                    found.setdefault(spec.name, []).extend((seq, order, run) for seq, run in matched)
                order += 1

    def _count(self, found: dict[str, list[tuple[int, int, Run]]]) -> None:
        fired: list[tuple[int, int, Alert]] = []
        for watch, matched in found.items():
            matched.sort(key=itemgetter(0))  # a watch over several logs: in the order the lines arrived
            for i, alert in self.counters[watch].add_runs([run for _, _, run in matched]):
                fired.append((matched[i][0], matched[i][1], alert))
        fired.sort(key=itemgetter(0, 1))
        for _, _, alert in fired:
            self._fired(alert)

    def _fired(self, alert: Alert) -> None:
        log.info("watch %s: alert %s (%d matches)", alert.watch, alert.id, alert.count)
        self.last_alert[alert.watch] = alert
        self.recent_alerts[alert.watch].appendleft(alert)
        notify = set(self.specs[alert.watch].notify)
        if notify:
            self.outbox[alert.id] = (alert, notify)
            self.unsaved.append(alert)
            self._urgent.set()
        self._dirty.set()

    # --- delivery -----------------------------------------------------------------------------------------

    def _dispatch(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            entry = self.outbox.get(alert.id)
            for dest in sorted(entry[1]) if entry else ():
                self.destinations[dest].put(alert)

    def _delivered(self, outcome: Outcome) -> None:
        alert = outcome.alert
        self.outcomes[(alert.watch, outcome.destination, outcome.outcome)] += 1
        if outcome.outcome == "failed":
            self.last_error[alert.watch] = outcome.error
        elif outcome.outcome == "sent":
            self.last_error[alert.watch] = None
        entry = self.outbox.get(alert.id)
        if entry is not None:
            entry[1].discard(outcome.destination)
            if not entry[1]:
                del self.outbox[alert.id]
            self._dirty.set()

    def error_of(self, name: str) -> str | None:
        """The watch's last delivery error: a refusal (4xx), else a destination failing right now (retrying)."""
        retrying = (self.destinations[d].last_error for d in self.specs[name].notify)
        return self.last_error.get(name) or next((e for e in retrying if e), None)

    async def test(self, name: str) -> list[dict[str, Any]]:
        """Send a test alert to each of the watch's destinations once; what each answered."""
        spec = self.specs[name]
        alert = Alert(f"{name}-test-{int(time.time())}", name, time.time(), 0, spec.threshold, spec.window, [],
                      test=True)
        results = []
        for dest_name in spec.notify:
            dest = self.destinations[dest_name].spec
            response, exc = await send_once(self.client, dest, alert)
            ok = response is not None and response.status_code < 400
            results.append({"destination": dest_name, "ok": ok,
                            "status": response.status_code if response is not None else None,
                            "error": None if ok else describe(dest, response, exc)})
        return results

    # --- running ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for dest in self.destinations.values():
                group.create_task(dest.run(), name=f"alerts-{dest.spec.name}")
            group.create_task(self._send([alert for alert, _ in self.outbox.values() if alert not in self.unsaved]))
            for name, cursor in list(self.catching_up.items()):
                group.create_task(self._catch_up(name, cursor), name=f"watch-catch-up-{name}")
            group.create_task(self._tick(), name="watch-cooldowns")
            group.create_task(self._persist(), name="watch-state")

    async def close(self) -> None:
        """After `run` was cancelled: what waits evaluated and the last state to disk (undelivered alerts,
        those it fired too, are sent at the next start)."""
        self.evaluate_waiting()
        if self.store is not None:
            await self.store.save(self._snapshot())
        await self.client.aclose()
        if self.claims is not None:
            await self.claims.client.aclose()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.evaluate_waiting()  # matches that arrived before now count before a cooldown's end fires
            now = time.time()
            for counter in self.counters.values():
                alert = counter.tick(now)
                if alert is not None:
                    self._fired(alert)

    async def _persist(self) -> None:
        while True:
            await self._dirty.wait()
            if not self._urgent.is_set():
                try:  # positions alone: coalesce the saves
                    await asyncio.wait_for(self._urgent.wait(), SAVE_INTERVAL)
                except TimeoutError:
                    pass
            self._dirty.clear()
            self._urgent.clear()
            fired, self.unsaved = self.unsaved, []
            if self.store is not None:
                try:
                    await self.store.save(self._snapshot())
                except OSError as exc:
                    log.error("cannot save the watches' state to %s: %s", self.store.path, exc)
            await self._send(fired)

    async def _send(self, alerts: list[Alert]) -> None:
        """To the destinations, unless another node claimed the alert (coordination.py)."""
        for alert in alerts:
            spec = self.specs[alert.watch]
            if self.claims is not None and not await self.claims.claim(alert, spec.cooldown, spec.window):
                log.info("watch %s: alert %s is sent by another node", alert.watch, alert.id)
                self.outbox.pop(alert.id, None)
                self._dirty.set()
                continue
            self._dispatch([alert])

    # --- catching up after a restart ------------------------------------------------------------------------

    async def _catch_up(self, name: str, cursor: Cursor) -> None:
        try:
            await self._catch_up_from(name, cursor)
        except Exception:  # a failed catch-up must not stop the watches: the log is evaluated live from now
            log.exception("watches: %s: cannot evaluate the lines written while the server was down", name)
            for _, specs in self._watches_of(name):
                for spec in specs:
                    self.counters[spec.name].note(f"{name}: lines written while the server was down were not "
                                                  "evaluated (see the server's log)")
            self.catching_up.pop(name, None)

    async def _catch_up_from(self, name: str, cursor: Cursor) -> None:
        ch = self.hub.channel(name)
        # The follower has not opened the log, or not read its seed yet: polled, the hub announces neither.
        while ch.position is None or name in self.seeds or self._not_found_yet(name):  # noqa: ASYNC110
            await asyncio.sleep(POSITION_WAIT)
        groups = self._watches_of(name)
        while True:
            # No await between reading the window and going live: every later line is observed live.
            after = [] if cursor == ch.position else ch.lines_after(cursor)
            if after is not None:
                self._evaluate(name, LineBlock.of_lines(name, after))
                self.positions[name] = ch.position
                del self.catching_up[name]
                self._dirty.set()
                log.info("watches: %s evaluated up to its live position", name)
                return
            cursor = await self._read_back(name, cursor, groups)

    async def _read_back(self, name: str, cursor: Cursor, groups: list[tuple[LineFilter, list[WatchSpec]]]) -> Cursor:
        ch = self.hub.channel(name)
        assert ch.position is not None
        end = ch.position
        source = self.sources.find(name)
        if source is None:
            return end
        reading = await source.read_after(ch, cursor, "ndjson", False)
        try:
            if reading.after_hole:
                message = f"{name}: lines written while the server was down are gone (rotated away or truncated)"
                for _, specs in groups:
                    for spec in specs:
                        self.counters[spec.name].note(message)
            async for batch in reading.blocks or _nothing():
                if isinstance(batch, bytes):
                    continue  # a notice: the lines are what a watch counts
                block = batch if isinstance(batch, LineBlock) else LineBlock.of_lines(name, batch)
                self._evaluate(name, block)
                lines = lines_of(batch)
                if lines:
                    self.positions[name] = Cursor(name, lines[-1].fid, lines[-1].end)
                    self._dirty.set()
        finally:
            reading.close()
        return reading.end

    # --- the state file -------------------------------------------------------------------------------------

    def _restore(self) -> None:
        data = self.store.load() if self.store is not None else {}
        self.identity = str(data.get("node") or self.identity)
        for text in data.get("positions", {}).values():
            for name, cursor in parse_cursors(text).items():
                if self._watches_of(name):
                    self.catching_up[name] = self.positions[name] = cursor
        for name, saved in data.get("watches", {}).items():
            if name in self.counters:
                self.counters[name].load(saved)
        for item in data.get("outbox", []):
            alert = Alert.from_json(item["alert"])
            pending = {d for d in item["pending"] if d in self.destinations}
            if alert.watch in self.specs and pending:
                self.outbox[alert.id] = (alert, pending)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "node": self.identity,
            "positions": {name: str(cursor) for name, cursor in self.positions.items()},
            "watches": {name: counter.dump() for name, counter in self.counters.items()},
            "outbox": [{"alert": alert.to_json(), "pending": sorted(pending)}
                       for alert, pending in self.outbox.values()],
        }


async def _nothing() -> Any:
    return
    yield  # an empty async generator
