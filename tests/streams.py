"""Clients and probes for the end-to-end reliability tests (issue 4).

- `SSEClient`: an httpx stream read by a background task, parsed incrementally with `tests.sse_client.decode_events`.
- `RawStream`: a plain socket speaking just enough HTTP/1.1 to open a stream, which can stop reading (tiny
  `SO_RCVBUF`) to play the slow client, and de-chunks whatever it reads later.
- `rss_kb`, `fd_count`, `gauge`: the server process's resident memory and open descriptors (/proc) and a
  metric from its /metrics page.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.sse_client import decode_events

T = TypeVar("T")


def parse_events(text: str) -> list[dict[str, str]]:
    return list(decode_events(text))


def line_texts(events: list[dict[str, str]], log: str | None = None) -> list[str]:
    out = []
    for ev in events:
        if ev.get("event") == "line":
            data = json.loads(ev["data"])
            if log is None or data["log"] == log:
                out.append(data["text"])
    return out


def notices(events: list[dict[str, str]], kind: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(ev["data"]) for ev in events if ev.get("event") == "notice"]
    return [n for n in found if kind is None or n["kind"] == kind]


def last_id(events: list[dict[str, str]]) -> str | None:
    ids = [ev["id"] for ev in events if "id" in ev]
    return ids[-1] if ids else None


class SSEClient:
    """`async with SSEClient(url) as c:` reads the stream in the background; `c.events` grows as it arrives."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.raw = bytearray()
        self.events: list[dict[str, str]] = []
        self.received: list[tuple[str, str]] = []  # (log, text) of every line event, in order
        self._parsed = 0
        self.ended = False
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> SSEClient:
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
        self._cm = self._client.stream("GET", self.url, headers=self.headers)
        self.response = await self._cm.__aenter__()
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.response is not None
        try:
            async for chunk in self.response.aiter_raw():
                self.raw += chunk
                self._parse()
        except httpx.HTTPError:
            pass
        self.ended = True

    def _parse(self) -> None:
        end = self.raw.rfind(b"\n\n")
        if end + 2 > self._parsed:
            new = parse_events(bytes(self.raw[self._parsed:end + 2]).decode())
            self._parsed = end + 2
            self.events += new
            for ev in new:
                if ev.get("event") == "line":
                    data = json.loads(ev["data"])
                    self.received.append((data["log"], data["text"]))

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await self._cm.__aexit__(None, None, None)
        await self._client.aclose()

    def lines(self, log: str | None = None) -> list[str]:
        return [text for name, text in self.received if log is None or name == log]

    def notices(self, kind: str | None = None) -> list[dict[str, Any]]:
        return notices(self.events, kind)

    def last_id(self) -> str | None:
        return last_id(self.events)

    def id_of(self, text: str) -> str:
        """The position of the line whose text is `text`: its data's `id` (on a one-log stream its event's
        `id:` too; a multi-log SSE stream's line events have none: docs/api.md)."""
        for ev in self.events:
            if ev.get("event") == "line" and json.loads(ev["data"])["text"] == text:
                return str(json.loads(ev["data"])["id"])
        raise AssertionError(f"no line {text!r} received")

    async def wait(self, check: Callable[[], T | None], within: float = 10.0, what: str = "") -> T:
        return await async_wait_for(check, within, what or f"stream {self.url}")

    async def wait_lines(self, count: int, within: float = 10.0, log: str | None = None) -> list[str]:
        await self.wait(lambda: len(self.received if log is None else self.lines(log)) >= count, within,
                        f"{count} lines on {self.url}")
        return self.lines(log)


async def async_wait_for(check: Callable[[], T | None], within: float = 10.0, what: str = "") -> T:
    """`wait_for` for async tests: polls without blocking the event loop (stream readers keep running)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or check}")
        await asyncio.sleep(0.02)


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """The body carried by an HTTP/1.1 chunked stream so far, and whether its last chunk arrived."""
    body = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(body), False
        size = int(data[pos:eol], 16)
        if size == 0:
            return bytes(body), True
        if len(data) < eol + 2 + size + 2:
            body += data[eol + 2:]  # a partial chunk: its bytes so far
            return bytes(body), False
        body += data[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


class RawStream:
    """A GET over a plain socket; `rcvbuf` set small before connecting makes a client that barely reads."""

    def __init__(self, port: int, path: str, rcvbuf: int | None = None, headers: dict[str, str] | None = None
                 ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
        self.data = bytearray()
        self.eof = False

    @property
    def status(self) -> int | None:
        m = re.match(rb"HTTP/1\.1 (\d{3})", self.data)
        return int(m.group(1)) if m else None

    @property
    def body(self) -> bytes:
        head_end = self.data.find(b"\r\n\r\n")
        return dechunk(bytes(self.data[head_end + 4:]))[0] if head_end >= 0 else b""

    def events(self) -> list[dict[str, str]]:
        body = self.body
        return parse_events(body[:body.rfind(b"\n\n") + 2].decode(errors="replace"))

    def read_available(self, wait: float = 0.0) -> int:
        """Read whatever has arrived (waiting up to `wait` seconds for the first byte); bytes read."""
        got = 0
        self.sock.settimeout(wait)  # 0: non-blocking
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    self.eof = True
                    break
                self.data += chunk
                got += len(chunk)
                self.sock.settimeout(0)
        except (BlockingIOError, TimeoutError):
            pass
        except ConnectionResetError:
            self.eof = True
        return got

    def read_until(self, check: Callable[[RawStream], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"{what or 'condition'} not met after {timeout}s "
                                     f"(eof={self.eof}, {len(self.data)} bytes read)")
            self.read_available(wait=min(0.2, max(0.01, deadline - time.monotonic())))

    def read_at(self, rate: float, check: Callable[[RawStream], bool], timeout: float = 30.0,
                what: str = "") -> None:
        """Read at most `rate` bytes a second (a slow consumer) until `check` holds (tested twice a second)."""
        start = time.monotonic()
        deadline, next_check, got = start + timeout, 0.0, 0
        self.sock.settimeout(0.2)
        while True:
            now = time.monotonic()
            if now >= next_check:
                if check(self):
                    return
                next_check = now + 0.5
            if self.eof or now > deadline:
                raise AssertionError(f"{what or 'condition'} not met after {timeout}s (eof={self.eof}, "
                                     f"{len(self.data)} bytes read)")
            try:
                chunk = self.sock.recv(16384)
            except TimeoutError:
                continue
            if not chunk:
                self.eof = True
                continue
            self.data += chunk
            got += len(chunk)
            ahead = got / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    def close(self) -> None:
        self.sock.close()


# --- the server process --------------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def gauge(base_url: str, name: str = "logtail_clients") -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def counter(base_url: str, name: str, log: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    m = re.search(rf'^{re.escape(name)}{{log="{re.escape(log)}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


# A Python traceback as a service logs it: one multi-line event (`multiline = "python"`) of five lines.
TRACEBACK = [
    "2026-10-10 13:55:36,123 ERROR request failed",
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 42, in handle',
    "    user = users[user_id]",
    "KeyError: 'u-17'",
]


def append(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Append to a log as a writer would: text or bytes as they are, or lines (each ended with a newline)."""
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = "".join(f"{line}\n" for line in data).encode()
    with path.open("ab") as f:
        f.write(data)


def first_bytes(url: str, *, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
                cookies: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """Status and the first bytes of a GET's answer: a stream is read only until its first bytes arrive."""
    with httpx.Client(cookies=cookies, timeout=timeout) as client, \
            client.stream("GET", url, headers=headers, auth=auth) as response:
        return response.status_code, next(response.iter_bytes(), b"")
