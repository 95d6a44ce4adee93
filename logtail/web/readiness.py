"""`/readyz`: whether this node can serve everything it is configured to serve, for a load balancer.

`/healthz` stays a liveness check (the process answers); readiness is false while a source cannot serve
(`Source.unready`: a node started with `--redis` that cannot reach Redis) or after a source or a background
task (the keep-alive ticker, the watches) stopped on an unexpected error (core/supervised.py), so a balancer
can send new clients to a node that can.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from logtail.web.state import state_of


def build_readiness_router() -> APIRouter:
    router = APIRouter()

    @router.get("/readyz", summary="Readiness check", responses={503: {"description": "Redis is unreachable"}})
    async def readyz(request: Request) -> JSONResponse:
        why = state_of(request).unready()
        if why is not None:
            return JSONResponse({"status": "unavailable", "reason": why}, status_code=503)
        return JSONResponse({"status": "ok"})

    return router
