"""levels.py: a line's level from a structured key (the key decides) or from a word near its start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.match.levels import LEVEL_KEYS, LEVELS, SYNONYMS, TEXT_WORDS, WORDS, detect_level, detect_levels
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
        ("2026-01-01 ERROR boom", "error"),
        ("[warn] disk", "warn"),
        ("level=info msg=x", "info"),
        ('{"level": "debug", "msg": "x"}', "debug"),
        ('{"severity":"WARNING"}', "warn"),
        ("FATAL: dead", "error"),
        ("nothing here", None),
        ("terrorist", None),
        ("\x1b[32mINFO\x1b[0m started", "info"),
        ("\x1b[1;31mERROR\x1b[0m boom", "error"),
        ("Critical: x", "error"),
        ("EMERGENCY", "error"),
        ("a notice", "info"),
        ("tarn warn x", "warn"),  # a word made of one level word's first letter and another's rest
        ("drr pnfo eebug", None),
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
def test_detect_level(text: str, level: str | None) -> None:
    assert detect_level(text) == level



def test_words_not_spelling_a_level_do_not_fail_the_line() -> None:
    """Regression: the level regex paired any first letter with any word's rest, and a line starting
    "tarn" or "drr" raised KeyError: the follower reported the file unreadable and retried it forever."""
    for text in ("tarn", "drr", "watal", "pnfo", "eebug", "carn"):
        assert detect_level(text) is None


@pytest.mark.parametrize("word", TEXT_WORDS)
def test_every_word_declares_its_level_in_any_case(word: str) -> None:
    for text in (word, word.upper(), f"[{word.title()}] x", f"2026-01-01 {word}: x"):
        assert detect_level(text) == SYNONYMS[word]


def test_every_level_has_words_and_every_word_a_level() -> None:
    assert tuple(WORDS) == LEVELS and all(WORDS[level] for level in LEVELS)
    assert sorted(w for words in WORDS.values() for w in words) == sorted(SYNONYMS)
    assert set(TEXT_WORDS) <= set(SYNONYMS)


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


LEVEL_PIECES = ["level=", "lvl=", "severity=", "loglevel=", "xlevel=", "xloglevel=", "log", "INFO", "info",
                "Warn", "err", "error", "\t", '"', '"info"', " ", "x" * 50, "x" * 190, "{", "\x1b[31m", "debug",
                "=", "information", "notice", "lvl=\t", "a\tb", "\twarn", '{"level":"warn"}']


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(LEVEL_PIECES), max_size=8).map("".join), min_size=1, max_size=6))
def test_levels_of_a_block_are_each_lines_level(texts: list[str]) -> None:
    """detect_levels takes shortcuts over the whole block (one kind of key, no JSON, no colour): the
    answers must stay detect_level's, line by line."""
    assert detect_levels(texts, "".join(t + "\n" for t in texts)) == [detect_level(t) for t in texts]


VALUE_PIECES = ["info", "WARN", "Err", "x", '"', " ", "\t", "=", "warning"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["lvl=", "level=", "loglevel=", "severity="]),
       st.lists(st.tuples(st.sampled_from(["", "a ", "x\t", "b" * 190 + " ", "b" * 193 + " ", "b" * 196 + " ", "sub"]),
                          st.lists(st.sampled_from(VALUE_PIECES), max_size=5).map("".join)),
                min_size=1, max_size=6))
def test_levels_of_a_block_where_every_line_has_a_key(key: str, parts: list[tuple[str, str]]) -> None:
    """The shortcut that reads every line's key value at once (no Python per line) answers as detect_level."""
    texts = [prefix + key + value for prefix, value in parts]
    assert detect_levels(texts, "".join(t + "\n" for t in texts)) == [detect_level(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "2026-01-02 ", "[", "<", "x" * 75 + " ", "x" * 79, "t", "é ", "İ"]),
                          st.sampled_from([*TEXT_WORDS, "tarn", "Information", "INFO", "Warn", "errors"]),
                          st.sampled_from(["", " msg", "] ok", ">", "x", " error"])),
                min_size=1, max_size=6))
def test_levels_of_a_block_of_plain_lines(parts: list[tuple[str, str, str]]) -> None:
    """The shortcut that looks up every line's first level word at once answers as detect_level."""
    texts = ["".join(p) for p in parts]
    assert detect_levels(texts, "".join(t + "\n" for t in texts)) == [detect_level(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "level"),
    [("a lvl=warn b", "warn"), ('lvl="error x"', None), ('lvl="err', None), ("lvl=info\t\t b", "info"),
     ("info sublvl=error", "info"), ("debug xloglevel=error", "debug"), ("loglevel=error", "error"),
     ("x" * 197 + " lvl=error", None), ("x" * 195 + " lvl=error", "error")],
)
def test_levels_of_a_block_on_keyed_lines(text: str, level: str | None) -> None:
    assert detect_level(text) == level
    assert detect_levels([text, "plain"], text + "\nplain\n") == [level, None]
