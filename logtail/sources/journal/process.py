"""journalctl as a child process: in its own process group, read without blocking the event loop, its
stderr logged, always reaped, and killed by its group when its reader is done or cancelled.

Why journalctl and not the libsystemd binding (`python3-systemd`, `systemd-python`, `cysystemd`): measured
here (Debian 12, systemd 252, 100,000 entries of 9 fields, CPU seconds): the binding's `Reader` took 1.58 s
in the Python process, all of it holding the GIL (in a thread it would still slow the event loop), while
`journalctl --output=json` took 2.2 s in its own process (the other core) and parsing its JSON 0.69 s in
ours: less than half the binding's cost where it matters. The binding also does not install from wheels
(it builds against libsystemd-dev) and Debian's package serves only the system Python. A child process is
the journal's own reader, exactly as the operator's `journalctl` sees the journal, and a crash in it
cannot take logtail down.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import AsyncIterator, Sequence

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20  # bytes per read of journalctl's output: one batch of entries at most
# journalctl's stdout pipe, grown from Linux's 64 KiB when allowed (F_SETPIPE_SZ; up to
# /proc/sys/fs/pipe-max-size, 1 MiB by default): while a batch is parsed journalctl writes on instead of
# blocking, and the next read brings up to this much. Fewer, bigger batches: the cost of a read, a publish
# and a send is paid per batch (bench/RESULTS.md, "The journal source").
PIPE_BYTES = 1 << 20
# Reads of a busy journal at least this far apart (seconds): entries that trickle in (journald writing them
# as they come) are read a few milliseconds' worth at a time instead of one or two per read, and each
# read's wake-up, publish and send is paid once per batch. A read that comes later than this waits for
# nothing, so a quiet journal costs no extra wake-up.
READ_INTERVAL = 0.005
STDERR_LINE = 2000  # characters of one stderr line logged


def journal_command(directory: str | None) -> list[str]:
    """journalctl reading the system journal, or the journal files in `directory`."""
    return ["journalctl", "--no-pager", "--quiet", *(["--directory", directory] if directory else [])]


class Journalctl:
    """One run of journalctl: ``async with Journalctl(args, what) as child: async for chunk in child.chunks(): ...``

    Leaving the block kills the process group (if still running) and reaps the process.
    """

    def __init__(self, args: Sequence[str], what: str) -> None:
        self.args = list(args)
        self.what = what  # for log messages: which log this run serves
        self.proc: asyncio.subprocess.Process | None = None
        self._stdout: int | None = None  # the read end of its stdout, non-blocking, read with os.read
        self._stderr: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Journalctl:
        # A pipe of our own rather than asyncio's: it can be grown, and a read is one os.read into the
        # chunk it returns (a StreamReader copies each read into its buffer and out again).
        out, into = os.pipe()
        try:
            with contextlib.suppress(OSError):  # not Linux, or over the user's pipe limit: 64 KiB it is
                fcntl.fcntl(into, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            self.proc = await asyncio.create_subprocess_exec(
                *self.args, stdin=asyncio.subprocess.DEVNULL, stdout=into, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except BaseException:
            os.close(out)
            raise
        finally:
            os.close(into)  # journalctl holds it: its end of output is our end of file
        os.set_blocking(out, False)
        self._stdout = out
        self._stderr = asyncio.create_task(self._log_stderr(), name=f"journalctl-stderr {self.what}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    async def chunks(self, interval: float = READ_INTERVAL) -> AsyncIterator[bytes]:
        """journalctl's output as it comes, as much as one read brings, reads at least `interval` seconds
        apart; ends when journalctl closes it."""
        assert self._stdout is not None
        fd, loop = self._stdout, asyncio.get_running_loop()
        last = -interval
        while True:
            wait = last + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                await _readable(loop, fd)
                continue
            if not chunk:
                return
            last = loop.time()
            yield chunk

    def kill(self) -> None:
        """Kill the process group now (asyncio's child watcher reaps the process whoever awaits it)."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # journalctl holds nothing worth a graceful stop

    async def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.kill()
        if self._stdout is not None:
            os.close(self._stdout)
            self._stdout = None
        # Reaped even when the caller is being cancelled: a second cancellation can only shorten this wait.
        await asyncio.shield(proc.wait())
        if self._stderr is not None:
            await asyncio.shield(self._stderr)

    async def _log_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            try:
                line = await self.proc.stderr.readline()
            except ValueError:  # a line over the reader's limit: its start was consumed, go on
                continue
            if not line:
                return
            log.warning("%s: journalctl: %s", self.what, line.decode(errors="replace").rstrip()[:STDERR_LINE])


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Until `fd` can be read (or is at its end)."""
    ready = loop.create_future()
    loop.add_reader(fd, ready.set_result, None)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def run_journalctl(args: Sequence[str], what: str = "journal") -> bytes:
    """journalctl's whole output for a short query (e.g. `--header`); its stderr logged."""
    async with Journalctl(args, what) as child:
        chunks = [chunk async for chunk in child.chunks(0.0)]  # a short answer: no wait before its end
    return b"".join(chunks)
