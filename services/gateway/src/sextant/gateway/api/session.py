"""The web portal's sign-in: a one-time link opens a cookie session; the page reads its
CSRF token here; sign-out ends it (see :mod:`sextant.gateway.sessions` for the rules)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from sextant.gateway.access import CurrentPrincipal, client_address, gateway_of, refuse_if_failing
from sextant.gateway.schemas import SessionReply
from sextant.gateway.sessions import (
    clear_session_cookie,
    csrf_token,
    end_session,
    open_session_from_link,
    session_cookie,
    session_expiry,
    set_session_cookie,
)
from sextant.runtime.app import State
from sextant.runtime.errors import Conflict, NotFound, Unauthenticated, problem_response

router = APIRouter(prefix="/v1/session", tags=["session"])

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get(
    "/link",
    summary="Open a portal session with a one-time sign-in link (what `sextant run` prints)",
    description="Spends the link's code on a browser session: sets the HttpOnly, "
    "SameSite=Strict session cookie and redirects to the portal (`/`). Each link opens one "
    "session; it expires with the platform-admin token printed beside it. Only the embedded "
    "mode's built-in issuer makes such links.",
    response_class=RedirectResponse,
    status_code=303,
    responses={
        303: {"description": "signed in: the session cookie is set; to the portal"},
        401: problem_response("the code is not a sign-in link of this platform, or it expired"),
        403: problem_response("the link names no role, or a tenant role without its tenant"),
        404: problem_response("this deployment has no built-in issuer (sign-in links are off)"),
        409: problem_response("the link was used already: each opens one session"),
        422: problem_response("`code` is missing or over its length"),
        429: problem_response("too many refused sign-ins from this address; retry later"),
        503: problem_response("the gateway's database is unavailable: no session was opened"),
    },
)
async def sign_in_with_link(
    request: Request,
    state: State,
    code: Annotated[
        str, Query(max_length=4096, description="the one-time code the sign-in link carries")
    ],
) -> RedirectResponse:
    """A refused code counts as a failed sign-in of the caller's address (as a bad token
    does), so links cannot be guessed faster than keys."""
    gateway = gateway_of(state)
    if gateway.local_issuer is None:
        raise NotFound("sign-in links are made only by the embedded mode's built-in issuer")
    address = client_address(request.scope, gateway.settings.trusted_proxies)
    refuse_if_failing(gateway, address, time.monotonic())
    ttl = gateway.settings.session_ttl_seconds
    try:
        cookie, _, _ = await open_session_from_link(state.db, gateway.local_issuer, code, ttl)
    except (Unauthenticated, Conflict):
        gateway.anonymous_buckets.charge(address, time.monotonic())
        raise
    response = RedirectResponse("/", status_code=303, headers=NO_STORE)
    set_session_cookie(response, request, cookie, ttl)
    return response


@router.get(
    "",
    response_model=SessionReply,
    summary="The signed-in browser's session: who it is, its CSRF token, its expiry",
    responses={
        401: problem_response("no session cookie, or its session expired or was ended"),
        403: problem_response("the session's tenant was deleted"),
        429: problem_response("rate limit reached; retry after Retry-After seconds"),
    },
)
async def current_session(
    request: Request, response: Response, caller: CurrentPrincipal, state: State
) -> SessionReply:
    """The portal's first call: the caller, and the token to send as ``X-CSRF-Token`` on
    every write. Answers only for a session cookie (a bearer token has no session)."""
    cookie = session_cookie(request)
    if caller.via != "session" or cookie is None:
        raise Unauthenticated("no browser session: this answers for the portal's cookie only")
    response.headers.update(NO_STORE)
    return SessionReply(
        subject=caller.subject,
        role=caller.role,
        tenant_id=caller.tenant_id,
        expires_at=await session_expiry(state.db, cookie, datetime.now(UTC)),
        csrf_token=csrf_token(cookie),
    )


@router.delete(
    "",
    status_code=204,
    summary="Sign out: the session ends at once, on every replica",
    responses={
        401: problem_response("no session cookie, or its session expired or was ended"),
        403: problem_response("the X-CSRF-Token header is missing or wrong, or another origin"),
        429: problem_response("rate limit reached; retry after Retry-After seconds"),
    },
)
async def sign_out(request: Request, caller: CurrentPrincipal, state: State) -> Response:
    """Ends the session the cookie names and clears the cookie (a write: it needs the
    CSRF token like any other)."""
    cookie = session_cookie(request)
    if caller.via != "session" or cookie is None:
        raise Unauthenticated("no browser session to end: this is for the portal's cookie")
    await end_session(state.db, cookie)
    response = Response(status_code=204, headers=NO_STORE)
    clear_session_cookie(response, request)
    return response
