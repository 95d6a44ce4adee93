"""The Redis connection, and what both ends do while Redis is away.

redis-py's own retries are turned off: a command fails fast, and the caller decides. An `Outage` turns a
run of failures into one warning, a backoff (0.1 s doubling to 5 s, with jitter) and one "back" message, so the shipper
and the web node behave alike and their logs say what happened once, not once per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from logtail.config import ConfigError
from logtail.sources.redis.keys import Entry, RawEntry, decode_entry

# What "Redis is unreachable" looks like: connection refused or reset, timeouts, a server loading its data.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
Client = aioredis.Redis | RedisCluster  # one server, or a Redis Cluster (redis+cluster://)
BLOCK_MS = 1000  # longest XREAD BLOCK; the socket timeout leaves room for it


def check_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigError(f"redis must be a redis://, rediss:// or unix:// URL (redis+cluster:// for a Redis "
                          f"Cluster), got {redacted(url)!r}")
    try:
        parse_url(_single(url))
    except ValueError as exc:
        raise ConfigError(f"redis URL {redacted(url)!r}: {exc}") from None
    return url


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def is_cluster(url: str) -> bool:
    return urlsplit(url).scheme.endswith("+cluster")


def _single(url: str) -> str:
    """The URL of one server: a cluster URL names one node to start from."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.removesuffix('+cluster')}://{rest}"


def connect(url: str) -> Client:
    client: Client
    if is_cluster(url):
        # redis-py's cluster client follows MOVED/ASK and a failover itself: its own retries stay on.
        client = RedisCluster.from_url(_single(url), socket_connect_timeout=3,
                                       socket_timeout=BLOCK_MS / 1000 + 4, client_name="logtail")
    else:
        # A socket timeout bounds every command, so a link that silently drops packets is noticed too.
        client = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=3, socket_timeout=BLOCK_MS / 1000 + 4,
            health_check_interval=10, client_name="logtail",
        )
    # XREAD's reply is kept as hiredis parsed it (lists of bytes): `read_new` hands it to keys.decode_raw,
    # which builds a plain entry's lines in one pass, where redis-py's callback would build a dict per entry.
    client.set_response_callback("XREAD", _as_parsed)
    if isinstance(client, aioredis.Redis):
        pool = client.connection_pool
        pool.connection_class = _SENDS_PACKED.get(pool.connection_class, pool.connection_class)
    return client


def _as_parsed(response: Any, **_options: Any) -> Any:
    return response


class Packed(bytes):
    """A whole command already in Redis's protocol, sent as it is by the connections of `connect`'s clients."""


class _SendsPacked(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        if len(args) == 2 and isinstance(args[1], Packed):  # (name for the reply's callback, the command)
            return [args[1]]
        return super().pack_command(*args)


class _Plain(_SendsPacked, Connection):
    pass


class _TLS(_SendsPacked, SSLConnection):
    pass


class _Unix(_SendsPacked, UnixDomainSocketConnection):
    pass


_SENDS_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _Plain, SSLConnection: _TLS, UnixDomainSocketConnection: _Unix}


class Backoff:
    """Waits between attempts: from `FIRST` doubling up to `CAP` seconds, each drawn from its upper half.

    The jitter spreads the reconnects of many shippers and nodes after a Redis restart instead of having them
    all arrive in the same instant, at every step.
    """

    FIRST = 0.1
    CAP = 5.0

    def __init__(self) -> None:
        self.delay = self.FIRST

    async def wait(self) -> None:
        await asyncio.sleep(random.uniform(self.delay / 2, self.delay))
        self.delay = min(self.delay * 2, self.CAP)

    def reset(self) -> None:
        self.delay = self.FIRST


class Outage:
    """Warn once per outage, back off between attempts, say when Redis is back.

    "Back" means a command that needs the server succeeded: the caller calls `ok()` only then.
    """

    def __init__(self, url: str, log: logging.Logger, what: str) -> None:
        self.url = redacted(url)
        self.log = log
        self.what = what
        self.down = False
        self.connected = False  # a command succeeded, and none failed since (readiness)
        self.backoff = Backoff()
        self.outages = 0  # outages so far (a metric)
        self.errors = 0  # failed attempts so far (a metric)

    async def failed(self, exc: BaseException) -> None:
        """A command failed because Redis is unreachable: note it and wait before the next attempt."""
        self.errors += 1
        self.connected = False
        if not self.down:
            self.down = True
            self.outages += 1
            self.log.warning("redis at %s unreachable (%s); %s", self.url, exc or type(exc).__name__, self.what)
        await self.backoff.wait()

    def ok(self) -> bool:
        """A command succeeded; True when that ends an outage."""
        self.connected = True
        if self.down:
            self.down = False
            self.backoff.reset()
            self.log.warning("redis at %s is back", self.url)
            return True
        return False


