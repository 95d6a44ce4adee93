"""Log levels: the words that declare them, and the level a line declares."""

from __future__ import annotations

import pytest

from logtail.levels import LEVEL_OF, LEVELS, WORDS, detect_level


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
    ],
)
def test_detect_level(text: str, level: str | None) -> None:
    assert detect_level(text) == level



def test_words_not_spelling_a_level_do_not_fail_the_line() -> None:
    """Regression: the level regex paired any first letter with any word's rest, and a line starting
    "tarn" or "drr" raised KeyError: the follower reported the file unreadable and retried it forever."""
    for text in ("tarn", "drr", "watal", "pnfo", "eebug", "carn"):
        assert detect_level(text) is None


@pytest.mark.parametrize("word", sorted(LEVEL_OF))
def test_every_word_declares_its_level_in_any_case(word: str) -> None:
    for text in (word, word.upper(), f"[{word.title()}] x", f"2026-01-01 {word}: x"):
        assert detect_level(text) == LEVEL_OF[word]


def test_every_level_has_words() -> None:
    assert tuple(WORDS) == LEVELS and all(WORDS[level] for level in LEVELS)
