"""Optional HTTP Basic authentication, and salted password hashes for the config file.

`auth = "user:password"` or `auth = "user:scrypt$..."` (from `logtail hash-password`), or several users with
groups from a users file or `[users]` (web/users.py). Every path except `/healthz` then needs credentials;
comparisons are constant-time, and a request that passes carries its user in the scope (web/access.py).
Browsers keep sending Basic credentials for same-origin requests, so the page's `EventSource` keeps working
once the user has logged in.

A scrypt check costs tens of milliseconds of CPU by design, so it never runs on the event loop: checks run
in a worker thread, a few at a time, and a client address that keeps failing is refused with 429 for a
while without any check. Credentials that passed are remembered (as a keyed hash), so a valid user pays
for scrypt once and is never queued or limited afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from logtail.core.offloop import off_loop
from logtail.web.access import USER, Identity
from logtail.web.middleware.proxy import route_path
from logtail.web.users import UserEntry, UserTable, make_user

log = logging.getLogger(__name__)

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
CHECK_NICE = 10  # the checks' threads' niceness: on Linux they get ~1/10 of a core the event loop wants too
OPEN_PATHS = ("/healthz", "/readyz")
# Checked in place of an unknown user's hash, so that a refusal takes as long whether or not the name exists.
_NOBODY = "scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$") and stored.count("$") == 2:
        _, salt_b64, digest_b64 = stored.split("$")
        try:
            salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        except binascii.Error:
            return False
        candidate = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
        return hmac.compare_digest(candidate, digest)
    return hmac.compare_digest(password.encode(), stored.encode())


@dataclass(frozen=True)
class AuthLimits:
    """How hard logtail pushes back on wrong passwords (docs/security.md, Password guessing, gives the defaults)."""

    failures: int = 10  # wrong credentials allowed per address and window; the next are answered 429
    window: float = 60.0  # seconds
    addresses: int = 10_000  # addresses remembered; the longest-unseen is forgotten first
    # Checks at once, in worker threads of their own (scrypt releases the GIL): two, where there are two
    # cores, so that a burst of first logins (a team opening the page after a restart) waits half as long.
    # Those threads run at a lower priority (CHECK_NICE), so that the event loop, and the streams, come first.
    concurrent_checks: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    queued_checks: int = 16  # checks waiting for their turn; beyond that, 503 at once
    remembered: int = 16  # valid credentials remembered
    remember_for: float = 900.0  # seconds since their last use


class FailureTable:
    """Failed attempts per client address in fixed windows, bounded in size (least recently failed go first)."""

    def __init__(self, limits: AuthLimits) -> None:
        self.limits = limits
        self._table: OrderedDict[str, tuple[float, int]] = OrderedDict()  # address -> (window start, failures)

    def __len__(self) -> int:
        return len(self._table)

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds until `address` may try again, or None if it may try now."""
        start, failures = self._table.get(address, (now, 0))
        wait = start + self.limits.window - now
        if failures < self.limits.failures or wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def failing(self, address: str, now: float) -> bool:
        """Whether `address` has failures in its current window."""
        start, failures = self._table.get(address, (now, 0))
        return failures > 0 and now - start < self.limits.window

    def record(self, address: str, now: float) -> None:
        start, failures = self._table.pop(address, (now, 0))
        if now - start >= self.limits.window:
            start, failures = now, 0
        self._table[address] = (start, failures + 1)
        if failures + 1 == self.limits.failures:
            log.warning("%d password attempts from %s: refusing more for up to %.0fs", failures + 1, address,
                        self.limits.window)
        while len(self._table) > self.limits.addresses:
            self._table.popitem(last=False)

    def forget(self, address: str) -> None:
        self._table.pop(address, None)


