"""A batch of journal entries as the hub keeps and fans out a block of lines, made a column at a time.

A journal log at full speed is tens of thousands of entries a second, and building a `JournalLine` and then
its frames for each one cost about two thirds of the source's Python time per entry. Most batches need
neither: their values are plain text, given once, none over the caps (`ExportBatch.plain_chars` says so),
and they go to clients without a filter. Such a batch is kept as columns (each entry's seqnum, MESSAGE,
level, fields), taken out of the entries with `map` over C functions, and its SSE and NDJSON frames are
built from one %-template (as a file's clean bytes are, core/block.py); an entry of it long enough that a
value may be over a cap has its MESSAGE and fields cut as entry.py cuts them. Its `JournalLine`s are made only when
something asks for them (a filter, the multi-log stream, a backlog, a shipper): the same lines, the same
bytes (tests/test_journal_block.py). Any other batch is made entry by entry (entry.py) and encoded line by
line.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from itertools import repeat
from json.encoder import encode_basestring
from typing import Literal

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import LEVEL_JSON, Format, Line, fields_json
from logtail.match.fields import FieldedText, Fields
from logtail.match.levels import Level, detect_level
from logtail.sources.journal.entry import (
    CURSOR,
    MAX_FIELD_CHARS,
    NOT_FIELDS,
    PRIORITY_LEVELS,
    JournalLine,
    capped_fields,
    message_of,
    parse_entries,
)
from logtail.sources.journal.export import Entry, ExportBatch
from logtail.sources.journal.ids import fid_of

_TRUNCATED = {False: "", True: ',"truncated":true'}
_LEVEL_TEXT: dict[Level | Literal[""] | None, str] = {level: json.decode() for level, json in LEVEL_JSON.items()}
# Functions of C that `map` calls, typed for what they are given here (every value of a plain entry is a str).
_group: Callable[[re.Match[str] | None, int], str] = re.Match.group  # type: ignore[assignment]  # no None
_get: Callable[[Entry, str, str], str] = dict.get  # type: ignore[assignment]
_pop: Callable[[Entry, str, object], object] = dict.pop
_level_of: Callable[[str, str], Level | Literal[""]] = PRIORITY_LEVELS.get  # type: ignore[assignment]
_level_text: Callable[[Level | Literal[""]], str | None] = _LEVEL_TEXT.get


class JournalBlock(LineBlock):
    """The lines of one batch of entries: as columns (`of_batch`) or as `JournalLine`s (`of_lines`)."""

    __slots__ = ("fields", "levels", "realtimes", "seqnum_ids", "seqnums", "texts_", "truncated")

    def __init__(self, log: str, lines: list[JournalLine] | None, seqnum_ids: list[str], seqnums: list[int]) -> None:
        super().__init__(log, list[Line](lines) if lines is not None else None, b"", "", 0)
        self.count = len(seqnums)
        self.seqnum_ids = seqnum_ids
        self.seqnums = seqnums
        # The columns of a block made from a batch (each entry's MESSAGE, level, fields without MESSAGE and
        # journalctl's own, __REALTIME_TIMESTAMP text); empty for one made from lines.
        self.texts_: list[str] = []
        self.levels: list[Level | Literal[""]] = []  # "": none given (detected from the text when asked)
        self.fields: list[Fields] = []
        self.realtimes: list[str] = []
        self.truncated: list[bool] = []  # whether each MESSAGE was cut; empty: none was

    @classmethod
    def of_lines(cls, log: str, lines: list[JournalLine]) -> JournalBlock:  # type: ignore[override]
        return cls(log, lines, [line.seqnum_id for line in lines], [line.end for line in lines])

    @classmethod
    def of_batch(cls, log: str, batch: ExportBatch, cap: int) -> JournalBlock:
        """The lines of a batch of entries (consumed): in columns when every value is plain text."""
        entries, sizes = batch
        found = list(map(CURSOR.match, map(_get, entries, repeat("__CURSOR"), repeat("")))) if sizes else []
        if not sizes or None in found:  # not plain, or something that is not an entry
            return cls.of_lines(log, parse_entries(log, entries, cap))
        block = cls(log, None, list(map(_group, found, repeat(1))),
                    list(map(int, map(_group, found, repeat(2)), repeat(16))))
        block.texts_ = list(map(_pop, entries, repeat("MESSAGE"), repeat("")))  # type: ignore[arg-type]
        block.realtimes = list(map(_pop, entries, repeat("__REALTIME_TIMESTAMP"), repeat("0")))  # type: ignore[arg-type]
        for key in ("__CURSOR", *NOT_FIELDS):
            deque(map(_pop, entries, repeat(key), repeat(None)), maxlen=0)
        block.fields = entries  # type: ignore[assignment]  # every value is a str (plain)
        block.levels = list(map(_level_of, map(_get, entries, repeat("PRIORITY"), repeat("")), repeat("")))
        # An entry of at most `bound` characters has no value over either cap (MESSAGE's in UTF-8 bytes).
        bound = min(MAX_FIELD_CHARS, cap // 4)
        if max(sizes) > bound:
            block._cut([i for i, size in enumerate(sizes) if size > bound], cap)
        return block

    def _cut(self, long: list[int], cap: int) -> None:
        """Cut the MESSAGE and the fields of the entries at `long` as entry_line does."""
        self.truncated = [False] * self.count
        for i in long:
            self.texts_[i], self.truncated[i] = message_of(self.texts_[i], cap)
            if max(map(len, self.fields[i].values()), default=0) > MAX_FIELD_CHARS:
                self.fields[i] = capped_fields(self.fields[i])  # type: ignore[arg-type]  # str values

    @property
    def lines(self) -> list[Line]:
        if self._lines is None:
            self._lines = list(map(JournalLine, repeat(self.log), map(FieldedText, self.texts_, self.fields),
                                   self.seqnum_ids, self.seqnums, self.levels, self.truncated or repeat(False),
                                   map(_realtime, self.realtimes)))
        return self._lines

    def journal_lines(self) -> list[JournalLine]:
        return self.lines  # type: ignore[return-value]  # every line of a journal block is one

    @property
    def last(self) -> Cursor:
        return Cursor(self.log, fid_of(self.seqnum_ids[-1]), self.seqnums[-1])

    @property
    def last_realtime(self) -> int:
        """The last entry's __REALTIME_TIMESTAMP (microseconds since the epoch; 0 when it has none)."""
        if self.realtimes:
            return _realtime(self.realtimes[-1])
        return self.journal_lines()[-1].realtime if self.count else 0

    def texts(self) -> tuple[list[str], str]:
        if not self.texts_:
            return super().texts()
        return self.texts_, "".join(map("%s\n".__mod__, self.texts_))

    def index_of(self, fid: str, end: int) -> int | None:
        self.lines  # noqa: B018  # made, then looked up as any block of lines
        return super().index_of(fid, end)

    def fids(self) -> list[str]:
        """Each line's file id (a batch holds few seqnum ids: each is cut once)."""
        ids = self.seqnum_ids
        if ids[0] == ids[-1] and ids.count(ids[0]) == len(ids):
            return [fid_of(ids[0])] * len(ids)
        return list(map({seqnum_id: fid_of(seqnum_id) for seqnum_id in set(ids)}.__getitem__, ids))

    def ends(self) -> Iterable[tuple[str, int]]:
        return zip(self.fids(), self.seqnums, strict=True)

    def frames(self, fmt: Format) -> bytes:
        if not self.texts_ or fmt not in ("sse", "ndjson"):
            return super().frames(fmt)
        return _encode(self, fmt == "sse")


