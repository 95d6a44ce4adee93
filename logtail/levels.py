"""Log levels: the four levels clients filter on, the words that name them, and a line's level.

A line's level comes from a structured key when it has one (`"level": "warning"` in JSON, `lvl=err` in
logfmt): the key decides, so `msg="retrying after error" level=info` is info. Otherwise the level word is
looked for near the start of the line, where timestamps and levels sit in every common plain format
("2026-… ERROR", "[warn]", "<E>").
"""

from __future__ import annotations

import re

LEVELS = ("error", "warn", "info", "debug")

# Every word (case-insensitive) that names a level, in a key's value or in the text.
SYNONYMS = {
    "fatal": "error", "crit": "error", "critical": "error", "emerg": "error", "emergency": "error",
    "alert": "error", "err": "error", "error": "error", "panic": "error", "severe": "error",
    "warn": "warn", "warning": "warn",
    "info": "info", "information": "info", "informational": "info", "notice": "info",
    "debug": "debug", "trace": "debug", "dbg": "debug",
}
LEVEL_KEYS = ("level", "lvl", "severity", "loglevel")

# This runs for every line read, so it matters for throughput: the text scan looks at the first LEVEL_SCAN
# characters only (scanning 200 characters cost several times more), and the key patterns are tried only
# on lines that can hold a key (a JSON object, or a line with "level=", "lvl=" or "severity="; logfmt keys
# are matched in lower case, JSON keys in any case).
LEVEL_SCAN = 80
_LEVEL_WORD = re.compile(
    r"(?i)[acdefinpstw](?<=\b[acdefinpstw])"
    r"(atal|rit(?:ical)?|merg(?:ency)?|lert|rr(?:or)?|anic|arn(?:ing)?|nfo|otice|ebug|race)\b"
)
_KEYS = "|".join(LEVEL_KEYS)
_JSON_KEY = re.compile(rf'(?i)"(?:{_KEYS})"\s*:\s*"([a-z]*)"')
# A logfmt key starts the line or follows a space; its value may be quoted.
_LOGFMT_KEY = re.compile(rf'(?:^|\s)(?:{_KEYS})=(?:"([a-zA-Z]*)"|([a-zA-Z]*)(?![^\s]))')
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def detect_level(text: str) -> str | None:
    """The level a line declares (colour codes ignored), or None."""
    if "\x1b" in text:
        text = _ANSI.sub("", text[:400])
    keyed = _keyed_level(text)
    if keyed is not None:
        return keyed or None
    m = _LEVEL_WORD.search(text, 0, LEVEL_SCAN)
    return SYNONYMS[m.group(0).lower()] if m else None


def _keyed_level(text: str) -> str | None:
    """The level named by a level key ("" when the key holds no level word), or None without a key."""
    if text.startswith("{"):
        m = _JSON_KEY.search(text)
        if m:
            return SYNONYMS.get(m.group(1).lower(), "")
    elif "level=" in text or "lvl=" in text or "severity=" in text:  # fast: most lines have none
        m = _LOGFMT_KEY.search(text)
        if m:
            return SYNONYMS.get((m.group(1) or m.group(2) or "").lower(), "")
    return None
