"""Log levels: the four levels, the words that declare them, and finding the level a line declares.

The one home of the level words: the stream filter, the search prefilter and the page (which gets the list
from the server) all use these.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Level = Literal["error", "warn", "info", "debug"]
LEVELS: tuple[Level, ...] = get_args(Level)

# The words (any case) that declare each level, as common formats spell them: "2026-… ERROR", "[warn]",
# "level=info", syslog's "crit" and "emerg", Go's "panic", JSON's "severity": "notice".
WORDS: dict[Level, tuple[str, ...]] = {
    "error": ("fatal", "crit", "critical", "emerg", "emergency", "alert", "err", "error", "panic"),
    "warn": ("warn", "warning"),
    "info": ("info", "notice"),
    "debug": ("debug", "trace"),
}
LEVEL_OF: dict[str, Level] = {word: level for level, words in WORDS.items() for word in words}

# Our own patterns over untrusted text, kept simple and bounded: the level word is looked for in the first
# LEVEL_SCAN characters (where timestamps and levels sit in every common format), and in JSON lines after a
# "level"/"severity"/"lvl" key. This runs for every line read, so it matters for throughput: scanning 200
# characters cost several times more than these.
LEVEL_SCAN = 80
_JSON_LEVEL = re.compile(r'(?i)"(?:level|severity|lvl)"\s*:\s*"([a-z]+)"')
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _word_pattern() -> re.Pattern[str]:
    # Any first letter of a word, then the rest of any word as a trie ("rit(?:ical)?"): the regex engine
    # skips quickly over text that cannot start a word, which is most of a line. The pairing of first letter
    # and rest is loose ("tarn" matches), so a match is looked up in LEVEL_OF and the search goes on past
    # one that is not a level word.
    first = "".join(sorted({word[0] for word in LEVEL_OF}))
    return re.compile(rf"(?i)[{first}](?<=\b[{first}]){_trie({word[1:] for word in LEVEL_OF})}\b")


def _trie(words: set[str]) -> str:
    """A regex matching exactly `words`, sharing their common prefixes."""
    by_first: dict[str, set[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], set()).add(word[1:])
    parts = [re.escape(c) + _trie(rest) for c, rest in sorted(by_first.items())]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else f"(?:{'|'.join(parts)})"
    return f"(?:{body})?" if "" in words else body


_LEVEL_WORD = _word_pattern()


def detect_level(text: str) -> Level | None:
    """The level a line declares (colour codes ignored), or None."""
    if "\x1b" in text:
        text = _ANSI.sub("", text[:400])
    if text.startswith("{"):
        j = _JSON_LEVEL.search(text)
        if j:
            return LEVEL_OF.get(j.group(1).lower())
    m = _LEVEL_WORD.search(text, 0, LEVEL_SCAN)
    while m is not None:
        level = LEVEL_OF.get(m.group(0).lower())
        if level is not None:
            return level
        m = _LEVEL_WORD.search(text, m.end(), LEVEL_SCAN)
    return None