def _encode(block: JournalBlock, sse: bool) -> bytes:
    """What `Line.frame` makes of each line, from one template: the same bytes. Template fields: MESSAGE's
    JSON, the id's file id and seqnum, the level's JSON, `,"truncated":true` or nothing, the fields' JSON
    (after the id's file id and seqnum for SSE's `id:` line)."""
    log = encode_basestring(block.log).replace("%", "%%")  # JSON, with its quotes
    record = '{"log":' + log + ',"text":%s,"id":' + log[:-1] + '=%s:%d","level":%s%s,"fields":%s}'
    fids = block.fids()
    cut = map(_TRUNCATED.__getitem__, block.truncated) if block.truncated else repeat("", block.count)
    columns = [map(encode_basestring, block.texts_), fids, block.seqnums, _level_texts(block), cut,
               _fields_texts(block.fields)]
    if sse:
        template = "id: " + block.log.replace("%", "%%") + "=%s:%d\nevent: line\ndata: " + record + "\n\n"
        columns[:0] = [fids, block.seqnums]
    else:
        template = record + "\n"
    return "".join(map(template.__mod__, zip(*columns, strict=True))).encode()


def _level_texts(block: JournalBlock) -> list[str]:
    """Each line's level as JSON text: PRIORITY's, or the one the text declares."""
    texts = list(map(_level_text, block.levels))
    if None in texts:
        for i, level in enumerate(block.levels):
            if not level:
                texts[i] = _LEVEL_TEXT[detect_level(block.texts_[i])]
    return texts  # type: ignore[return-value]


def _fields_texts(fields: list[Fields]) -> list[str]:
    """Each line's fields as JSON text: joined as they are when no value needs escaping (checked once for the
    whole batch, as `fields_json` checks a line's), else encoded in full."""
    joined = ['{"' + '","'.join(map('":"'.join, entry.items())) + '"}' for entry in fields]
    whole = "".join(joined)
    if all(fields) and whole.count('"') == 4 * sum(map(len, fields)) and "\\" not in whole and whole.isprintable():
        return joined
    return [fields_json(entry).decode() for entry in fields]


def _realtime(text: str) -> int:
    return int(text) if text.isdigit() else 0
