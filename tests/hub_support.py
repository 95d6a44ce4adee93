"""Lines, blocks and subscriptions made by hand for the core's unit tests (hub, subscription, catch-up,
blocks), and the reading of what a subscription's queue holds."""

from __future__ import annotations

import json

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line
from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.match.filters import LineFilter
from tests.sse_client import decode_events

FORMATS: tuple[Format, ...] = ("text", "sse", "ndjson")

# Pieces that exercise every rule on the way: CR (alone, before a newline), invalid and split UTF-8, JSON
# escapes, level keys and words, braces and percent signs (the frame templates' own syntax).
PIECES = [b"a", b"xyz ", b"\n", b"\r", b"\r\n", b"\xff", b"\xc3", b"\xa9", "é".encode(), "日本".encode(), b'"',
          b"\\", b"\x01", b"\t", b"lvl=warn ", b"level=", b'"err"', b"loglevel=info", b"ERROR", b"{", b"%s",
          b"{0}", b"severity=debug", b"\x1b[31m"]



def lines(n: int, start: int = 0, log: str = "a") -> list[Line]:
    return [Line(log, f"line {i}", "0123456789ab", (i + 1) * 10) for i in range(start, start + n)]


def publish(hub: Hub, batch: list[Line], log: str = "a") -> None:
    hub.publish(log, batch, Cursor(log, "0123456789ab", batch[-1].end if batch else 0))


def sub(logs: list[str] | None = None, flt: LineFilter | None = None, fmt: str = "sse",
        queue_bytes: int = 1 << 20, multi: bool = False, overflow: str = "catchup") -> Subscription:
    return Subscription(logs or ["a"], flt or LineFilter(), fmt, queue_bytes, multi,  # type: ignore[arg-type]
                        overflow)  # type: ignore[arg-type]


def texts(data: bytes) -> list[str]:
    return [json.loads(e["data"])["text"] for e in decode_events(data.decode()) if e.get("event") == "line"]


def block_of(texts: list[str], start: int, log: str = "a") -> LineBlock:
    return LineBlock.of_bytes(log, "0123456789ab", start, "".join(t + "\n" for t in texts).encode())


def publish_texts(hub: Hub, texts: list[str], start: int, log: str = "a") -> int:
    """Publish `texts` as one block of bytes starting at `start`; the offset after it."""
    block = block_of(texts, start, log)
    end = start + len(block.data)
    hub.publish(log, block, Cursor(log, "0123456789ab", end))
    return end


def events(data: bytes) -> list[tuple[str, str]]:
    """(kind, text-or-notice-kind) of each event, in order."""
    out = []
    for e in decode_events(data.decode()):
        if e.get("event") == "line":
            out.append(("line", json.loads(e["data"])["text"]))
        elif e.get("event") == "notice":
            out.append(("notice", json.loads(e["data"])["kind"]))
        else:
            out.append(("id", e["id"]))
    return out
