"""`GET /api/hosts`: the hosts that ship logs to this node's Redis, and whether each is alive, as far as the
request's user may read their logs.

The judgement (alive, silent, gone, hidden) is the sources' (sources/redis/hosts.py); this is only its route. A node
without `--redis` has no shipping hosts: the list is empty.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from logtail.web.access import control_of, readable
from logtail.web.state import state_of


def build_hosts_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/hosts", summary="Shipping hosts and their state",
                responses={503: {"description": "Redis is unreachable"}})
    async def list_hosts(request: Request) -> list[dict[str, Any]]:
        hosts = await state_of(request).sources.hosts()
        return [part for host in hosts if (part := _readable_part(request, host)) is not None]

    return router


def _readable_part(request: Request, host: dict[str, Any]) -> dict[str, Any] | None:
    """The host with only the logs the user may read (`NAME@HOST`); None, not listed, when it has logs and
    none of them is readable, or none at all while access rules exist (nothing tells whom it concerns)."""
    logs = {name: info for name, info in host["logs"].items() if readable(request, f"{name}@{host['host']}")}
    if not logs and (host["logs"] or control_of(request.scope).rules):
        return None
    return {**host, "logs": logs}