# --- typed reads: redis-py's replies as decoded entries --------------------------------------------------


async def read_range(client: Client, key: str, low: str, high: str, count: int) -> list[Entry]:
    found: Any = await client.xrange(key, low, high, count=count)
    return [decode_entry(i, f) for i, f in found or []]


async def read_reverse(client: Client, key: str, high: str, low: str, count: int) -> list[Entry]:
    """XREVRANGE: entries from `high` down to `low`, newest first."""
    found: Any = await client.xrevrange(key, high, low, count=count)
    return [decode_entry(i, f) for i, f in found or []]


async def read_last(client: Client, key: str, count: int) -> list[Entry]:
    """The last `count` entries, oldest first."""
    found: Any = await client.xrevrange(key, "+", "-", count=count)
    return [decode_entry(i, f) for i, f in reversed(found or [])]


class Streams:
    """XREAD's keys and the id after which each is read, kept from one read to the next, and in Redis's
    protocol already: a read of 1,000 streams is 2,006 arguments, which redis-py would encode one by one
    (and copy over and over) at every read, whereas here one id changes per stream that had news (`advance`)."""

    def __init__(self, keys: list[bytes], ids: list[bytes]) -> None:
        self.keys = keys
        self.ids = ids
        self.index = {key: i for i, key in enumerate(keys)}
        self._keys = b"".join(map(_bulk, keys))
        self._ids = list(map(_bulk, ids))

    def advance(self, at: int, entry_id: bytes) -> None:
        self.ids[at] = entry_id
        self._ids[at] = _bulk(entry_id)

    def command(self, count: int, block_ms: int) -> Packed:
        head = b"*%d\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n%s$5\r\nBLOCK\r\n%s$7\r\nSTREAMS\r\n" % (
            6 + 2 * len(self.keys), _bulk(b"%d" % count), _bulk(b"%d" % block_ms))
        return Packed(b"".join([head, self._keys, *self._ids]))


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


async def read_new(client: Client, streams: Streams, count: int, block_ms: int) -> list[tuple[bytes, list[RawEntry]]]:
    """XREAD: the entries of each stream after its id, as the reply holds them (keys.RawEntry), by key; waits
    up to `block_ms` for the first one."""
    if isinstance(client, RedisCluster):
        return await _read_new_cluster(client, dict(zip(streams.keys, streams.ids, strict=True)), count, block_ms)
    if client.connection_pool.connection_class in _SENDS_PACKED.values():
        args: tuple[Any, ...] = ("XREAD", streams.command(count, block_ms))
    else:  # a client whose connections pack every command themselves
        args = ("XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS", *streams.keys, *streams.ids)
    found: Any = await client.execute_command(*args)  # type: ignore[no-untyped-call]
    return _by_key(found)


def _by_key(found: Any) -> list[tuple[bytes, list[RawEntry]]]:
    """A raw XREAD reply as (key, entries) pairs: RESP2 answers a list of pairs, RESP3 (`?protocol=3`) a map."""
    if not found:
        return []
    return list(found.items()) if isinstance(found, dict) else found


CLUSTER_POLL = 0.05  # seconds between reads of a cluster's streams while none has anything new


async def _read_new_cluster(client: RedisCluster, after: dict[bytes, bytes], count: int, block_ms: int
                            ) -> list[tuple[bytes, list[RawEntry]]]:
    """XREAD on a Redis Cluster: one XREAD per hash slot (keys of different slots cannot share one: CROSSSLOT),
    all of them in one pipeline, which redis-py sends as one round trip per shard. Polled rather than blocking:
    a blocking XREAD per slot would hold a connection per slot, i.e. per stream."""
    by_slot: dict[int, list[bytes]] = {}
    for key in after:
        by_slot.setdefault(client.keyslot(key), []).append(key)
    deadline = asyncio.get_running_loop().time() + block_ms / 1000
    while True:
        async with client.pipeline(transaction=False) as pipe:
            for group in by_slot.values():
                pipe.xread({key: after[key] for key in group}, count=count)
            replies: Any = await pipe.execute()
        found = [pair for reply in replies for pair in _by_key(reply)]
        if found or asyncio.get_running_loop().time() >= deadline:
            return found
        await asyncio.sleep(CLUSTER_POLL)
