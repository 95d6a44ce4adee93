"""What a source publishes into: the hub on a web node, the Redis writer under `logtail ship`.

A source (a file follower, a Redis reader, the journal) knows a log by name and publishes its lines with the
position after the last of them, and the changes that explain a hole or a jump as notices. Where the lines
go is the sink's business: the hub keeps a window and fans out to clients; the shipper appends stream
entries. Neither is a special case of the other.
"""

from __future__ import annotations

from typing import Protocol

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import Line, NoticeKind


class Sink(Protocol):
    def add(self, name: str) -> None:
        """A log is about to be published under `name` (the hub opens its channel so clients can subscribe)."""

    def publish(self, name: str, lines: list[Line] | LineBlock, position: Cursor) -> None:
        """Lines of `name`, in order, and the position just after the last one."""

    def notice(self, name: str, kind: NoticeKind, message: str) -> None:
        """Something happened to the log that its readers must be told (rotated, truncated, gap, ...)."""

    def readers(self, name: str) -> int:
        """How many read `name` now: a follower's pace spaces its reads by the cost of their fan-out."""
