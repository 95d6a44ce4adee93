"""Multi-line events through a real server: `multiline = "python"` in a log's table joins a traceback to
its logged line; one event is one SSE event whose id is the position after its last line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.config import ConfigError, resolve
from tests.streams import TRACEBACK, SSEClient, append
from tests.support import LogtailServer

Start = Callable[..., LogtailServer]


def config(tmp_path: Path, log: Path, wait: str = "300ms", extra: str = "") -> Path:
    cfg = tmp_path / "logtail.toml"
    cfg.write_text(f'[logs.app]\npath = "{log}"\nmultiline = "python"\nmultiline_wait = "{wait}"\n{extra}')
    return cfg


def records(client: SSEClient) -> list[dict[str, object]]:
    return [json.loads(e["data"]) for e in client.events if e.get("event") == "line"]


def test_multiline_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[logs.a]\npath = "a.log"\nmultiline = {start = "^\\\\d{4}-"}\nmultiline_wait = 2\n'
                   '[logs.b]\npath = "b.log"\nmultiline = "java"\n')
    a, b = resolve({}, None, cfg, {}).sources
    assert (a.multiline, a.multiline_start, a.multiline_wait) == (None, r"^\d{4}-", 2.0)
    assert (b.multiline, b.multiline_start, b.multiline_wait) == ("java", None, 1.0)
    for body, message in [('multiline = "ruby"', "logs.a.multiline: 'ruby' is not one of python, java, indent"),
                          ('multiline = {start = "(?=x)"}', "logs.a.multiline: start: invalid regex"),
                          ('multiline = "java"\nmultiline_wait = "soon"', "logs.a.multiline_wait must be"),
                          ('multiline = "java"\nmultiline_wait = 0', "logs.a.multiline_wait must be"),
                          ('multiline_wait = "1s"', "logs.a.multiline_wait needs logs.a.multiline")]:
        cfg.write_text(f'[logs.a]\npath = "a.log"\n{body}\n')
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
            resolve({}, None, cfg, {})


def test_multiline_on_the_command_line_and_in_logtail_sources(tmp_path: Path) -> None:
    """A SOURCE's `:multiline=` and `:multiline_wait=` (any order, after `:parse=` or not), the top-level
    `multiline_wait` as the default of every log that has none of its own."""
    specs = ["app=/var/log/app.log:multiline=python", "/var/log/j.log:parse=json:multiline=java:multiline_wait=250ms",
             r"s=/var/log/s.log:multiline=start:^\d{4}-:parse=(?P<level>[A-Z]+)", "plain=/var/log/p.log"]
    for sources, environ in [(specs, {}), (None, {"LOGTAIL_SOURCES": " ".join(f"'{s}'" for s in specs)})]:
        app, j, s, plain = resolve({"multiline_wait": "2s"}, sources, None, environ).sources
        assert (app.name, app.multiline, app.multiline_wait) == ("app", "python", 2.0)
        assert (j.name, j.parse, j.multiline, j.multiline_wait) == ("j.log", "json", "java", 0.25)
        assert (s.multiline_start, s.parse, s.multiline_wait) == (r"^\d{4}-", "(?P<level>[A-Z]+)", 2.0)
        assert (plain.multiline_spec, plain.multiline_wait) == (None, None)
    assert resolve({}, ["a=/a.log:multiline=auto"], None, {"LOGTAIL_MULTILINE_WAIT": "500ms"}).sources[0] \
        .multiline_wait == 0.5
    cfg = tmp_path / "c.toml"
    cfg.write_text('multiline_wait = "3s"\n[logs.a]\npath = "a.log"\nmultiline = "indent"\n')
    assert resolve({}, None, cfg, {}).sources[0].multiline_wait == 3.0
    for spec, flags, message in [
        ("a=/a.log:multiline=ruby", {}, "source 'a=/a.log:multiline=ruby': multiline: 'ruby' is not one of"),
        ("a=/a.log:multiline=start:(?=x)", {}, "multiline: start: invalid regex"),
        ("a=/a.log:multiline_wait=1s", {}, "multiline_wait needs :multiline="),
        ("a=/a.log:multiline=java:multiline_wait=soon", {}, "multiline_wait must be a duration"),
        ("a=/a.log:multiline=java:multiline=python", {}, ":multiline= given twice"),
        ("a=/a.log", {"multiline_wait": "0"}, "--multiline-wait: multiline_wait must be a duration"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            resolve(flags, [spec], None, {})


def test_serve_and_ship_take_multiline_wait_and_refuse_a_bad_one_with_exit_2(tmp_path: Path) -> None:
    for command in ("serve", "ship"):
        result = subprocess.run([sys.executable, "-m", "logtail", command, "--multiline-wait", "2 minutes",
                                 "--redis", "redis://127.0.0.1:1", f"a={tmp_path}/a.log:multiline=python"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, result.stderr
        assert "--multiline-wait: multiline_wait must be a duration" in result.stderr


async def test_a_traceback_is_one_event_with_the_level_of_its_first_line(start_server: Start,
                                                                         tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    server = start_server("--config", str(config(tmp_path, log)))
    async with SSEClient(f"{server.url}/api/logs/app/stream?level=error") as errors, \
            SSEClient(f"{server.url}/api/logs/app/stream") as everything:
        append(log, ["2026-10-10 13:55:35,000 INFO before", *TRACEBACK, "2026-10-10 13:55:37,000 INFO after"])
        assert await errors.wait_lines(1) == ["\n".join(TRACEBACK)]
        # The last event waits for the next line or the wait, then goes out as it is.
        assert await everything.wait_lines(3) == ["2026-10-10 13:55:35,000 INFO before", "\n".join(TRACEBACK),
                                                  "2026-10-10 13:55:37,000 INFO after"]
        got = records(everything)
        assert [r["level"] for r in got] == ["info", "error", "info"]
        size = os.path.getsize(log)
        assert str(got[1]["id"]).endswith(f":{size - len('2026-10-10 13:55:37,000 INFO after') - 1}")
        assert str(got[2]["id"]).endswith(f":{size}")
    # q= finds the event by its last frame; a reconnect after the first event gets the rest whole.
    async with SSEClient(f"{server.url}/api/logs/app/stream?backlog=10&q=KeyError") as client:
        assert await client.wait_lines(1) == ["\n".join(TRACEBACK)]
    async with SSEClient(f"{server.url}/api/logs/app/stream?backlog=10",
                         headers={"Last-Event-ID": str(got[0]["id"])}) as client:
        assert await client.wait_lines(2) == ["\n".join(TRACEBACK), "2026-10-10 13:55:37,000 INFO after"]


async def test_an_event_split_across_writes(start_server: Start, tmp_path: Path) -> None:
    """A pause shorter than the wait keeps the event whole; a longer one sends it as it is."""
    log = tmp_path / "app.log"
    log.write_text("")
    server = start_server("--config", str(config(tmp_path, log, wait="2s")))
    async with SSEClient(f"{server.url}/api/logs/app/stream") as client:
        append(log, TRACEBACK[:2])
        await asyncio.sleep(0.3)  # the writer's pause, shorter than the wait
        append(log, TRACEBACK[2:])
        assert await client.wait_lines(1, 15) == ["\n".join(TRACEBACK)]  # sent after the 2 s of quiet
        append(log, TRACEBACK[:3])
        assert await client.wait_lines(2, 15) == ["\n".join(TRACEBACK), "\n".join(TRACEBACK[:3])]
        append(log, TRACEBACK[3:])  # too late to join: events of their own (no traceback header in them)
        assert await client.wait_lines(4, 15) == ["\n".join(TRACEBACK), "\n".join(TRACEBACK[:3]), *TRACEBACK[3:]]


async def test_rotation_ends_an_event_and_read_back_keeps_events_whole(start_server: Start, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    # The renamed file is let go 0.2 s after its last write, not 5 s: `rotated` comes sooner.
    server = start_server("--config", str(config(tmp_path, log, wait="30s")), "--window-lines", "2",
                          env={"LOGTAIL_ROTATE_WAIT": "0.2"})
    async with SSEClient(f"{server.url}/api/logs/app/stream") as client:
        append(log, ["2026-10-10 13:55:35,000 INFO one", *TRACEBACK[:3]])
        assert await client.wait_lines(1) == ["2026-10-10 13:55:35,000 INFO one"]
        os.rename(log, tmp_path / "app.log.1")
        append(log, ["    continued in the new file"])
        await client.wait(lambda: client.notices("rotated"), 20)
        assert await client.wait_lines(2, 20) == ["2026-10-10 13:55:35,000 INFO one", "\n".join(TRACEBACK[:3])]
        append(log, [*TRACEBACK, "2026-10-10 13:55:38,000 INFO last"])
        assert (await client.wait_lines(4, 20))[2:] == ["    continued in the new file", "\n".join(TRACEBACK)]
        first_id = str(records(client)[0]["id"])
    # The window holds 2 events: resuming after the first reads the rest back from the files, as events.
    async with SSEClient(f"{server.url}/api/logs/app/stream", headers={"Last-Event-ID": first_id}) as client:
        # The last line waits (30 s) for what may continue it: it is not sent yet.
        assert await client.wait_lines(3, 20) == ["\n".join(TRACEBACK[:3]), "    continued in the new file",
                                                  "\n".join(TRACEBACK)]
