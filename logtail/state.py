"""What a running app holds, on `app.state.logtail`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from starlette.requests import Request

from .config import Settings
from .hub import Hub
from .registry import LogRegistry
from .sse import Format, notice_frame


@dataclass
class AppState:
    settings: Settings
    hub: Hub
    registry: LogRegistry
    templates: Jinja2Templates
    metrics: CollectorRegistry

    def shutdown_streams(self) -> None:
        """End every open stream with a final notice (SIGTERM): connections close, the server can exit."""
        self.hub.close_all({
            fmt: notice_frame(fmt, None, "shutdown", "server is shutting down; reconnect to resume")
            for fmt in get_args(Format)
        })


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.logtail
    return state
