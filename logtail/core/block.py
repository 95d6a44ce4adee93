"""A block: one batch of a log's complete lines as the hub keeps and fans them out.

A follower's read usually ends in a run of lines that need no work to become text: no CR, valid UTF-8, none
over the length cap. Such a run is kept as the bytes read (`LineBlock.of_bytes`): a `format=text` client is
sent those bytes as they are; SSE and NDJSON frames for the whole block are built with a few C-level passes
(`map` over C functions, then one list of every line's parts filled a slice at a time and joined:
`_laid_out`), a parsed log's levels and fields from its parser for the whole block when it can
(`Parser.block`), else line by line; and `Line` objects are made only when something asks for them (a
filter, the multi-log stream, a resume or catch-up from the window, a backlog). Any other batch is a list of
`Line`s (`LineBlock.of_lines`), encoded line by line as before. Both give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import accumulate, repeat
from json.encoder import encode_basestring

from logtail.core.cursor import Cursor, cursor_text
from logtail.core.frames import LEVEL_JSON, Format, Line, fields_json, json_str
from logtail.core.terminal import terminal_safe
from logtail.match.levels import detect_level, detect_levels
from logtail.match.parsers import Parser

Layout = list[bytes | Sequence[bytes]]  # a row's parts: the same bytes on every row, or one item a row
# What JSON escapes in a string (json.encoder's ESCAPE: the control characters, quote and backslash).
_JSON_ESCAPED = bytes(range(0x20)) + b'"\\'


class LineBlock:
    """A batch of complete lines of `log`: clean bytes read from one file (`data`, lines built lazily), or
    a list of `Line`s."""

    __slots__ = ("_index", "_lines", "count", "data", "fid", "log", "parser", "start")

    def __init__(self, log: str, lines: list[Line] | None, data: bytes, fid: str, start: int,
                 parser: Parser | None = None) -> None:
        self.log = log
        self.parser = parser if lines is None or not lines else lines[0].parser  # one log: one parser
        self.data = data
        self.fid = fid
        self.start = start
        self._lines = lines
        self.count = len(lines) if lines is not None else data.count(b"\n")
        self._index: dict[tuple[str, int], int] | None = None

    @classmethod
    def of_lines(cls, log: str, lines: list[Line]) -> LineBlock:
        return cls(log, lines, b"", "", 0)

    @classmethod
    def of_bytes(cls, log: str, fid: str, start: int, data: bytes, parser: Parser | None = None) -> LineBlock:
        """Clean lines (`is_clean`) read from one file at `start`, whose id is `fid` at every line's end."""
        return cls(log, None, data, fid, start, parser)

    @property
    def lines(self) -> list[Line]:
        if self._lines is None:
            texts, _ = self._texts()
            self._lines = list(map(Line, repeat(self.log), texts, repeat(self.fid), self._ends(self._pieces()),
                                   repeat(False), repeat(self.parser)))
        return self._lines

    @property
    def last(self) -> Line | Cursor:
        """Where the block ends (a Line when there is one already: no Cursor to build)."""
        if self._lines is not None:
            return self._lines[-1]
        return Cursor(self.log, self.fid, self.start + len(self.data))

    @property
    def reached(self) -> Cursor:
        """The position just after the block's last line."""
        return position_of(self.log, self.last)

    def texts(self) -> tuple[list[str], str]:
        """Each line's text and the block's (lines and newlines), without building the lines."""
        if self._lines is not None:
            texts = [line.text for line in self._lines]
            return texts, "".join(text + "\n" for text in texts)
        return self._texts()

    def index_of(self, fid: str, end: int) -> int | None:
        """The index of the line of this block that ends at (`fid`, `end`), or None."""
        if self._lines is not None and not self.data:
            if self._index is None:
                self._index = {(line.fid, line.end): i for i, line in enumerate(self._lines)}
            return self._index.get((fid, end))
        at = end - self.start
        if fid != self.fid or not 0 < at <= len(self.data) or self.data[at - 1] != 0x0A:
            return None
        return self.data.count(b"\n", 0, at) - 1

    def ends(self) -> Iterable[tuple[str, int]]:
        """Each line's file id and end, in order (a block of another form may know them without its lines)."""
        return ((line.fid, line.end) for line in self.lines)

    def frames(self, fmt: Format) -> bytes:
        """Every line of the block in `fmt`. Not kept: the hub builds them once per format for a batch's
        clients, and a block in the window holds no more than its bytes (and its lines once asked for)."""
        if self.data and fmt == "raw":
            return self.data
        if self.data and self.parser is None and fmt == "text":
            return terminal_safe(self.data)  # the bytes themselves unless they hold a control character
        if self.data and fmt != "text":
            return self._encode(fmt)
        return b"".join(line.frame(fmt) for line in self.lines)

    def _texts(self) -> tuple[list[str], str]:
        """Each line's text, and the block's."""
        joined = self.data.decode("utf-8")
        texts = joined.split("\n")
        texts.pop()  # after the last newline
        return texts, joined

    def _pieces(self) -> list[bytes]:
        """Each line's bytes (its text, encoded)."""
        pieces = self.data.split(b"\n")
        pieces.pop()
        return pieces

    def _ends(self, pieces: list[bytes]) -> list[int]:
        # Each line's end: the block's start plus the running sum of (length + 1).
        ends = list(accumulate(map((1).__add__, map(len, pieces)), initial=self.start))
        del ends[0]
        return ends

    def _encode(self, fmt: Format) -> bytes:
        """The frames `Line.frame` would build for each line, laid out for the whole block at once: the same
        bytes. The parts of a frame that vary are columns (the line's end, its text's JSON, its level's JSON,
        for a parsed log its fields: each line parsed once, here, with no `Line` made)."""
        pieces = self._pieces()
        prefix = cursor_text(self.log, self.fid, 0)[:-1].encode()  # the id without its offset
        # A text with nothing JSON escapes is its own JSON between quotes, and one whose only such character
        # is the quote is that with each quote escaped (checked for the whole block at once, as is the
        # escaping). The id's JSON is its prefix's JSON with the digits added.
        escaped = len(self.data) - len(self.data.translate(None, _JSON_ESCAPED)) - self.count
        quoted = escaped == 0 or escaped == self.data.count(b'"')
        if escaped == 0:
            jsons = pieces
        elif quoted:
            jsons = self.data.replace(b'"', b'\\"').split(b"\n")
            jsons.pop()
        else:
            jsons = list(map(str.encode, map(encode_basestring, self._texts()[0])))
        ends = list(map(b"%d".__mod__, self._ends(pieces)))
        levels, fields = self._fields(quoted)
        mark = b'"' if quoted else b""
        record: Layout = [b'{"log":' + json_str(self.log) + b',"text":' + mark, jsons,
                          mark + b',"id":' + json_str(prefix.decode())[:-1], ends, b'","level":', levels,
                          *fields, b"}"]
        if fmt == "sse":
            return _laid_out([b"id: " + prefix, ends, b"\nevent: line\ndata: ", *record, b"\n\n"], self.count)
        return _laid_out([*record, b"\n"], self.count)

    def _fields(self, quoted: bool) -> tuple[list[bytes], Layout]:
        """Each line's level JSON, and what its record holds after the level: a parsed log's fields."""
        parser = self.parser
        if parser is None:
            texts, joined = self._texts()
            return list(map(LEVEL_JSON.__getitem__, detect_levels(texts, joined))), []
        if parser.block is not None and quoted and self.data.isascii():  # quoted: no backslash, no control
            whole = parser.block(self.data, self.count)
            if whole is not None:
                return list(map(LEVEL_JSON.__getitem__, whole.levels)), [b',"fields":', *whole.layout]
        levels, extras = _parsed(parser, self._texts()[0])
        return levels, [extras]


