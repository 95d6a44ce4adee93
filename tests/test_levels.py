"""levels.py: a line's level from a structured key (the key decides) or from a word near its start."""

from __future__ import annotations

import pytest

from logtail.levels import LEVEL_KEYS, SYNONYMS, detect_level


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
