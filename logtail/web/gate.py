"""The access side of a running app (`AppState.access`): users and rules, the open streams, the audit trail,
and reloading users and rules on SIGHUP, closing the open streams their users may no longer read.

Access is decided when a stream opens; a stream lives for hours. So each stream of a server with auth is
kept in `OpenStreams` with its user and logs, and after a reload every one of them is checked again: one its
user may no longer read (the user was removed, lost a group, or a rule changed) ends with a `revoked` notice
at once. Other streams carry on: a reload drops nothing else.

The files are read off the event loop; a file with a mistake is logged and ignored (the running users and
rules stay), as nginx does with a bad configuration on reload.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from logtail.config import ConfigError, Settings, access_table, users_table
from logtail.core.frames import notice_frame
from logtail.core.offloop import off_loop
from logtail.core.subscription import Subscription
from logtail.web.access import AccessControl, AccessRules, Identity, control_of, first_unreadable, identity, unknown_log
from logtail.web.audit import Audit
from logtail.web.stream import LogStream
from logtail.web.users import UserEntry, UserTable, load_users

log = logging.getLogger(__name__)

REVOKED = "access to this log was withdrawn"


class GuardedStream(Response):
    """A `LogStream` that `OpenStreams` knows about for as long as it runs (a `Response`, for the routes)."""

    def __init__(self, stream: LogStream, who: Identity | None, streams: OpenStreams) -> None:
        self.status_code = 200
        self.background = None
        self.stream = stream
        self.who = who
        self.streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.streams.add(self)
        try:
            # Access was decided before the route's awaits (a journal log's window being read, `since=`); a
            # reload meanwhile did not find this stream open, so it is decided again, as it would have been.
            denied = first_unreadable(control_of(scope), scope, self.stream.logs)
            if denied is not None:
                await JSONResponse({"detail": unknown_log(denied)}, status_code=404)(scope, receive, send)
                return
            await self.stream(scope, receive, send)
        finally:
            self.streams.discard(self)

    def revoke(self) -> None:
        # The stream subscribes (and becomes its own `sender`) before its first await, so once it runs at
        # all its subscription is there to close.
        sub = self.stream.sender
        if isinstance(sub, Subscription) and not sub.closed:
            sub.close(notice_frame(sub.fmt, None, "revoked", REVOKED))


class OpenStreams(set[GuardedStream]):
    def revoke_unreadable(self, control: AccessControl) -> int:
        """End every stream whose user may no longer read one of its logs; how many were ended."""
        ended = 0
        for guarded in list(self):
            if any(not control.readable(guarded.who, name) for name in guarded.stream.logs):
                guarded.revoke()
                ended += 1
        return ended


def read_access(settings: Settings) -> tuple[dict[str, UserEntry], AccessRules]:
    """Users and rules as the files say now (blocking: reads the users file and the config file)."""
    data: dict[str, Any] = {}
    if settings.config_file is not None:
        try:
            data = tomllib.loads(Path(settings.config_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {settings.config_file}: {exc}") from None
    origin = f"config file {settings.config_file}"
    table = dict(users_table(data, origin)) if settings.config_file else dict(settings.users_table)
    rules = access_table(data, origin) if settings.config_file else settings.access
    users = load_users(settings.auth, settings.users, table)
    return users, AccessRules(rules)


def _open_control() -> AccessControl:
    return AccessControl(UserTable(), AccessRules(), basic=False, authenticates=False)


@dataclass
class AccessGate:
    control: AccessControl = field(default_factory=_open_control)
    streams: OpenStreams = field(default_factory=OpenStreams)
    audit: Audit = field(default_factory=lambda: Audit(CollectorRegistry()))

    @classmethod
    def build(cls, settings: Settings, metrics: CollectorRegistry) -> AccessGate:
        """The gate at start-up: a mistake in the users or rules is a ConfigError (exit 2)."""
        users, rules = read_access(settings)
        basic = bool(settings.auth or settings.users or settings.users_table)
        control = AccessControl(UserTable(users), rules, basic=basic, authenticates=settings.authenticates,
                                metrics_users=settings.metrics_users)
        return cls(control, OpenStreams(), Audit(metrics))

    def guard(self, stream: LogStream, scope: Scope) -> Response:
        """The stream, kept among the open streams when its user's access may change."""
        if not self.control.authenticates:
            return stream
        return GuardedStream(stream, identity(scope), self.streams)

    async def reload(self, settings: Settings) -> None:
        try:
            users, rules = await off_loop(read_access, settings)
        except ConfigError as exc:
            log.error("reload: %s; keeping the users and rules in force", exc)
            return
        control = self.control
        if control.basic:  # a server without Basic users (none, or proxy auth) stays without
            control.users.replace(users)
        control.rules = rules
        ended = self.streams.revoke_unreadable(control)
        log.info("reload: %d users, %d access rules; %d streams ended", len(users) if control.basic else 0,
                 len(rules.rules), ended)