def _laid_out(layout: Layout, count: int) -> bytes:
    """Each of `count` rows joined, a bytes item of `layout` the same in every row, a sequence holding each
    row's own (one list of every row's items filled a slice at a time, then joined: no Python per row)."""
    merged: Layout = []
    for item in layout:  # neighbouring constants as one
        last = merged[-1] if merged else None
        if isinstance(item, bytes) and isinstance(last, bytes):
            merged[-1] = last + item
        else:
            merged.append(item)
    step = len(merged)
    row: list[bytes] = [b""] * (step * count)
    for i, item in enumerate(merged):
        row[i::step] = [item] * count if isinstance(item, bytes) else item
    return b"".join(row)


def _parsed(parser: Parser, texts: list[str]) -> tuple[list[bytes], list[bytes]]:
    """Each line's level JSON and its `,"fields":{...}` (empty for a line the parser does not recognise)."""
    levels: list[bytes] = []
    extras: list[bytes] = []
    level, parse = parser.level, parser.parse
    for text in texts:
        fields = parse(text)
        if fields is None:
            levels.append(LEVEL_JSON[detect_level(text)])
            extras.append(b"")
        else:
            levels.append(LEVEL_JSON[level(text, fields)])
            extras.append(b',"fields":' + fields_json(fields))
    return levels, extras


def position_of(log: str, where: Line | Cursor) -> Cursor:
    """The position just after a line of `log` (or a position already)."""
    return where if isinstance(where, Cursor) else Cursor(log, where.fid, where.end)


def lines_of(batch: list[Line] | LineBlock) -> list[Line]:
    """The lines of a batch, whichever its form."""
    return batch.lines if isinstance(batch, LineBlock) else batch
