"""Log levels: the four levels clients filter on, the words that name them, and a line's level.

A line's level comes from a structured key when it has one (`"level": "warning"` in JSON, `lvl=err` in
logfmt): the key decides, so `msg="retrying after error" level=info` is info. Otherwise the level word is
looked for near the start of the line, where timestamps and levels sit in every common plain format
("2026-… ERROR", "[warn]", "<E>").

The one home of the level words: the stream filter, the search prefilter and the page (which gets the list
from the server) all use these.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import Literal, get_args

Level = Literal["error", "warn", "info", "debug"]
LEVELS: tuple[Level, ...] = get_args(Level)

# Every word (case-insensitive) that names a level in a key's value.
SYNONYMS: dict[str, Level] = {
    "fatal": "error", "crit": "error", "critical": "error", "emerg": "error", "emergency": "error",
    "alert": "error", "err": "error", "error": "error", "panic": "error", "severe": "error",
    "warn": "warn", "warning": "warn",
    "info": "info", "information": "info", "informational": "info", "notice": "info",
    "debug": "debug", "trace": "debug", "dbg": "debug",
}
# The words that name a level in plain text: fewer, since "information" or "severe" are common words there.
TEXT_WORDS = ("fatal", "crit", "critical", "emerg", "emergency", "alert", "err", "error", "panic", "warn", "warning",
              "info", "notice", "debug", "trace")
# The words that can make a line's level, in a key or in the text: what a search prefilter looks for.
WORDS: dict[Level, tuple[str, ...]] = {level: tuple(w for w, of in SYNONYMS.items() if of == level)
                                       for level in LEVELS}
LEVEL_KEYS = ("level", "lvl", "severity", "loglevel")

# This runs for every line read, so it matters for throughput: the text scan looks at the first LEVEL_SCAN
# characters only (scanning 200 characters cost several times more), a logfmt level key is looked for with
# plain `str.find` in the first KEY_SCAN characters (where logfmt writers put it: time, level, msg), and the
# JSON key pattern runs only on lines that start with "{".
LEVEL_SCAN = 80
KEY_SCAN = 200
_JSON_KEY = re.compile(rf'(?i)"(?:{"|".join(LEVEL_KEYS)})"\s*:\s*"([a-z]*)"')
_LOGFMT_KEYS = tuple(f"{key}=" for key in LEVEL_KEYS if key != "loglevel")  # "level=" finds "loglevel=" too
# A whole logfmt key (at the start or after a blank; "level=" also as "loglevel=") and its value as
# `_logfmt_value` reads it: quoted (no closing quote: empty), or up to a space (trailing tabs are dropped
# after the match).
# The key comes first in the pattern, so the search skips ahead to it at C speed; lookbehinds then check
# what precedes it.
_WHOLE_KEY = {
    "level=": r"(level=)(?:(?<![^ \t]level=)|(?<=loglevel=)(?<![^ \t]loglevel=))",
    "lvl=": r"(lvl=)(?<![^ \t]lvl=)",
    "severity=": r"(severity=)(?<![^ \t]severity=)",
}
_KEY_VALUE = {key: re.compile(_WHOLE_KEY[key] + r'(?:"([^"]*)"|"|([^ ]*))') for key in _LOGFMT_KEYS}
_KEY_PLAIN = {key: re.compile(_WHOLE_KEY[key] + "([^ ]*)") for key in _LOGFMT_KEYS}  # when none is quoted
_TEXT_LEVELS: dict[str, Level] = {word: SYNONYMS[word] for word in TEXT_WORDS}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _trie(words: set[str]) -> str:
    """A regex matching exactly `words`, sharing their common prefixes ("rit(?:ical)?")."""
    by_first: dict[str, set[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], set()).add(word[1:])
    parts = [re.escape(c) + _trie(rest) for c, rest in sorted(by_first.items())]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else f"(?:{'|'.join(parts)})"
    return f"(?:{body})?" if "" in words else body


# Any first letter of a text word, then the rest of any text word: the regex engine skips quickly over text
# that cannot start a word, which is most of a line. The pairing of first letter and rest is loose ("tarn"
# matches), so a match is looked up and the search goes on past one that is not a level word.
_FIRST = "".join(sorted({word[0] for word in TEXT_WORDS}))
_LEVEL_WORD = re.compile(rf"(?i)[{_FIRST}](?<=\b[{_FIRST}]){_trie({word[1:] for word in TEXT_WORDS})}\b")
_LOWER_WORD = re.compile(_LEVEL_WORD.pattern.removeprefix("(?i)"))  # the same, in lowered ASCII text


def detect_level(text: str) -> Level | None:
    """The level a line declares (colour codes ignored), or None."""
    if "\x1b" in text:
        text = _ANSI.sub("", text[:400])
    keyed = _keyed_level(text)
    if keyed is not None:
        return keyed or None
    m = _LEVEL_WORD.search(text, 0, LEVEL_SCAN)
    while m is not None:
        word = m.group(0).lower()
        if word in TEXT_WORDS:
            return SYNONYMS[word]
        m = _LEVEL_WORD.search(text, m.end(), LEVEL_SCAN)
    return None


def detect_levels(texts: list[str], joined: str) -> list[Level | None]:
    """`detect_level` of each line of a block (`joined`: the block's text, lines and newlines).

    The same answers, with less Python per line where the whole block allows it (checked in C): no colour
    codes, no JSON line, and at most one kind of level key. A line's key is then found by one regex search
    (the first whole key, as `_keyed_level` finds it), and a line without a key in reach by the text scan.
    """
    if "\x1b" in joined or joined.startswith("{") or "\n{" in joined:
        return list(map(detect_level, texts))
    present = [key for key in _LOGFMT_KEYS if key in joined]
    if not present:
        if joined.isascii():  # lowered, the same characters at the same places: a case-sensitive search is cheaper
            words = list(map(_LOWER_WORD.search, map(str.lower, texts), repeat(0), repeat(LEVEL_SCAN)))
        else:
            words = list(map(_LEVEL_WORD.search, texts, repeat(0), repeat(LEVEL_SCAN)))
        if None not in words:
            # Every line has a candidate where its level would be: when each first one is a level word, the
            # levels are looked up with no Python per line (None: a near miss, "tarn", see _LEVEL_WORD).
            found = list(map(_TEXT_LEVELS.get, map(str.lower, map(re.Match.group, words))))  # type: ignore[arg-type]
            if None not in found:
                return found
        return [None if m is None else detect_level(text) for m, text in zip(words, texts, strict=True)]
    if len(present) > 1:
        return list(map(detect_level, texts))
    key = present[0]
    if key + '"' not in joined:  # no value is quoted: each is its match's group 2
        plain = list(map(_KEY_PLAIN[key].search, texts))
        if None not in plain and max(map(re.Match.start, plain, repeat(2))) <= KEY_SCAN:  # type: ignore[arg-type]
            # Every line has its key in reach: the values, cut, lowered and looked up, with no Python per line.
            values = map(str.rstrip, map(re.Match.group, plain, repeat(2)), repeat("\t"))  # type: ignore[arg-type]
            return list(map(SYNONYMS.get, map(str.lower, values)))
    keyed = map(_KEY_VALUE[key].search, texts)
    return [SYNONYMS.get((m[2] or (m[3] or "").rstrip("\t")).lower()) if m is not None and m.end(1) <= KEY_SCAN
            else detect_level(text) for m, text in zip(keyed, texts, strict=True)]


def _keyed_level(text: str) -> Level | Literal[""] | None:
    """The level named by a level key ("" when the key holds no level word), or None without a key."""
    if text.startswith("{"):
        m = _JSON_KEY.search(text)
        return None if m is None else SYNONYMS.get(m.group(1).lower(), "")
    if "level=" not in text and "lvl=" not in text and "severity=" not in text:  # most lines: the cheapest test
        return None
    for key in _LOGFMT_KEYS:
        at = text.find(key, 0, KEY_SCAN)
        while at >= 0:
            start = at - 3 if key == "level=" and at >= 3 and text.startswith("log", at - 3) else at
            if start == 0 or text[start - 1] in " \t":  # a whole key, not "sublevel="
                return SYNONYMS.get(_logfmt_value(text, at + len(key)).lower(), "")
            at = text.find(key, at + 1, KEY_SCAN)
    return None


def _logfmt_value(text: str, at: int) -> str:
    if text.startswith('"', at):
        end = text.find('"', at + 1)
        return text[at + 1:end] if end >= 0 else ""
    end = text.find(" ", at)
    return text[at:end if end >= 0 else len(text)].rstrip("\t")
