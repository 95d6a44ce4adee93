"""Accept requests with or without the root path, so `--root-path` works whether the proxy strips it.

uvicorn prepends `root_path` to every request path, which is right when nginx strips the prefix
(`proxy_pass http://upstream/;`, the shipped config). A proxy that forwards the prefix, or a browser talking
to logtail directly, sends `/logs/api/...`, which then arrives as `/logs/logs/api/...`; this middleware
drops the doubled prefix so both forms reach the same route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def route_path(scope: Scope) -> str:
    """The request's path as the routes see it: without the root path that uvicorn put in front."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class AcceptPrefixedPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root: str = scope.get("root_path", "")
        if root and scope["type"] == "http":
            doubled = root + root
            path: str = scope["path"]
            if path == doubled or path.startswith(doubled + "/"):
                scope = dict(scope)
                scope["path"] = path[len(root):]
                raw: bytes = scope.get("raw_path") or b""
                if raw.startswith(doubled.encode()):
                    scope["raw_path"] = raw[len(root):]
        await self.app(scope, receive, send)
