"""Single sign-on through a proxy: the user (and groups) named by headers that only a trusted proxy may set.

With `--auth-proxy-header X-Forwarded-User`, oauth2-proxy, Authelia, Pomerium or nginx `auth_request` signs
the user in and passes the name on. The header is believed only on a connection from an address in
`--forwarded-allow-ips`: the peer of the TCP connection itself (`PEER`, recorded by the app before
X-Forwarded-For is applied), never the client the proxy reports. Anything else is refused with 401 and
logged: the header from another address is an attempt to forge it, and a request from the proxy without it
means the proxy let an unauthenticated request through, which must show rather than be served anonymously.
`/healthz` stays open for health checks.
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from logtail.web.access import USER, Identity
from logtail.web.middleware.auth import OPEN_PATHS
from logtail.web.middleware.proxy import route_path

log = logging.getLogger(__name__)

PEER = "logtail.peer"  # scope key: (host, port) of the connection, before proxy headers rewrite `client`
MAX_HEADER_CHARS = 1024
MAX_GROUPS = 256

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """`--forwarded-allow-ips`: addresses, networks, `*`, or literal names (a unix socket's)."""

    def __init__(self, spec: str) -> None:
        self.any = False
        self.networks: list[Network] = []
        self.literals: set[str] = set()
        for item in (part.strip() for part in spec.split(",")):
            if item == "*":
                self.any = True
            elif item:
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    self.literals.add(item)

    def __contains__(self, host: str | None) -> bool:
        if host is None:
            return False
        if self.any or host in self.literals:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _values(scope: Scope, header: bytes) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == header]


def parse_groups(values: list[bytes]) -> frozenset[str] | None:
    """Comma-separated groups from every copy of the groups header; None if unreadable."""
    groups: set[str] = set()
    for value in values:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
        groups.update(g.strip() for g in text.split(",") if g.strip())
    return frozenset(groups) if len(groups) <= MAX_GROUPS else None


class ProxyHeaderAuth:
    """ASGI middleware: 401 unless a trusted proxy names the user; the user goes into the scope."""

    def __init__(self, app: ASGIApp, header: str, groups_header: str | None, trusted: str) -> None:
        self.app = app
        self.header_name = header
        self.header = header.lower().encode()
        self.groups_header = groups_header.lower().encode() if groups_header else None
        self.trusted = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        peer = scope.get(PEER) or scope.get("client")
        host = str(peer[0]) if peer else None
        users = _values(scope, self.header)
        if host not in self.trusted:
            if users:
                log.warning("refused a request with %s from %s, which is not in forwarded_allow_ips: a forged "
                            "user header, or a proxy missing from forwarded_allow_ips", self.header_name, host)
            await _refuse(send, "authentication required: sign in through the proxy")
            return
        user = _user(users)
        groups = parse_groups(_values(scope, self.groups_header)) if self.groups_header else frozenset()
        if user is None or groups is None:
            log.warning("the proxy at %s passed a request for %s without a usable %s header: refused", host,
                        route_path(scope), self.header_name)
            await _refuse(send, f"authentication required: no usable {self.header_name} from the proxy")
            return
        scope[USER] = Identity(user, groups, via_proxy=True)
        await self.app(scope, receive, send)


def _user(values: list[bytes]) -> str | None:
    if len(values) != 1 or len(values[0]) > MAX_HEADER_CHARS:
        return None  # two user headers: which one the proxy set is unknowable
    try:
        user = values[0].decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return user or None


async def _refuse(send: Send, detail: str) -> None:
    body = b'{"detail":"' + detail.encode() + b'"}'
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
