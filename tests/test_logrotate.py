"""Debian's real `logrotate` against a real `logtail serve`, read by a real SSE client.

- `create` (with `compress` and `delaycompress`): the file is renamed to `app.log.1` and a new `app.log` is
  created; a writer that reopens its log for each batch keeps writing a few lines to its old descriptor
  after a rotation. Every line must reach the reader exactly once, and an id of a line read late from the
  renamed file must resume exactly.
- `copytruncate`: the file is copied, then truncated in place. No line may be repeated, and a line may only
  be missing (it was written between the copy and the truncation, or before the follower read it) right
  after a `truncated` notice.

logrotate runs with its own state file and configuration in tmp_path (`logrotate -f -s STATE CONF`) and is
forced every 0.3 s while 20,000 numbered lines are written in batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.streams import SSEClient, gauge
from tests.support import LogtailServer, Start, require_tool, wait_for

TOTAL = 20_000
BATCH = 200
LATE = 3  # lines written to the old descriptor after a rotation
ROTATE_EVERY = 0.3
PAD = "x" * 40
pytestmark = pytest.mark.slow


def numbered(n: int) -> bytes:
    return f"{n:06d} {PAD}\n".encode()


class Rotator:
    """Forces logrotate every ROTATE_EVERY seconds in a thread; `lock` keeps writes out of a rotation."""

    def __init__(self, binary: str, log: Path, directives: str) -> None:
        self.conf = log.parent.parent / "logrotate.conf"
        self.conf.write_text(f"{log} {{\n    {directives}\n    rotate 100\n    missingok\n}}\n")
        self.cmd = [binary, "-f", "-s", str(log.parent.parent / "logrotate.state"), str(self.conf)]
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rotate(self) -> None:
        with self.lock:
            subprocess.run(self.cmd, check=True, timeout=20, capture_output=True)
            self.count += 1

    def _run(self) -> None:
        while not self.stop.wait(ROTATE_EVERY):
            self.rotate()

    def __enter__(self) -> Rotator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def serve(start_server: Start, log: Path, rotate_wait: str) -> LogtailServer:
    # LOGTAIL_ROTATE_WAIT through the environment: a server without the setting ignores it (and loses lines)
    # instead of refusing to start, so the test shows the loss itself.
    return start_server(str(log), "--backlog", "0", "--window-lines", "50", env={"LOGTAIL_ROTATE_WAIT": rotate_wait})


def setup_log(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    log = logs / "app.log"
    log.touch()
    return log


def numbers(client: SSEClient) -> list[int]:
    return [int(text.split()[0]) for text in client.lines()]


def got_last(client: SSEClient) -> bool:
    return bool(client.received) and client.received[-1][1] == numbered(TOTAL - 1).decode().rstrip("\n")


def stream_order(client: SSEClient) -> list[int | str]:
    """Line numbers and notice kinds, in the order received."""
    out: list[int | str] = []
    for ev in client.events:
        data = json.loads(ev["data"]) if ev.get("event") in ("line", "notice") else None
        if data is not None:
            out.append(int(data["text"].split()[0]) if ev["event"] == "line" else str(data["kind"]))
    return out


async def subscribed(server: LogtailServer) -> None:
    await asyncio.to_thread(wait_for, lambda: gauge(server.url) == 1, 10, what="the stream to be open")


async def run_writer(write: Callable[[], None], rotator: Rotator) -> None:
    with rotator:
        await asyncio.to_thread(write)


# --- create ---------------------------------------------------------------------------------------------

class ReopeningWriter:
    """Appends numbered lines in batches, opening the log for each batch; the previous batch's descriptor
    stays open, and when that file was rotated meanwhile a few more lines go to it before it is closed."""

    def __init__(self, log: Path, rotator: Rotator) -> None:
        self.log = log
        self.rotator = rotator
        self.next = 0
        self.late: list[int] = []  # numbers written to a renamed file
        self.previous: BinaryIO | None = None
        self.final_late: list[int] = []  # written to the renamed file after the last rotation

    def emit(self, f: BinaryIO, count: int) -> list[int]:
        first, self.next = self.next, self.next + count
        f.write(b"".join(numbered(n) for n in range(first, self.next)))
        f.flush()
        return list(range(first, self.next))

    def batch(self, count: int) -> None:
        with self.rotator.lock:  # a rotation may fall between batches, never inside one
            old = self.previous
            if old is not None:
                st = os.fstat(old.fileno())
                if st.st_nlink and st.st_ino != self.log.stat().st_ino:
                    self.late += self.emit(old, min(LATE, TOTAL - self.next))  # renamed, not yet compressed
                old.close()
            self.previous = self.log.open("ab")
            self.emit(self.previous, min(count, TOTAL - self.next))

    def write_most(self) -> None:
        while TOTAL - self.next > 3 * BATCH:
            self.batch(BATCH)
            self.rotator.stop.wait(0.04)  # spread the writes over several rotations

    def write_end(self) -> None:
        """A batch, a last rotation, lines still written to the renamed file, then the rest to the new one."""
        self.batch(BATCH)
        self.rotator.rotate()
        before = len(self.late)
        self.batch(TOTAL)
        self.final_late = self.late[before:]

    def close(self) -> None:
        if self.previous is not None:
            self.previous.close()


async def test_create_rotation_every_line_exactly_once(tmp_path: Path, start_server: Start) -> None:
    """Lines a writer appends to its descriptor of a renamed file were lost: the follower read the old file
    to its end once, at the rotation, and never again."""
    binary = require_tool("logrotate", "logrotate")
    log = setup_log(tmp_path)
    server = serve(start_server, log, "2")
    rotator = Rotator(binary, log, "create\n    compress\n    delaycompress")
    writer = ReopeningWriter(log, rotator)
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(url) as client:
        await subscribed(server)
        try:
            await run_writer(writer.write_most, rotator)
            await asyncio.to_thread(writer.write_end)
            assert writer.next == TOTAL and len(writer.final_late) == LATE
            # The last line is the last one read (it is in the newest file): then all have arrived.
            await client.wait(lambda: got_last(client), 25, "the last line")
        finally:
            writer.close()
        got = numbers(client)
        counts = Counter(got)
        assert [n for n, c in counts.items() if c > 1] == []
        assert sorted(got) == list(range(TOTAL)), f"missing: {sorted(set(range(TOTAL)) - set(got))[:50]}"
        assert rotator.count >= 5 and len(writer.late) >= 2 * LATE

        # An id of a line read late from the renamed file (app.log.1, outside the 50-line window):
        # reconnecting with it gives exactly what followed it.
        first_late, *other_late = writer.final_late
        since = got[got.index(first_late) + 1:]
        assert since[: LATE - 1] == other_late and since[-1] == TOTAL - 1
        resume_id = client.id_of(numbered(first_late).decode().rstrip("\n"))
    async with SSEClient(url, headers={"Last-Event-ID": resume_id}) as again:
        await again.wait(lambda: len(again.received) >= len(since), 10, "the lines after the late one")
        assert numbers(again) == since
        assert again.notices("gap") == []


# --- copytruncate ---------------------------------------------------------------------------------------

def write_one_descriptor(log: Path, rotator: Rotator) -> None:
    """One descriptor opened for append for the whole run: copytruncate is for programs that never reopen."""
    with log.open("ab") as f:
        for first in range(0, TOTAL, BATCH):
            with rotator.lock:
                f.write(b"".join(numbered(n) for n in range(first, first + BATCH)))
                f.flush()
            rotator.stop.wait(0.04)


async def test_copytruncate_never_repeats_and_loses_only_after_a_truncated_notice(tmp_path: Path,
                                                                                  start_server: Start) -> None:
    binary = require_tool("logrotate", "logrotate")
    log = setup_log(tmp_path)
    server = serve(start_server, log, "2")
    rotator = Rotator(binary, log, "copytruncate\n    compress\n    delaycompress")
    async with SSEClient(f"{server.url}/api/logs/app.log/stream") as client:
        await subscribed(server)
        await run_writer(lambda: write_one_descriptor(log, rotator), rotator)
        await client.wait(lambda: got_last(client), 25, "the last line")
        order = stream_order(client)
    assert rotator.count >= 5 and "truncated" in order
    expected = 0
    after_truncation = False
    for item in order:
        if isinstance(item, str):
            after_truncation = after_truncation or item == "truncated"
            continue
        assert item >= expected, f"line {item} repeated or out of order (expected {expected} or later)"
        assert item == expected or after_truncation, f"lines {expected}..{item - 1} lost without a notice"
        expected, after_truncation = item + 1, False
    assert expected == TOTAL
