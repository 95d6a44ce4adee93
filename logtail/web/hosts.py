"""`GET /api/hosts`: the hosts that ship logs to this node's Redis, and whether each is alive.

The judgement (alive, silent, gone, hidden) is sources/redis/hosts.py's; this is only its route. A node
without `--redis` has no shipping hosts: the list is empty.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from redis.exceptions import RedisError, ResponseError

from logtail.sources.redis.hosts import listed, read_hosts
from logtail.web.state import state_of


def build_hosts_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/hosts", summary="Shipping hosts and their state",
                responses={503: {"description": "Redis is unreachable"}})
    async def list_hosts(request: Request) -> list[dict[str, Any]]:
        st = state_of(request)
        if st.shipped is None:
            return []
        try:
            records = await read_hosts(st.shipped.client)
        except ResponseError as exc:  # e.g. the node's ACL user may not SCAN (users.acl)
            raise HTTPException(503, f"redis refused to list the hosts: {exc}") from None
        except (RedisError, OSError):
            raise HTTPException(503, "redis unreachable: the hosts are not known right now") from None
        s = st.settings
        return listed(records, time.time(), s.host_gone_after, s.host_hide_after)

    return router