class VerifiedCredentials:
    """Authorization headers that passed, as HMACs under a key that lives only in this process.

    The password is never kept, nor anything it could be recovered from without the key; an entry lasts
    `remember_for` seconds after its last use, and at most `remembered` are kept. Each entry names its user;
    a reload of the users forgets them all (`clear`), since a password may have changed.
    """

    def __init__(self, limits: AuthLimits) -> None:
        self.limits = limits
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[float, str]] = {}  # digest -> (last use (monotonic), user)

    def _digest(self, header: bytes) -> bytes:
        return hmac.digest(self._key, header, "sha256")

    def find(self, header: bytes) -> str | None:
        """The user whose credentials `header` carries, if they passed a check lately."""
        now = time.monotonic()
        digest = self._digest(header)
        found = None
        for known, (used, user) in list(self._entries.items()):
            if now - used > self.limits.remember_for:
                del self._entries[known]
            elif hmac.compare_digest(known, digest):
                found = known, user
        if found is None:
            return None
        self._entries[found[0]] = (now, found[1])
        return found[1]

    def __contains__(self, header: bytes) -> bool:
        return self.find(header) is not None

    def add(self, header: bytes, user: str = "") -> None:
        self._entries[self._digest(header)] = (time.monotonic(), user)
        if len(self._entries) > self.limits.remembered:
            del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]

    def clear(self) -> None:
        self._entries.clear()


def client_address(scope: Scope) -> str:
    """Who is asking, for the failure limit: the peer uvicorn reports (the proxy's X-Forwarded-For when
    trusted). IPv6 clients are counted per /64, the block one host usually has to itself."""
    client = scope.get("client")
    if not client:
        return "unknown"
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        # Not an address (a proxy passed on a client's made-up X-Forwarded-For): one shared key, so that
        # neither its length nor its variety can grow the failure table.
        return "not-an-address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class CheckGate:
    """At most `limit` password checks at once, shared by two queues: when a check ends, a waiting check of
    an address without failures goes first, so a first login never waits behind an attacker's attempts (and
    scrypt still never holds more than `limit` cores)."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiting: dict[bool, deque[asyncio.Future[None]]] = {False: deque(), True: deque()}
        self.pending = {False: 0, True: 0}  # checks running or waiting, by lane (failing or not)

    async def acquire(self, failing: bool) -> None:
        if self.free > 0 and not (self.waiting[False] or self.waiting[True]):
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiting[failing].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed the turn just as it was cancelled: pass it on
            else:
                self.waiting[failing].remove(turn)
            raise

    def release(self) -> None:
        for lane in (False, True):
            while self.waiting[lane]:
                turn = self.waiting[lane].popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self.free += 1


def _lower_priority() -> None:
    """Run this thread at CHECK_NICE (Linux schedules threads one by one; raising one's own niceness needs no
    privilege). Elsewhere the thread keeps its priority."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICE)


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight: browsers send it without credentials (Fetch standard), so it cannot be asked for
    them. It reads nothing: the CORS middleware answers it, or the app's 405 when CORS is off."""
    if scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names


