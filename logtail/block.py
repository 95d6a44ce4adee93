"""A block: one batch of a log's complete lines as the hub keeps and fans them out.

A follower's read usually ends in a run of lines that need no work to become text: no CR, valid UTF-8, none
over the length cap. Such a run is kept as the bytes read (`LineBlock.of_bytes`): a `format=text` client is
sent those bytes as they are, SSE and NDJSON frames for the whole block are built with a few C-level passes
(`map` over C functions, one `str.format` per line), and `Line` objects are made only when something asks
for them (a filter, the multi-log stream, a resume or catch-up from the window, a backlog). Any other batch
is a list of `Line`s (`LineBlock.of_lines`), encoded line by line as before. Both give the same bytes.
"""

from __future__ import annotations

from itertools import accumulate, repeat
from json.encoder import encode_basestring

from .cursor import Cursor, cursor_text
from .levels import detect_levels
from .sse import LEVEL_JSON_TEXT, Format, Line


class LineBlock:
    """A batch of complete lines of `log`: clean bytes read from one file (`data`, lines built lazily), or
    a list of `Line`s."""

    __slots__ = ("_frames", "_index", "_lines", "count", "data", "fid", "log", "start")

    def __init__(self, log: str, lines: list[Line] | None, data: bytes, fid: str, start: int) -> None:
        self.log = log
        self.data = data
        self.fid = fid
        self.start = start
        self._lines = lines
        self.count = len(lines) if lines is not None else data.count(b"\n")
        self._frames: dict[Format, bytes] = {}
        self._index: dict[tuple[str, int], int] | None = None

    @classmethod
    def of_lines(cls, log: str, lines: list[Line]) -> LineBlock:
        return cls(log, lines, b"", "", 0)

    @classmethod
    def of_bytes(cls, log: str, fid: str, start: int, data: bytes) -> LineBlock:
        """Clean lines (`is_clean`) read from one file at `start`, whose id is `fid` at every line's end."""
        return cls(log, None, data, fid, start)

    @property
    def lines(self) -> list[Line]:
        if self._lines is None:
            texts = self._texts()
            self._lines = list(map(Line, repeat(self.log), texts, repeat(self.fid), self._ends()))
        return self._lines

    @property
    def last(self) -> Line | Cursor:
        """Where the block ends (a Line when there is one already: no Cursor to build)."""
        if self._lines is not None:
            return self._lines[-1]
        return Cursor(self.log, self.fid, self.start + len(self.data))

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

    def frames(self, fmt: Format) -> bytes:
        """Every line of the block in `fmt`, built once per format and shared by every client."""
        chunk = self._frames.get(fmt)
        if chunk is None:
            if self.data and fmt == "text":
                chunk = self.data
            elif self.data:
                chunk = self._encode(fmt)
            else:
                chunk = b"".join(line.frame(fmt) for line in self.lines)
            self._frames[fmt] = chunk
        return chunk

    def _texts(self) -> list[str]:
        texts = self.data.decode("utf-8").split("\n")
        texts.pop()  # after the last newline
        return texts

    def _ends(self) -> list[int]:
        # Each line's end: the block's start plus the running sum of (length + 1), in bytes.
        pieces = self.data.split(b"\n")
        pieces.pop()
        ends = list(accumulate(map((1).__add__, map(len, pieces)), initial=self.start))
        del ends[0]
        return ends

    def _encode(self, fmt: Format) -> bytes:
        """The frames `Line.frame` would build for each line, from one template per block: the same bytes."""
        texts = self._texts()
        prefix = cursor_text(self.log, self.fid, 0)[:-1]  # the id without its offset
        # The record's braces are str.format's; the log name and the id are literal text ({0} the offset,
        # {1} the text, {2} the level). The id's JSON is its prefix's JSON with the digits added.
        record = ('{{"log":' + _literal(encode_basestring(self.log)) + ',"text":{1},"id":'
                  + _literal(encode_basestring(prefix)[:-1]) + '{0}","level":{2}}}')
        template = (f"id: {_literal(prefix)}{{0}}\nevent: line\ndata: {record}\n\n" if fmt == "sse"
                    else f"{record}\n")
        levels = map(LEVEL_JSON_TEXT.__getitem__, detect_levels(texts))
        ends = map(str, self._ends())
        return "".join(map(template.format, ends, map(encode_basestring, texts), levels)).encode()



def _literal(text: str) -> str:
    """`text` inside a `str.format` template."""
    return text.replace("{", "{{").replace("}", "}}")
