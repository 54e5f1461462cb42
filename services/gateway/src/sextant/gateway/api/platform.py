"""The gateway's platform routes: status, the caller, the API and event documents, and
webhooks (authenticated by ingest, by each tool's signature, so passed on as they are,
once the gateway has read the whole body at a decent pace and within the source's rate)."""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import fastapi_offline
from fastapi import APIRouter, Path, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.routing import Route

from sextant.contracts.asyncapi import asyncapi_document
from sextant.contracts.schemas import all_schemas
from sextant.gateway.access import (
    CurrentPrincipal,
    Gateway,
    client_address,
    gateway_of,
    refuse_if_failing,
)
from sextant.gateway.domain.limits import UploadPace, retry_after_header
from sextant.gateway.openapi import PublicOpenAPI
from sextant.gateway.schemas import Me
from sextant.gateway.upstreams import Readiness
from sextant.runtime.app import State, expected_revisions, service_state
from sextant.runtime.errors import (
    DomainError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    problem,
    problem_response,
)
from sextant.runtime.readiness import service_checks, summary

public_router = APIRouter(prefix="/v1", tags=["status"])


def example_reply(example: dict[str, Any]) -> dict[str, Any]:
    """A 200 reply's OpenAPI entry with an example, for a route that answers no model."""
    return {"content": {"application/json": {"example": example}}}


@public_router.get(
    "/status",
    summary="Health of every service behind the gateway, check by check",
    description=(
        "Each service (the gateway first) with `ready`, a one-line `detail` and its `checks` "
        "(database, migrations, bus, outbox relay, consumer), each with `name`, `ok` and "
        "`detail`. 200 with `status: ok` when every check passes; otherwise 503 (problem+json) with "
        "`health: degraded` (some services fail a check) or `unavailable` (the gateway "
        "itself, or every service behind it, fails)."
    ),
    responses={
        200: example_reply(
            {
                "status": "ok",
                "services": {
                    "ingest": {
                        "ready": True,
                        "detail": "all 2 checks pass",
                        "checks": [
                            {"name": "database", "ok": True, "detail": "answers"},
                            {
                                "name": "consumer",
                                "ok": True,
                                "detail": "consuming sextant.lifecycle",
                            },
                        ],
                    },
                },
            }
        ),
        503: problem_response("a check fails: `services` says which and why"),
    },
)
async def platform_status(state: State) -> JSONResponse:
    upstreams = gateway_of(state).upstreams
    own_checks = await service_checks(state, expected_revisions(state.spec))
    own = Readiness(
        all(c.ok for c in own_checks), summary(own_checks), [c.as_json() for c in own_checks]
    )
    names = upstreams.names
    results = await asyncio.gather(*(upstreams.readiness(name) for name in names))
    verdicts = dict(zip(["gateway", *names], [own, *results], strict=True))
    services: dict[str, Any] = {
        name: {"ready": r.ready, "detail": r.detail, "checks": r.checks}
        for name, r in verdicts.items()
    }
    failing = [name for name, r in verdicts.items() if not r.ready]
    if not failing:
        return JSONResponse({"status": "ok", "services": services})
    down = not own.ready or all(not r.ready for r in results)
    status = "unavailable" if down else "degraded"
    return problem(
        503,
        status.capitalize(),
        "; ".join(f"{name}: {verdicts[name].detail}" for name in failing),
        type_slug=status,
        health=status,
        services=services,
    )


@public_router.get("/me", response_model=Me, summary="Who the bearer token says the caller is")
async def me(caller: CurrentPrincipal) -> Me:
    """The subject, role and tenant the gateway reads from the caller's token or API key: the
    first call to make with a new token."""
    return Me(subject=caller.subject, role=caller.role, tenant_id=caller.tenant_id, via=caller.via)


@public_router.get(
    "/auth/jwks.json",
    summary="The built-in local issuer's public keys (embedded mode)",
    responses={
        200: example_reply(
            {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "local-1", "x": "11qYAYKxCrfVS_7T"}]}
        ),
        404: problem_response("this deployment has no local issuer"),
    },
)
async def local_jwks(state: State) -> dict[str, Any]:
    """The public keys of the gateway's own token issuer (the embedded mode's), so other
    parties can verify its tokens."""
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


# Swagger UI's files as the fastapi-offline package ships them: the explorer loads nothing
# from outside the gateway, so it works on a machine with no route to a CDN.
EXPLORER_ASSETS = pathlib.Path(fastapi_offline.__file__).parent / "static"
EXPLORER_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@docs_router.get("/docs", include_in_schema=False)
async def api_explorer() -> HTMLResponse:
    """Swagger UI over /openapi.json, its script, style and icon served by the gateway."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Sextant API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
        # Swagger UI otherwise sends the document to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


@docs_router.get("/docs/assets/{name}", include_in_schema=False)
async def api_explorer_asset(name: str) -> FileResponse:
    """One of the explorer's files, by name from a fixed list (never a path from the URL)."""
    media_type = EXPLORER_FILES.get(name)
    if media_type is None:
        raise NotFound(f"no explorer asset {name[:64]!r}")
    return FileResponse(EXPLORER_ASSETS / name, media_type=media_type)


events_router = APIRouter(prefix="/v1/events", tags=["contracts"])


@events_router.get(
    "/asyncapi.json",
    summary="AsyncAPI 3.0 document of every topic partners can subscribe to",
    responses={
        200: example_reply(
            {"asyncapi": "3.0.0", "info": {"title": "Sextant events"}, "channels": {}}
        )
    },
)
async def asyncapi() -> dict[str, Any]:
    """Every event topic partners can subscribe to, with each event's data schema."""
    return asyncapi_document()