class BasicAuth:
    """ASGI middleware answering 401 with `WWW-Authenticate` unless the request carries the credentials."""

    def __init__(self, app: ASGIApp, credentials: str | None = None, realm: str = "logtail",
                 limits: AuthLimits | None = None, users: UserTable | None = None) -> None:
        self.app = app
        if users is None:  # the one user of `--auth USER:PASS`
            assert credentials is not None
            name, _, secret = credentials.partition(":")
            users = UserTable({name: make_user(name, secret, (), "auth", plain_ok=True)})
        self.users = users
        self._generation = users.generation
        self.realm = realm
        self.limits = limits or AuthLimits()
        self.failures = FailureTable(self.limits)
        self.verified = VerifiedCredentials(self.limits)
        # Two queues: addresses with no failure in their window, and the others. A first login never waits
        # behind the checks of addresses that keep failing (an attacker's), only behind other first tries.
        self._gate = CheckGate(self.limits.concurrent_checks)
        self._checks = ThreadPoolExecutor(self.limits.concurrent_checks, thread_name_prefix="logtail-password",
                                          initializer=_lower_priority)
        # Checks under way by address and header: the same credentials sent at once from one address (a page's
        # streams, an office's browsers behind one NAT after a restart) share one check instead of each paying
        # scrypt and counting a failure until the address is refused. Other addresses are checked on their own.
        self._inflight: dict[tuple[str, bytes], asyncio.Future[UserEntry | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in OPEN_PATHS or _is_preflight(scope):
            await self.app(scope, receive, send)
            return
        if self._generation != self.users.generation:  # reloaded: a password may have changed
            self.verified.clear()
            self._generation = self.users.generation
        header = dict(scope["headers"]).get(b"authorization", b"")
        known = self.verified.find(header) if header else None
        entry = self.users.get(known) if known is not None else None
        if entry is not None:
            await self._pass(entry, scope, receive, send)
            return
        credentials = self._parse(header)
        if credentials is None:
            await self._refuse(send, 401, "authentication required")
            return
        address, now = client_address(scope), time.monotonic()
        pending = self._inflight.get((address, header))
        if pending is not None:  # the same credentials are being checked: their verdict is this one's
            entry = await asyncio.shield(pending)
            # One check for all the copies, but each wrong copy is an attempt: no more wrong verdicts go out
            # than the limit allows, the rest are refused as over it.
            retry_after = None
            if entry is None:
                retry_after = self.failures.retry_after(address, time.monotonic())
                self.failures.record(address, time.monotonic())
            if retry_after is not None:
                await self._refuse(send, 429, "too many wrong passwords; try again later", retry_after)
            else:
                await self._verdict(entry, scope, receive, send)
            return
        retry_after = self.failures.retry_after(address, now)
        if retry_after is not None:
            await self._refuse(send, 429, "too many wrong passwords; try again later", retry_after)
            return
        failing = self.failures.failing(address, now)
        # Counted as a failure until it passes, so that attempts still being checked count too: an address
        # cannot start more checks at once than it has failures left. A 503 counts too: refusals must cost
        # the attacker its attempts like wrong passwords do.
        self.failures.record(address, now)
        if self._gate.pending[failing] >= self.limits.concurrent_checks + self.limits.queued_checks:
            await self._refuse(send, 503, "too many password checks at once; try again", 1)
            return
        verdict = self._inflight[address, header] = asyncio.get_running_loop().create_future()
        entry = None
        try:
            entry = await self._check(failing, *credentials)
        finally:
            del self._inflight[address, header]
            verdict.set_result(entry)  # a check that did not finish refuses those waiting for it
        if entry is not None:
            self.failures.forget(address)
            self.verified.add(header, entry.name)
        await self._verdict(entry, scope, receive, send)

    async def _verdict(self, entry: UserEntry | None, scope: Scope, receive: Receive, send: Send) -> None:
        if entry is None:
            await self._refuse(send, 401, "authentication required")
        else:
            await self._pass(entry, scope, receive, send)

    async def _pass(self, entry: UserEntry, scope: Scope, receive: Receive, send: Send) -> None:
        scope[USER] = Identity(entry.name, entry.groups)
        await self.app(scope, receive, send)

    @staticmethod
    def _parse(header: bytes) -> tuple[str, str] | None:
        """(user, password) from a `Basic` Authorization header, or None if it is missing or malformed."""
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    async def _check(self, failing: bool, user: str, password: str) -> UserEntry | None:
        entry = self.users.get(user)
        # An unknown name is checked against a hash all the same: how long a refusal takes says nothing about
        # whether the name exists.
        secret = entry.secret if entry is not None else _NOBODY if self.users.hashed else "\0"
        if not secret.startswith("scrypt$"):
            password_ok = check_password(password, secret)  # a plain comparison: microseconds
        else:
            self._gate.pending[failing] += 1
            try:
                await self._gate.acquire(failing)
                try:
                    password_ok = await off_loop(check_password, password, secret, executor=self._checks)
                finally:
                    self._gate.release()
            finally:
                self._gate.pending[failing] -= 1
        return entry if entry is not None and password_ok else None

    async def _refuse(self, send: Send, status: int, detail: str, retry_after: int | None = None) -> None:
        body = b'{"detail":"' + detail.encode() + b'"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'.encode()))
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
