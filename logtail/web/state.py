"""What a running app holds, on `app.state.logtail`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from starlette.requests import Request

from logtail.config import Settings
from logtail.core.frames import Format, notice_frame
from logtail.core.hub import Hub
from logtail.core.rawresponse import Transfers
from logtail.sources.base import Sources
from logtail.web.gate import AccessGate


@dataclass
class AppState:
    settings: Settings
    hub: Hub
    sources: Sources
    templates: Jinja2Templates
    metrics: CollectorRegistry
    transfers: Transfers  # downloads and searches under way (for the keep-alive ticker)
    access: AccessGate = field(default_factory=AccessGate)  # users, [access] rules, open streams, audit
    stopped: list[str] = field(default_factory=list)  # the server's background tasks that failed (/readyz)

    def unready(self) -> str | None:
        """Why this node cannot serve all it should (`/readyz`): a background task or a source stopped on an
        unexpected error (core/supervised.py), or a source cannot serve (Redis unreachable)."""
        return next(iter(self.stopped), None) or self.sources.unready()

    def has_log(self, name: str) -> bool:
        return name in self.sources

    def shutdown_streams(self) -> None:
        """End every open stream with a final notice (SIGTERM): connections close, the server can exit."""
        self.hub.close_all({
            fmt: notice_frame(fmt, None, "shutdown", "server is shutting down; reconnect to resume")
            for fmt in get_args(Format)
        })


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.logtail
    return state
