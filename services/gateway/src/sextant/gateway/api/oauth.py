"""OAuth 2.0 callbacks: where an authorization server sends the admin's browser back.

Carries no bearer token — the browser comes from Atlassian — so it is authenticated by
its ``state``, which ingest gave out when an admin started the connection and takes back
once. The gateway passes the call on as it came (its query string is the whole request),
once, never retried (the state is spent by the first try), and charges a refused one to
the caller's address as a failed sign-in, so guessing states costs what guessing keys
does."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sextant.gateway.access import client_address, gateway_of, refuse_if_failing
from sextant.runtime.app import State
from sextant.runtime.errors import problem_response

router = APIRouter(prefix="/v1/oauth", tags=["oauth"])

CALLBACK_STATUSES = {
    400: "state or code missing, or a state this deployment never gave out",
    403: "consent declined at Atlassian, or the code refused (a PKCE verifier that does not "
    "match, a code already spent)",
    404: "the source was deleted while consent was given",
    409: "the state was used already (each is taken once), or the consent granted several "
    "Jira sites and the source names none of them",
    410: "the state expired: start the connection again",
    422: "a parameter over its length",
    429: "too many refused callbacks from this address: retry after Retry-After seconds",
    502: "Atlassian's token or resources endpoint failed; nothing was connected",
    503: "ingest is unavailable",
}


@router.get(
    "/jira/callback",
    summary="Atlassian's redirect after consent to a Jira connection (no bearer: the state "
    "authenticates it)",
    description="The redirect URI to register with the Atlassian OAuth 2.0 app "
    "(`<public base URL>/v1/oauth/jira/callback`). A tenant admin starts the flow with "
    "`POST /v1/sources/{source_id}/oauth/jira/start`; Atlassian then sends the browser "
    "here, and ingest exchanges the code (with the PKCE verifier it kept) and stores the "
    "access and refresh tokens sealed. Every refusal is problem+json naming the cause.",
    response_class=Response,
    responses={
        200: {
            "description": "connected: the source, its Jira site and the token's expiry",
            "content": {
                "application/json": {
                    "example": {
                        "connected": True,
                        "source_id": "0193a0c4-5e8b-7d2a-9c1e-3f4a5b6c7d8e",
                        "site_url": "https://acme.atlassian.net",
                        "cloud_id": "11223344-a1b2-3b33-c444-def123456789",
                        "expires_at": "2026-12-06T13:30:00Z",
                    }
                }
            },
        },
        **{status: problem_response(why) for status, why in CALLBACK_STATUSES.items()},
    },
)
async def jira_callback(
    request: Request,
    state: State,
    code: Annotated[str | None, Query(description="the authorization code")] = None,
    state_token: Annotated[
        str | None, Query(alias="state", description="the state the start handed out")
    ] = None,
    error: Annotated[
        str | None, Query(description="Atlassian's error instead of a code: access_denied")
    ] = None,
    error_description: Annotated[
        str | None, Query(description="Atlassian's words for the error")
    ] = None,
) -> Response:
    gateway = gateway_of(state)
    address = client_address(request.scope, gateway.settings.trusted_proxies)
    refuse_if_failing(gateway, address, time.monotonic())
    reply = await gateway.upstreams.forward(
        "ingest", request, "/v1/oauth/jira/callback", key=address, body=b"", retry=False
    )
    if reply.status_code in (400, 409, 410):  # a state not given out, replayed or stale
        gateway.anonymous_buckets.charge(address, time.monotonic())
    return reply
