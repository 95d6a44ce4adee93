"""Soak: minutes of rotating writers and clients that come and go, resuming with Last-Event-ID.

    .venv/bin/python -m pytest -m soak tests/test_soak.py          # LOGTAIL_SOAK_SECONDS=180 by default

Three writers append numbered lines (`<log> <seq> ...`) and rotate their file by rename (`name.1` ->
`name.2`, `name` -> `name.1`). Clients on single-log and multi-log streams read for a random while, drop
the connection, wait, and reconnect with their last event id (header or query). Three clients are slow:
one reads through a small receive buffer and stops reading for 8-12 s every 10 s, one reads continuously
but throttled (1.5 MB/s, not far above the writers' combined rate): their queues overflow and they catch
up from the window and the files (`overflow=catchup`, the default); a third stalls like the first but
asks for `overflow=skip`, like the dashboard. At the end every client catches up with the last line of each log and
its record is checked: per log, each line's number is exactly the next one due, where a `gap` notice
advances what is due by its `missed` count (a gap without a count fails). Only the `skip` client may have
missed anything. Then the server's descriptor count and memory must be back to their baseline.

Rotations are spaced wider than any client stays away or lags behind: a cursor whose file was rotated
twice is beyond reach by design (only `name.1` is searched) and would end in a gap.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.streams import fd_count, gauge, parse_events, rss_kb
from tests.support import LogtailServer, wait_for

SECONDS = float(os.environ.get("LOGTAIL_SOAK_SECONDS", "180"))
pytestmark = [pytest.mark.soak, pytest.mark.timeout(SECONDS + 300)]
LOGS = ("a.log", "b.log", "c.log")
PAD = "p" * 300


class Writer(threading.Thread):
    """Appends `<log> <seq> <pad>` lines at a steady pace and rotates by rename every `rotate_every` s."""

    def __init__(self, path: Path, rate: float, rotate_every: float) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.rate = rate
        self.rotate_every = rotate_every
        self.seq = 0
        self.rotations = 0
        self.times: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        name = self.path.name
        next_rotation = time.monotonic() + self.rotate_every * random.uniform(0.75, 1.25)
        while not self.stop.is_set():
            batch = max(1, int(self.rate / 20))
            with self.path.open("a") as f:
                f.write("".join(f"{name} {self.seq + i} {PAD}\n" for i in range(batch)))
            self.seq += batch
            if time.monotonic() >= next_rotation:
                one, two = self.path.with_name(name + ".1"), self.path.with_name(name + ".2")
                if one.exists():
                    one.replace(two)
                self.path.rename(one)
                self.rotations += 1
                self.times.append((round(time.monotonic(), 2), self.seq))
                next_rotation = time.monotonic() + self.rotate_every * random.uniform(0.67, 1.25)
            self.stop.wait(1 / 20)


@dataclass
class Record:
    """What one client saw of one log: the number due next, lines received and missed."""

    due: int | None = None
    received: int = 0
    missed: int = 0
    errors: list[str] = field(default_factory=list)


class SoakClient:
    def __init__(self, base: str, logs: tuple[str, ...], *, slow: bool = False, rate: float | None = None,
                 overflow: str = "catchup", seed: int = 0) -> None:
        self.base = base
        self.logs = logs
        self.slow = slow
        self.rate = rate  # bytes a second this client reads at most
        self.overflow = overflow
        self.rng = random.Random(seed)
        self.last_id: str | None = None
        self.records = {log: Record() for log in logs}
        self.connections = 0
        self.other_notices: list[str] = []
        self.resumed_from: str | None = None
        self.left_at = 0.0
        self.stalled_at = 0.0

    @property
    def url(self) -> str:
        query = f"backlog=0&overflow={self.overflow}"
        if len(self.logs) == 1:
            return f"{self.base}/api/logs/{self.logs[0]}/stream?{query}"
        return f"{self.base}/api/stream?{query}&" + "&".join(f"log={n}" for n in self.logs)

    @property
    def slow_kind(self) -> bool:
        return self.slow or self.rate is not None

    def caught_up(self, last: dict[str, int]) -> bool:
        return all(r.due is not None and r.due >= last[log] for log, r in self.records.items())

    def _take(self, ev: dict[str, str]) -> None:
        if "id" in ev:
            self.last_id = ev["id"]
        kind = ev.get("event")
        if kind == "line":
            text = json.loads(ev["data"])["text"]
            log, seq, _ = text.split(" ", 2)
            r = self.records[log]
            if r.due is not None and int(seq) != r.due:
                r.errors.append(f"line {seq} where {r.due} was due (connection {self.connections})")
            r.due = int(seq) + 1
            r.received += 1
        elif kind == "notice":
            notice = json.loads(ev["data"])
            if notice["kind"] == "gap":
                r = self.records[notice["log"]]
                if "missed" not in notice:
                    r.errors.append(f"gap without a count: {notice['message']} at {time.monotonic():.2f} "
                                    f"resuming from {self.resumed_from} (left at {self.left_at:.2f})")
                elif r.due is not None:
                    r.due += notice["missed"]
                    r.missed += notice["missed"]
            else:
                self.other_notices.append(notice["kind"])

    async def session(self, duration: float) -> None:
        """One connection: resume after `last_id`, read for `duration` seconds (stalling if slow), drop it."""
        self.connections += 1
        self.resumed_from = self.last_id
        url, headers = self.url, {}
        if self.last_id is not None:
            if self.rng.random() < 0.5:
                headers["Last-Event-ID"] = self.last_id
            else:
                url += f"&last_event_id={quote(self.last_id)}"
        transport = httpx.AsyncHTTPTransport(
            socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)] if self.slow_kind else [])
        buf = bytearray()
        started, got = time.monotonic(), 0
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10, read=None)) as client:
            try:
                async with asyncio.timeout(duration), client.stream("GET", url, headers=headers) as resp:
                    assert resp.status_code == 200, resp.status_code
                    async for chunk in resp.aiter_raw():
                        buf += chunk
                        got += len(chunk)
                        if self.rate is not None:
                            await asyncio.sleep(max(0.0, got / self.rate - (time.monotonic() - started)))
                        end = buf.rfind(b"\n\n")
                        if end >= 0:
                            for ev in parse_events(bytes(buf[:end + 2]).decode()):
                                self._take(ev)
                            del buf[:end + 2]
                        if self.slow and time.monotonic() - self.stalled_at > 10:
                            await asyncio.sleep(self.rng.uniform(8, 12))  # stop reading for a while
                            self.stalled_at = time.monotonic()
            except TimeoutError:
                pass  # the planned disconnect; a partial event in `buf` is dropped, as a browser does
        self.left_at = time.monotonic()

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            await self.session(self.rng.uniform(20, 30) if self.slow_kind else self.rng.uniform(0.3, 6.0))
            await asyncio.sleep(self.rng.uniform(0, 2.0))

    async def catch_up(self, last: dict[str, int], within: float) -> None:
        deadline = time.monotonic() + within
        self.slow, self.rate = False, None
        while not self.caught_up(last) and time.monotonic() < deadline:
            await self.session(min(5.0, max(0.1, deadline - time.monotonic())))


async def test_soak_rotating_writers_and_reconnecting_clients(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in LOGS:
        (logs / name).touch()
    # The writers reopen their file for every batch, so a renamed file is never written again: a short
    # --rotate-wait keeps the follower on the current file, as the rotation spacing below assumes.
    server = LogtailServer([*(str(logs / n) for n in LOGS), "--window-lines", "300", "--queue-bytes", "65536",
                            "--backlog", "0", "--rotate-wait", "1"]).start(tmp_path)
    # a.log: 300 lines/s, rotated every 4-8 s. b.log and c.log: 1,000 lines/s (~600 kB/s together, so the
    # stalled client's buffers fill within seconds and its queue overflows), rotated every 27-50 s, longer
    # than that client lags behind (a stall plus its buffers): its cursor stays in `name` or `name.1`.
    writers = [Writer(logs / "a.log", rate=300, rotate_every=6.0),
               Writer(logs / "b.log", rate=1000, rotate_every=40.0),
               Writer(logs / "c.log", rate=1000, rotate_every=40.0)]
    try:
        assert server.proc is not None
        pid = server.proc.pid
        fds0 = fd_count(pid)
        for w in writers:
            w.start()
        await asyncio.sleep(3)  # the windows fill: the memory baseline includes them
        rss0 = rss_kb(pid)

        clients = [SoakClient(server.url, (n,), seed=i) for i, n in enumerate(LOGS * 2)]
        clients += [SoakClient(server.url, LOGS, seed=10 + i) for i in range(3)]
        clients.append(SoakClient(server.url, ("b.log", "c.log"), overflow="skip", slow=True, seed=98))
        clients.append(SoakClient(server.url, LOGS, rate=1.5e6, seed=97))
        clients.append(SoakClient(server.url, ("b.log", "c.log"), slow=True, seed=99))
        until = time.monotonic() + SECONDS
        last: dict[str, int] = {}
        stopped = asyncio.Event()

        async def stop_writers() -> None:
            await asyncio.sleep(SECONDS)
            for w in writers:
                w.stop.set()
                await asyncio.to_thread(w.join, 10)
            last.update({w.path.name: w.seq for w in writers})
            stopped.set()

        async def client_life(c: SoakClient) -> None:
            await c.run(until)
            await stopped.wait()  # a few seconds at most: no rotation can happen meanwhile
            await c.catch_up(last, 60)

        catching_up = 0.0

        async def watch_catch_up() -> None:
            nonlocal catching_up
            while not stopped.is_set():
                catching_up = max(catching_up, await asyncio.to_thread(gauge, server.url,
                                                                       "logtail_clients_catching_up"))
                await asyncio.sleep(0.5)

        await asyncio.gather(stop_writers(), watch_catch_up(), *(client_life(c) for c in clients))

        report = []
        for i, c in enumerate(clients):
            for log, r in c.records.items():
                report.append(f"client {i} {log}: {r.received} lines, {r.missed} missed, "
                              f"{c.connections} connections, due {r.due}/{last[log]}")
        print("\n".join(report))
        print("rotations:", {w.path.name: w.times for w in writers})
        for i, c in enumerate(clients):
            for log, r in c.records.items():
                assert not r.errors, (i, log, r.errors[:5])
                assert r.due == last[log], (i, log, r.due, last[log])
                assert r.received > 0
                if c.overflow == "catchup":
                    assert r.missed == 0, (i, log, "a catching-up client missed lines")
        assert sum(c.connections for c in clients) > len(clients) * 3
        assert sum(r.missed for r in clients[-3].records.values()) > 0, "the skip client never overflowed"
        assert catching_up > 0, "no client ever had to catch up"

        wait_for(lambda: gauge(server.url) == 0, 10, what="every stream to be closed")
        wait_for(lambda: fd_count(pid) <= fds0, 10, 0.1, f"fd count back to {fds0}")
        grown = rss_kb(pid) - rss0
        print(f"RSS {rss0} kB -> {rss_kb(pid)} kB, fds {fds0} -> {fd_count(pid)}")
        assert grown < 30_000, f"RSS grew by {grown} kB over the soak"
        assert "Traceback" not in server.output()
    finally:
        for w in writers:
            w.stop.set()
        server.stop()
