"""levels.py: a line's level from a structured key (the key decides) or from a word near its start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.levels import LEVEL_KEYS, SYNONYMS, detect_level
from tests.support import LogtailServer


@pytest.mark.parametrize("key", LEVEL_KEYS)
@pytest.mark.parametrize(("word", "level"), sorted(SYNONYMS.items()))
def test_each_key_and_synonym_in_json_and_logfmt(key: str, word: str, level: str) -> None:
    for value in (word, word.upper(), word.capitalize()):
        assert detect_level(f'{{"msg": "x", "{key}": "{value}"}}') == level
        assert detect_level(f"ts=1 {key}={value} msg=x") == level
        assert detect_level(f'ts=1 {key}="{value}" msg=x') == level
    assert detect_level(f'{{"{key.upper()}":"{word}"}}') == level  # keys are case-insensitive too


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ('msg="retrying after error" level=info', "info"),  # the key decides, not the word
        ('{"msg": "fatal error in worker", "severity": "notice"}', "info"),
        ('{"msg": "error", "level": "verbose"}', None),  # a key with no level word: no level
        ("level=chatty error", None),
        ("ERROR loglevel_x=info", "error"),  # not a level key: the word near the start counts
        ("sublevel=x ERROR", "error"),
        ("2026-01-01 WARNING disk", "warn"),
        ("nothing here level", None),
        ("\x1b[31mlevel=error\x1b[0m x", "error"),
    ],
)
def test_key_decides(text: str, level: str | None) -> None:
    assert detect_level(text) == level


async def test_levels_from_each_key_on_a_real_stream_and_search(
        start_server: Callable[..., LogtailServer], tmp_path: Path) -> None:
    """The level filter sees the keyed level, on the stream (window and live) and in search."""
    lines = [f'{{"{key}": "Error", "msg": "x"}}' for key in LEVEL_KEYS]
    lines += [f"{key}=fatal msg=y" for key in LEVEL_KEYS]
    lines += ['msg="retrying after error" level=info', '{"msg": "error here", "severity": "warning"}',
              "ERROR plain"]
    log = tmp_path / "app.log"
    log.write_text("".join(line + "\n" for line in lines))
    server = start_server(str(log))
    errors = [*lines[:8], "ERROR plain"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        async with http.stream("GET", "/api/logs/app.log/stream?backlog=100&level=error&format=ndjson") as resp:
            got = resp.aiter_lines()
            async with asyncio.timeout(10):
                received = [json.loads(await anext(got)) for _ in errors]
            assert [r["text"] for r in received] == errors and {r["level"] for r in received} == {"error"}
            with log.open("a") as f:
                f.write("lvl=info msg=error\nlvl=crit msg=ok\n")
            async with asyncio.timeout(10):
                assert json.loads(await anext(got))["text"] == "lvl=crit msg=ok"
        resp = await http.get("/api/logs/app.log/search", params={"level": "warn", "order": "oldest"})
        hits = [json.loads(x) for x in resp.text.splitlines() if "event" not in json.loads(x)]
        assert [(h["text"], h["level"]) for h in hits] == [(lines[9], "warn")]
