"""What a running app holds, on `app.state.logtail`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from starlette.requests import Request

from logtail.config import Settings
from logtail.core.frames import Format, notice_frame
from logtail.core.hub import Hub
from logtail.core.rawresponse import Transfers
from logtail.sources.base import Sources


@dataclass
class AppState:
    settings: Settings
    hub: Hub
    sources: Sources
    templates: Jinja2Templates
    metrics: CollectorRegistry
    transfers: Transfers  # downloads and searches under way (for the keep-alive ticker)

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
