"""Optional HTTP Basic authentication, and salted password hashes for the config file.

`auth = "user:password"` or `auth = "user:scrypt$..."` (from `logtail hash-password`). Every path except
`/healthz` then needs the credentials; comparisons are constant-time. Browsers keep sending Basic
credentials for same-origin requests, so the page's `EventSource` keeps working once the user has logged in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from .proxy import route_path

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
OPEN_PATHS = ("/healthz",)


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


class BasicAuth:
    """ASGI middleware answering 401 with `WWW-Authenticate` unless the request carries the credentials."""

    def __init__(self, app: ASGIApp, credentials: str, realm: str = "logtail") -> None:
        self.app = app
        self.user, _, self.secret = credentials.partition(":")
        self.realm = realm
        # scrypt takes tens of milliseconds by design; remember headers that passed (bounded).
        self._accepted: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in OPEN_PATHS or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = b'{"detail":"authentication required"}'
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"www-authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        key = hashlib.sha256(token).digest()
        if key in self._accepted:
            return True
        try:
            user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        ok = bool(sep) and check_password(password, self.secret) and user_ok
        if ok:
            if len(self._accepted) > 1000:
                self._accepted.clear()
            self._accepted.add(key)
        return ok
