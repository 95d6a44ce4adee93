"""Ids of journal entries: logtail's short cursor (log, fid, offset) for an entry, and back to journalctl's.

journalctl's own cursor (`s=<seqnum id>;i=<seqnum, hex>;b=<boot id>;m=...;t=...;x=...`) is about 150
characters, and logtail's ids are `NAME=<12 hex>:<decimal>` (core/cursor.py). An entry is named by its
sequence number within its sequence-number id, the `s=` id that journald keeps across its files (it changes
only when the journal is started afresh): fid = the first 12 hex digits of the seqnum id, offset = the seqnum.
Within one seqnum id the numbers only grow, as the hub's position index expects (core/positions.py).

Finding the entry again: journalctl accepts the partial cursor `s=<id>;i=<hex>` (checked on systemd 252:
`--cursor` seeks to that entry, or to the next one when it is gone), so the full seqnum id is needed back. It
is learned from every entry read, and for an id from before a restart from `journalctl --header` (each
file's "Sequential number ID"). A wrong seqnum id is not an error for journalctl (it starts somewhere else),
so an id whose fid matches no file is never turned into a journalctl cursor.
"""

from __future__ import annotations

import re
import time

from logtail.sources.journal.process import run_journalctl

FID_DIGITS = 12
HEADERS_INTERVAL = 5.0  # seconds between two readings of the journal files' headers
_SEQNUM_ID = re.compile(r"[0-9a-f]{32}")
_HEADER_ID = re.compile(rb"Sequential number ID: ([0-9a-f]{32})")


def parse_journal_cursor(cursor: str) -> tuple[str, int] | None:
    """The seqnum id and seqnum in a journalctl cursor (`s=...;i=...;...`), or None."""
    seqnum_id, seqnum = None, None
    for part in cursor.split(";"):
        key, _, value = part.partition("=")
        if key == "s" and _SEQNUM_ID.fullmatch(value):
            seqnum_id = value
        elif key == "i":
            try:
                seqnum = int(value, 16)
            except ValueError:
                return None
    if seqnum_id is None or seqnum is None:
        return None
    return seqnum_id, seqnum


def fid_of(seqnum_id: str) -> str:
    return seqnum_id[:FID_DIGITS]


def partial_cursor(seqnum_id: str, seqnum: int) -> str:
    """A cursor journalctl seeks to: that entry, or the first after it that is still there."""
    return f"s={seqnum_id};i={seqnum:x}"


class SeqnumIds:
    """The seqnum ids of one journal (a directory, or the system's) by their fid."""

    def __init__(self, base_args: list[str]) -> None:
        self.base_args = base_args  # journalctl and where it reads (e.g. --directory DIR)
        self.by_fid: dict[str, str] = {}
        self.headers_read_at = -HEADERS_INTERVAL

    def learn(self, seqnum_id: str) -> str:
        fid = seqnum_id[:FID_DIGITS]
        if fid not in self.by_fid:
            self.by_fid[fid] = seqnum_id
        return fid

    async def find(self, fid: str) -> str | None:
        """The seqnum id whose fid is `fid`, asking the journal's file headers when it is not known yet."""
        found = self.by_fid.get(fid)
        # The headers are read at most every HEADERS_INTERVAL: ids that match nothing (made up, or of a
        # journal long gone) must not start a journalctl per request.
        if found is None and time.monotonic() - self.headers_read_at >= HEADERS_INTERVAL:
            self.headers_read_at = time.monotonic()
            for seqnum_id in await self._from_headers():
                self.learn(seqnum_id)
            found = self.by_fid.get(fid)
        return found

    async def _from_headers(self) -> list[str]:
        out = await run_journalctl([*self.base_args, "--header"])
        return [m.decode() for m in _HEADER_ID.findall(out)]
