"""The gateway's public routes. Authentication and routing come with the gateway issue."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sextant.gateway.upstreams import Readiness, Upstreams
from sextant.runtime.app import State
from sextant.runtime.errors import problem

public_router = APIRouter(prefix="/v1", tags=["status"])


@public_router.get("/status", summary="Health of every service behind the gateway")
async def platform_status(state: State) -> JSONResponse:
    upstreams: Upstreams = state.extras["upstreams"]
    own = Readiness(await state.db.ping() and await state.bus.ping(), "ready")
    names = upstreams.names
    results = await asyncio.gather(*(upstreams.readiness(name) for name in names))
    services: dict[str, Any] = {
        name: {"ready": r.ready, "detail": r.detail, "checks": r.checks}
        for name, r in zip(["gateway", *names], [own, *results], strict=True)
    }
    if all(s["ready"] for s in services.values()):
        return JSONResponse({"status": "ok", "services": services})
    failing = sorted(name for name, s in services.items() if not s["ready"])
    return problem(
        503, "Degraded", f"not ready: {', '.join(failing)}", type_slug="degraded", services=services
    )
