"""`GET /api/hosts`: the hosts that ship logs to this node's Redis, and whether each is alive.

The judgement (alive, silent, gone, hidden) is the sources' (sources/redis/hosts.py); this is only its route. A node
without `--redis` has no shipping hosts: the list is empty.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from logtail.sources.base import Unavailable
from logtail.web.state import state_of


def build_hosts_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/hosts", summary="Shipping hosts and their state",
                responses={503: {"description": "Redis is unreachable"}})
    async def list_hosts(request: Request) -> list[dict[str, Any]]:
        try:
            return await state_of(request).sources.hosts()
        except Unavailable as exc:
            raise HTTPException(exc.status, exc.detail) from None

    return router
