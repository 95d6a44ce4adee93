"""The fleet bench's floor: the least a Python process can do to relay the fleet's lines to its clients.

`bench/redis_fleet.py --floor` runs it in a window of its own (the node stopped, the same writing): one asyncio
process that sends the web node's own XREAD (every stream, the ids kept packed: logtail's `client.Streams`)
every `--floor-every` seconds (by default the node's `READ_EVERY`) while entries keep coming, parses each
reply with hiredis directly (no redis-py around it), makes each entry one SSE frame (`id:` the entry id,
`data:` its text: no JSON, no level, no filter, no window, no resume index) and writes each client's frames
in one write to its socket. The clients are plain TCP connections to a sink process, which checks every
line's sequence and latency as the dashboard clients do.

Whatever a node does on top of this, it cannot cost less than this does: a target under the floor's CPU
cannot be met by a CPython node on this machine, however its own code is written.
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.connection import Connection
from typing import Any

import hiredis
import redis

from logtail.sources.redis.client import Streams
from logtail.sources.redis.reader import READ_COUNT

BLOCK_MS = 1000


def floor_main(redis_port: int, sink_port: int, streams_of: list[list[bytes]], every: float, pipe: Connection
               ) -> None:
    """The floor relay: the streams of each client group (`streams_of`, Redis keys) to one connection each,
    read every `every` seconds while entries keep coming."""
    asyncio.run(_relay(redis_port, sink_port, streams_of, every, pipe))


async def _relay(redis_port: int, sink_port: int, streams_of: list[list[bytes]], every: float, pipe: Connection
                 ) -> None:
    read = [key for group in streams_of for key in group]
    streams = Streams(read, last_ids(redis.Redis(port=redis_port), read))
    group_of = {key: g for g, group in enumerate(streams_of) for key in group}
    from_redis, to_redis = await asyncio.open_connection("127.0.0.1", redis_port)
    clients = []
    for g in range(len(streams_of)):
        _, writer = await asyncio.open_connection("127.0.0.1", sink_port)
        writer.write(b"%d\n" % g)
        clients.append(writer)
    parser = hiredis.Reader()
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    cpu = -1.0
    while cpu < 0 or not pipe.poll():  # after the writer's end, until the parent has counted every line
        if cpu < 0 and pipe.poll():
            pipe.recv()
            cpu = time.process_time() - cpu0
            pipe.send(cpu)
        started = loop.time()
        to_redis.write(streams.command(READ_COUNT, BLOCK_MS))
        reply: Any = parser.gets()
        while reply is False:
            data = await from_redis.read(1 << 20)
            if not data:
                raise SystemExit("redis closed the floor's connection")
            parser.feed(data)
            reply = parser.gets()
        frames: list[list[bytes]] = [[] for _ in streams_of]
        for key, entries in reply or []:
            out = frames[group_of[key]]
            for entry_id, fields in entries:
                out.append(b"id: %s\ndata: %s\n\n" % (entry_id, fields[5]))  # fid, end, lines: keys.line_fields
            streams.advance(streams.index[key], entries[-1][0])
        for writer, out in zip(clients, frames, strict=True):
            if out:
                writer.write(b"".join(out))
        if reply:
            await asyncio.sleep(started + every - loop.time())
    pipe.send(time.process_time() - cpu0)


def last_ids(client: redis.Redis, keys: list[bytes]) -> list[bytes]:
    """Each stream's last entry id now (0-0 for an empty one), to read after: XREAD's "$" would mean "now" again
    at every read, skipping what came in between."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.xrevrange(key, "+", "-", count=1)
    return [found[0][0] if found else b"0-0" for found in pipe.execute()]


def sink_main(tallies: list[Any], drain: float, pipe: Connection) -> None:
    """The floor's clients: a connection per group on a free loopback port (sent to the parent), each naming
    its group first; every chunk read goes to that group's tally (redis_fleet.Tally). Once the parent says
    how many lines each log got, waits up to `drain` seconds for the last of them, then reports."""
    groups = len(tallies)

    async def run() -> None:
        connected = asyncio.Event()
        readers: list[asyncio.Task[None]] = []

        async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            g = int(await reader.readline())
            readers.append(asyncio.current_task())  # type: ignore[arg-type]
            if len(readers) == groups:
                connected.set()
            rest = b""
            while chunk := await reader.read(1 << 20):
                rest = tallies[g].add_chunk(rest, chunk, time.time_ns())
            writer.close()

        server = await asyncio.start_server(one, "127.0.0.1", 0)
        pipe.send(server.sockets[0].getsockname()[1])
        await connected.wait()
        pipe.send("ready")
        sent = await asyncio.to_thread(pipe.recv)
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and not all(t.complete(sent) for t in tallies):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        server.close()
        for task in readers:
            task.cancel()
        pipe.send([t.report(sent) for t in tallies])
    asyncio.run(run())
