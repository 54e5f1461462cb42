"""The gateway's platform routes: status, the caller, the API and event documents, and
webhooks (authenticated by ingest, by each tool's signature, so passed on as they are)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sextant.contracts.asyncapi import asyncapi_document
from sextant.contracts.schemas import all_schemas
from sextant.gateway.access import CurrentPrincipal, gateway_of
from sextant.gateway.openapi import PublicOpenAPI
from sextant.gateway.schemas import Me
from sextant.gateway.upstreams import Readiness
from sextant.runtime.app import State
from sextant.runtime.errors import NotFound, problem, problem_response

public_router = APIRouter(prefix="/v1", tags=["status"])


@public_router.get("/status", summary="Health of every service behind the gateway")
async def platform_status(state: State) -> JSONResponse:
    upstreams = gateway_of(state).upstreams
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


@public_router.get("/me", response_model=Me, summary="Who the bearer token says the caller is")
async def me(caller: CurrentPrincipal) -> Me:
    return Me(subject=caller.subject, role=caller.role, tenant_id=caller.tenant_id, via=caller.via)


@public_router.get(
    "/auth/jwks.json", summary="The built-in local issuer's public keys (embedded mode)"
)
async def local_jwks(state: State) -> dict[str, Any]:
    issuer = gateway_of(state).local_issuer
    if issuer is None:
        raise NotFound("this deployment has no local issuer; tokens come from its OIDC provider")
    return issuer.jwks()


docs_router = APIRouter(tags=["contracts"])


@docs_router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request, state: State) -> JSONResponse:
    """The whole public API: the gateway's routes and the services' behind it."""
    builder: PublicOpenAPI | None = state.extras.get("openapi")
    if builder is None:
        builder = state.extras["openapi"] = PublicOpenAPI(request.app, gateway_of(state).upstreams)
    return JSONResponse(await builder.document())


events_router = APIRouter(prefix="/v1/events", tags=["contracts"])


@events_router.get(
    "/asyncapi.json", summary="AsyncAPI 3.0 document of every topic partners can subscribe to"
)
async def asyncapi() -> dict[str, Any]:
    return asyncapi_document()


@events_router.get(
    "/schemas/{event_type}",
    summary="JSON Schema of one event type's data (or 'envelope')",
    responses={404: problem_response("no such event type")},
)
async def event_schema(event_type: str) -> JSONResponse:
    schemas = all_schemas()
    if event_type not in schemas:
        raise NotFound(f"no event type {event_type!r}; see /v1/events/asyncapi.json for the list")
    return JSONResponse(schemas[event_type], media_type="application/schema+json")


hooks_router = APIRouter(prefix="/v1", tags=["webhooks"])


@hooks_router.post(
    "/hooks/{source_id}",
    summary="Webhook deliveries, passed to ingest (authenticated there by the tool's signature)",
    response_class=Response,
    status_code=202,
    responses={
        200: {"description": "a redelivery; nothing new stored"},
        202: {"description": "accepted and stored"},
        400: problem_response("the body is not JSON"),
        401: problem_response("bad or missing signature"),
        404: problem_response("no such source"),
        410: problem_response("the source is disabled or its workspace deleted"),
        413: problem_response("over the body limit"),
        415: problem_response("not application/json"),
        429: problem_response("overloaded: retry after Retry-After seconds"),
        503: problem_response("ingest or its database is unavailable: nothing was stored"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the tool's payload, signed as the tool signs it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def webhook(source_id: str, request: Request, state: State) -> Response:
    return await gateway_of(state).upstreams.forward(
        "ingest", request, f"/v1/hooks/{quote(source_id, safe='')}"
    )
