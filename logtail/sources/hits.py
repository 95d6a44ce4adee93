"""A search's hits over lines read in order, newest or oldest first, each with its lines of context.

For sources whose lines are read as a sequence (Redis entries, journal entries) rather than as byte ranges of
files (sources/files/search.py finds context in the file itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from logtail.core.frames import Line
from logtail.sources.base import SearchRequest


class Matches:
    """Hits with their context lines, from lines given in search order (newest first or oldest first)."""

    def __init__(self, req: SearchRequest) -> None:
        self.req = req
        self.newest = req.order == "newest"
        self.seen: deque[str] = deque(maxlen=req.context)  # the last lines in search order
        self.open: list[tuple[dict[str, Any], list[str], list[str]]] = []  # hit, lines before and after it
        self.matches = 0

    @property
    def full(self) -> bool:
        return self.matches >= self.req.limit

    def feed(self, lines: list[Line]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in lines:
            for _hit, _earlier, later in self.open:
                later.append(line.text)
            if not self.full and self.req.filter.matches(line.text, line.level, parse=line.fields_of):
                self.matches += 1
                self.open.append((dict(line.record()), list(self.seen), []))
            out += self._complete()
            self.seen.append(line.text)
        return out

    def _complete(self, everything: bool = False) -> list[dict[str, Any]]:
        context = self.req.context
        ready = [x for x in self.open if everything or len(x[2]) >= context]
        self.open = [x for x in self.open if not everything and len(x[2]) < context]
        return [self._shape(*x) for x in ready]

    def _shape(self, hit: dict[str, Any], earlier: list[str], later: list[str]) -> dict[str, Any]:
        # Context is given in file order whatever the search order.
        if self.newest:
            earlier, later = list(reversed(later)), list(reversed(earlier))
        hit["context_before"], hit["context_after"] = earlier, later
        return hit

    def finish(self) -> Iterator[dict[str, Any]]:
        return iter(self._complete(everything=True))
