"""Test support for the journal source: real journal files, written and grown while a test runs.

`systemd-journal-remote -o FILE.journal -` reads the journal export format on stdin and writes a real journal
file; kept open on a pipe it appends each entry as it arrives, and `journalctl --directory DIR --follow`
follows the file live (no journald needed). A missing tool fails in CI and skips elsewhere, with the command
that installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from tests.support import require_tool

BOOT_ID = "0123456789abcdef0123456789abcdef"  # the export format needs one for a well-formed entry


def journal_remote() -> str:
    return require_tool("systemd-journal-remote", "systemd-journal-remote", directories=("/lib/systemd",))


def export_field(name: str, value: str | bytes) -> bytes:
    """One field in the export format: `NAME=value`, or the binary form for a value with a newline or bytes
    that are not UTF-8 (name, newline, 64-bit little-endian length, the bytes, newline)."""
    raw = value.encode() if isinstance(value, str) else value
    try:
        raw.decode("utf-8")
        plain = b"\n" not in raw
    except UnicodeDecodeError:
        plain = False
    if plain:
        return name.encode() + b"=" + raw + b"\n"
    return name.encode() + b"\n" + struct.pack("<Q", len(raw)) + raw + b"\n"


class JournalWriter:
    """A journal file in `directory`, written by one `systemd-journal-remote` kept open on a pipe.

    `write()` sends entries; each is in the file (and seen by a following journalctl) shortly after. Entries
    are one second apart in time, from `start` (seconds since the epoch), unless `realtime` is given.
    """

    def __init__(self, directory: Path, name: str = "test.journal", start: float = 1_700_000_000.0) -> None:
        self.directory = directory
        self.path = directory / name
        self.clock = int(start * 1_000_000)
        self.monotonic = 1_000_000
        self.proc: subprocess.Popen[bytes] | None = None

    def open(self) -> JournalWriter:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([journal_remote(), "-o", str(self.path), "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return self

    def entry(self, message: str | bytes, *, realtime: float | None = None,
              **fields: str | bytes) -> bytes:
        """One entry in the export format; `fields` default to a unit `app.service`, PRIORITY 6."""
        if realtime is not None:
            self.clock = int(realtime * 1_000_000)
        out = [export_field("__REALTIME_TIMESTAMP", str(self.clock)),
               export_field("__MONOTONIC_TIMESTAMP", str(self.monotonic)),
               export_field("_BOOT_ID", BOOT_ID), export_field("MESSAGE", message)]
        defaults: Mapping[str, str | bytes] = {"_SYSTEMD_UNIT": "app.service", "PRIORITY": "6",
                                               "_HOSTNAME": "testhost", "_PID": "4242"}
        for key, value in {**defaults, **fields}.items():
            out.append(export_field(key, value))
        self.clock += 1_000_000
        self.monotonic += 1_000_000
        return b"".join(out) + b"\n"

    def write(self, *messages: str | bytes, **fields: str | bytes) -> None:
        """Append one entry per message, with the same `fields`."""
        self.send(b"".join(self.entry(m, **fields) for m in messages))

    def send(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        """End the writer (the file stays, complete)."""
        if self.proc is None:
            return
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(30)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> JournalWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_messages(directory: Path, *args: str, timeout: float = 30.0) -> list[str]:
    """What journalctl reads from the directory now (MESSAGE of each entry), for checks in tests."""
    deadline = time.monotonic() + timeout
    out = subprocess.run(["journalctl", "--directory", str(directory), "--output=cat", *args],
                         capture_output=True, timeout=max(1.0, deadline - time.monotonic()), check=False)
    return out.stdout.decode(errors="replace").splitlines()


def slow_journalctl(directory: Path, delay: float = 1.0) -> dict[str, str]:
    """The environment of a server whose journalctl takes `delay` seconds to start (a wrapper in `directory`,
    first on PATH): for tests of what happens while a journal log's window is still being read."""
    directory.mkdir(exist_ok=True)
    wrapper = directory / "journalctl"
    wrapper.write_text(f"#!/bin/sh\nsleep {delay}\nexec {shutil.which('journalctl')} \"$@\"\n")
    wrapper.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}