@events_router.get(
    "/schemas/{event_type}",
    summary="JSON Schema of one event type's data (or 'envelope')",
    responses={
        200: example_reply({"type": "object", "properties": {"key": {"type": "string"}}}),
        404: problem_response("no such event type"),
    },
)
async def event_schema(
    event_type: Annotated[
        str, Path(description="an event type as the AsyncAPI document names it, or 'envelope'")
    ],
) -> JSONResponse:
    """The JSON Schema of one event type's data, or of the CloudEvents envelope."""
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
        408: problem_response("the body came too slowly"),
        410: problem_response("the source is disabled or its workspace deleted"),
        413: problem_response("over the body limit"),
        415: problem_response("not application/json"),
        429: problem_response(
            "overloaded, over the source's rate, or too many failures from this address: "
            "retry after Retry-After seconds"
        ),
        503: problem_response("ingest or its database is unavailable: nothing was stored"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the tool's payload, signed as the tool signs it",
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "action": "closed",
                        "pull_request": {"number": 42, "merged": True},
                        "repository": {"full_name": "acme/web"},
                    },
                }
            },
        }
    },
)
async def webhook(
    source_id: Annotated[str, Path(description="the source's id, from its webhook URL")],
    request: Request,
    state: State,
) -> Response:
    """For the OpenAPI document and anything :func:`hook_route` does not answer."""
    return await receive_webhook(source_id, request, gateway_of(state))


def hook_route() -> Route:
    """``POST /v1/hooks/{source_id}`` as a plain Starlette route, for the spec's
    ``hot_routes`` (as ingest does): answered before FastAPI's middleware, routing and
    dependency solving, which cost more than a refusal (429, 404) itself — the answer
    an attacker's flood mostly gets."""

    async def endpoint(request: Request) -> Response:
        gateway = gateway_of(service_state(request))
        return await receive_webhook(request.path_params["source_id"], request, gateway)

    return Route("/v1/hooks/{source_id}", endpoint, methods=["POST"], include_in_schema=False)


async def receive_webhook(source_id: str, request: Request, gateway: Gateway) -> Response:
    """Checked and read here, so that what reaches ingest and its breaker is a whole body
    within its source's rate.

    A refused delivery (unknown or deleted source, bad signature, disabled source) costs
    the allowance of that source *from that address*, and the address's own allowance
    only the first time that pair fails: one sender (a tool's hook service) delivers for
    many tenants, so one tenant's deleted source or broken secret must hold back only
    itself, while a scanner trying many sources spends its address's allowance. A
    too-slow upload costs the address. Over either allowance: 429 before the body is
    read."""
    address = client_address(request.scope, gateway.settings.trusted_proxies)
    sender = f"{source_id[:64]}@{address}"
    refuse_if_failing(gateway, address, time.monotonic())
    refuse_if_failing(gateway, sender, time.monotonic())
    try:
        source = UUID(source_id)
    except ValueError:
        _refused(gateway, sender, address)
        raise NotFound(f"no source {source_id[:64]!r}") from None
    try:
        settings = gateway.settings
        pace = UploadPace(
            settings.webhook_body_grace_seconds, settings.webhook_body_min_bytes_per_second
        )
        body = await read_body(request, settings.webhook_max_body_bytes, pace)
    except UploadTooSlow:
        gateway.anonymous_buckets.charge(address, time.monotonic())
        raise
    wait = gateway.source_buckets.take(str(source), time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            "too many deliveries for this source; retry later",
            retry_after=int(retry_after_header(wait)),
        )
    reply = await gateway.upstreams.forward(
        "ingest", request, f"/v1/hooks/{quote(str(source), safe='')}", key=str(source), body=body
    )
    if reply.status_code in (401, 404, 410):
        _refused(gateway, sender, address)
    return reply


def _refused(gateway: Gateway, sender: str, address: str) -> None:
    """Charge a refused delivery to its (source, address), and to the address when that
    pair has not failed lately."""
    now = time.monotonic()
    if sender not in gateway.anonymous_buckets:
        gateway.anonymous_buckets.charge(address, now)
    gateway.anonymous_buckets.charge(sender, now)


class UploadTooSlow(DomainError):
    status, title, type_slug = 408, "Request timeout", "request-timeout"


class UploadAborted(DomainError):
    """The client left mid-body; nobody reads the answer, but it is logged as a 400."""


async def read_body(request: Request, limit: int, pace: UploadPace) -> bytes:
    """The whole body, at ``pace`` and within ``limit`` bytes (ingest's) — before
    anything is forwarded, so a slow or aborted upload costs a breaker nothing and ties
    up no upstream connection."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is over the {limit} byte limit")
    started = time.monotonic()
    chunks: list[bytes] = []
    received = 0
    more = True
    while more:
        try:
            async with asyncio.timeout_at(_loop_time(pace.deadline(started, received))):
                message = await request.receive()
        except TimeoutError:
            raise UploadTooSlow(
                f"the body came too slowly: {received} bytes in "
                f"{time.monotonic() - started:.1f} s; after {pace.grace:g} s it must average "
                f"{pace.min_bytes_per_second:g} bytes/s"
            ) from None
        if message["type"] == "http.disconnect":
            raise UploadAborted("the client left before the body was whole")
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"the body is over the {limit} byte limit")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _loop_time(monotonic_deadline: float) -> float:
    """A time.monotonic() deadline on the event loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())
