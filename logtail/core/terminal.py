"""Text for terminals: what `format=text` sends to a `curl -N` in somebody's terminal.

A log line is written by whoever can write to the log. Passed raw to a terminal, its escape sequences can
set the window title, write the clipboard (OSC 52), redefine keys or hide text, and a bare CR overwrites what
was printed before it. So `format=text` keeps colour (SGR: `ESC [ ... m`), tab and newline, and shows every
other control character as a visible escape (`\\x1b`, `\\r`, `\\u009b`); `format=raw` sends the bytes as
written, for pipes and scripts.

Most blocks hold no control character at all: one C-speed regex search finds that, and the bytes go out
unchanged (the fast path of a clean block, block.py).
"""

from __future__ import annotations

import re

# The C0 controls but tab and newline, and DEL; and the rest of the bytes, which `bytes.translate` deletes to
# find the former in C at ~1 ns a byte (a regex search over a clean 256 KiB block cost ~20 ns a byte: `format=
# text` as fast as a file grows fell from ~560,000 to ~340,000 lines/s with the server's core saturated).
_CONTROLS = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_NOT_CONTROLS = bytes(b for b in range(256) if b not in _CONTROLS)
_C1 = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080-U+009F in UTF-8
_TOKEN = re.compile(rb"\x1b\[[0-9;:]{0,64}m|[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
_NAMED = {0x0D: b"\\r", 0x1B: b"\\x1b"}


def terminal_safe(data: bytes) -> bytes:
    """`data` with every control character but tab, newline and SGR colour sequences made visible."""
    if not data.translate(None, _NOT_CONTROLS) and (b"\xc2" not in data or _C1.search(data) is None):
        return data
    return _TOKEN.sub(_shown, data)


def _shown(m: re.Match[bytes]) -> bytes:
    token = m.group()
    if len(token) > 2:  # an SGR sequence: colour is kept
        return token
    if len(token) == 2:  # a C1 control, U+0080-U+009F
        return b"\\u%04x" % token[1]
    return _NAMED.get(token[0]) or b"\\x%02x" % token[0]
