"""Split a byte stream into complete log lines: the pure core of following a file.

The splitter is fed chunks exactly as they were read and returns the complete lines they finish, with the
byte offset just after each line's terminator (the position a reader would resume from). A partial last
line is held until its newline arrives, so a UTF-8 character split across two writes is decoded whole.
"""

from __future__ import annotations

from typing import NamedTuple


class RawLine(NamedTuple):
    # A NamedTuple, not a dataclass: one is built per line on the hottest path, and tuples build fastest.
    text: str
    end: int  # byte offset just after the line's "\n"
    truncated: bool = False


# NamedTuple's own constructor is a Python-level function; on the per-line path build the tuple directly.
_new_raw = tuple.__new__


def kept_bytes(cap: int) -> int:
    """How many bytes of an over-long line are kept: the cap, one byte more so that the cut on a character
    boundary sees whether it splits a character, and a CR that may end the line (dropped before the cut)."""
    return cap + 4


def decode_capped(raw: bytes, cap: int, overflowed: bool = False) -> tuple[str, bool]:
    """A line's text from its bytes (without the newline), and whether it was cut: a trailing CR is
    dropped, and a line over `cap` bytes (or `overflowed`: only its first bytes were kept) is cut there on a
    character boundary. The one rule for followed lines and searched ones."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if overflowed or len(raw) > cap:
        return cut_at_char_boundary(raw, cap).decode("utf-8", "replace"), True
    return raw.decode("utf-8", "replace"), False


def _make_line(raw: bytes, end: int, cap: int, overflowed: bool) -> RawLine:
    text, truncated = decode_capped(raw, cap, overflowed)
    return RawLine(text, end, truncated)


def is_clean(block: bytes, cap: int) -> bool:
    """Whether each line of `block` (complete lines, each ending in a newline) is its own text byte for byte:
    no CR (`decode_capped` drops a trailing one), valid UTF-8 (nothing replaced) and none over `cap` bytes
    (nothing cut). Each check runs in C over the whole block."""
    if b"\r" in block:
        return False
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return _lines_within(block, cap)


def _lines_within(block: bytes, cap: int) -> bool:
    # The line starting at `pos` is at most `cap` bytes when its newline is within pos..pos+cap; jumping to
    # the last newline of that range skips the shorter lines before it (two jumps cover at least `cap`).
    pos, size = 0, len(block)
    while size - pos > cap + 1:
        nl = block.rfind(b"\n", pos, pos + cap + 1)
        if nl < 0:
            return False
        pos = nl + 1
    return True


def cut_at_char_boundary(raw: bytes, limit: int) -> bytes:
    """The longest prefix of `raw` of at most `limit` bytes that does not split a UTF-8 character."""
    if len(raw) <= limit:
        return raw
    cut = limit
    # Step back over continuation bytes (0b10xxxxxx) so the cut lands on the start of a character.
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return raw[:cut]


class LineSplitter:
    """Incremental splitter with a cap on line length.

    Memory is bounded by `max_line_bytes`: once a line exceeds it, its first `max_line_bytes` (cut on a
    character boundary) are kept and the rest is discarded until the newline, where the line is emitted
    with `truncated=True`. The next line is intact.
    """

    def __init__(self, max_line_bytes: int = 65536, offset: int = 0) -> None:
        self.max_line_bytes = max_line_bytes
        self.offset = offset  # offset of the first byte not yet consumed (start of the pending line + len)
        self._pending = bytearray()
        self._overflow = False
        self._pending_span = 0  # bytes of the file the pending line spans, including discarded overflow

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    @property
    def line_start(self) -> int:
        """Offset where the pending (incomplete) line starts: every byte before it has been emitted."""
        return self.offset - self._pending_span

    def reset(self, offset: int = 0) -> None:
        self.offset = offset
        self._pending.clear()
        self._overflow = False
        self._pending_span = 0

    def feed(self, data: bytes) -> list[RawLine]:
        lines: list[RawLine] = []
        base = self.offset
        cap = self.max_line_bytes
        pieces = data.split(b"\n")  # one C call for the whole chunk; the last piece is an unfinished line
        rest = pieces.pop()
        end = base
        if pieces and (self._pending or self._overflow):
            first = pieces[0]
            end += len(first) + 1
            lines.append(self._finish(first, end))
            pieces = pieces[1:]
        for piece in pieces:
            end += len(piece) + 1
            if len(piece) > cap or piece.endswith(b"\r"):
                lines.append(_make_line(piece, end, cap, False))
            else:
                lines.append(_new_raw(RawLine, (piece.decode("utf-8", "replace"), end, False)))
        if rest:
            self._hold(rest)
        self.offset = base + len(data)
        return lines

    def feed_clean(self, data: bytes) -> tuple[int, bytes] | None:
        """Like `feed`, but the complete lines come back as one block of bytes with the offset it starts at,
        when each of them is its own text as `feed` would decode it (`is_clean`). None (and nothing
        consumed): use `feed`."""
        last = data.rfind(b"\n")
        if last < 0 or self._overflow:
            return None
        block = bytes(self._pending) + data[: last + 1] if self._pending else data[: last + 1]
        if not is_clean(block, self.max_line_bytes):
            return None
        start = self.line_start
        self.reset(self.offset + len(data))
        if last + 1 < len(data):
            self._hold(data[last + 1 :])
        return start, block

    def _hold(self, rest: bytes) -> None:
        self._pending_span += len(rest)
        if self._overflow:
            return
        self._pending += rest
        # A trailing CR may be the first half of a CRLF, which is not part of the line: it does not count.
        if len(self._pending) - self._pending.endswith(b"\r") > self.max_line_bytes:
            del self._pending[kept_bytes(self.max_line_bytes) :]
            self._overflow = True

    def _finish(self, piece: bytes, end: int) -> RawLine:
        if not self._overflow:
            self._pending += piece
        line = _make_line(bytes(self._pending), end, self.max_line_bytes, self._overflow)
        self._pending.clear()
        self._overflow = False
        self._pending_span = 0
        return line
