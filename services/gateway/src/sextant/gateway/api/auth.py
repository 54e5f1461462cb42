"""Sign-in with an OIDC provider (authorization code with PKCE) for the web portal, and
the list of providers its sign-in page offers (see :mod:`sextant.gateway.oidc`).

Both flow routes are for a browser: after the provider, every outcome is a redirect to
the portal — signed in (the session cookie set), or its sign-in page with the reason in
``?sign_in_error=`` — never a bare error page. Refused callbacks (bad, replayed or
expired states) count as failed sign-ins of the caller's address, as bad tokens do."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.requests import HTTPConnection
from starlette.responses import Response

from sextant.gateway.access import client_address, gateway_of, refuse_if_failing
from sextant.gateway.oidc import OidcSignIn, ProviderFailed, SignInRefused
from sextant.gateway.schemas import Page, SignInProvider
from sextant.gateway.sessions import open_session, set_session_cookie
from sextant.runtime.app import ServiceState, State
from sextant.runtime.errors import Forbidden, problem_response

router = APIRouter(prefix="/v1/auth", tags=["session"])

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
STATE_COOKIE = "sextant_oidc_state"
SECURE_STATE_COOKIE = "__Secure-sextant_oidc_state"  # over https
STATE_COOKIE_PATH = "/v1/auth/oidc"
PORTAL = "/"

ProviderName = Annotated[
    str, Path(max_length=40, description="the provider's configured name (`okta`)")
]


def sign_in_of(state: ServiceState) -> OidcSignIn:
    sign_in: OidcSignIn = state.extras["oidc_sign_in"]
    return sign_in


def to_portal_with_error(detail: str) -> RedirectResponse:
    """Back to the portal's sign-in page, which shows ``detail``."""
    query = urlencode({"sign_in_error": detail[:300]})
    return RedirectResponse(f"{PORTAL}?{query}", status_code=303, headers=NO_STORE)


def _state_cookie_name(connection: HTTPConnection) -> str:
    return SECURE_STATE_COOKIE if connection.url.scheme == "https" else STATE_COOKIE


def _clear_state_cookie(response: Response, connection: HTTPConnection) -> None:
    secure = connection.url.scheme == "https"
    response.delete_cookie(
        _state_cookie_name(connection),
        path=STATE_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


@router.get(
    "/providers",
    response_model=Page[SignInProvider],
    summary="The OIDC providers the portal's sign-in page offers (no sign-in needed)",
    description="Each configured provider (`SEXTANT_GATEWAY_OIDC_PROVIDERS`) with the URL "
    "that starts a sign-in with it; empty when only the embedded mode's one-time link "
    "signs in. All of them fit on one page.",
)
async def list_providers(state: State) -> Page[SignInProvider]:
    providers = sign_in_of(state).providers.values()
    return Page(
        items=[
            SignInProvider(
                name=p.name,
                display_name=p.display_name,
                login_url=f"/v1/auth/oidc/{p.name}/login",
            )
            for p in providers
        ]
    )


@router.get(
    "/oidc/{provider}/login",
    summary="Start a portal sign-in with an OIDC provider (a redirect to it)",
    description="Redirects the browser to the provider's authorization endpoint (from its "
    "discovery document) with a fresh `state`, `nonce` and an S256 PKCE `code_challenge`. "
    "The state and verifier stay on the gateway; the state also goes into a short-lived "
    "HttpOnly cookie so that only this browser can finish the sign-in. A provider that "
    "cannot be reached sends the browser back to the portal with the reason.",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {"description": "to the provider's sign-in page"},
        303: {"description": "the provider is unreachable: to the portal, `?sign_in_error=`"},
        404: problem_response("no provider of that name is configured"),
        422: problem_response("the provider's name is over its length"),
        429: problem_response("too many refused sign-ins from this address; retry later"),
        503: problem_response("the gateway's database is unavailable: no sign-in started"),
    },
)
async def login(request: Request, state: State, provider: ProviderName) -> Response:
    gateway = gateway_of(state)
    sign_in = sign_in_of(state)
    chosen = sign_in.provider(provider)
    # An address whose sign-ins keep being refused starts no more (each start is a row).
    refuse_if_failing(
        gateway, client_address(request.scope, gateway.settings.trusted_proxies), time.monotonic()
    )
    redirect_uri = sign_in.redirect_uri(provider, str(request.base_url))
    try:
        started = await sign_in.start(chosen, redirect_uri)
    except ProviderFailed as exc:
        return to_portal_with_error(exc.detail)
    response = RedirectResponse(started.authorize_url, status_code=302, headers=NO_STORE)
    response.set_cookie(
        _state_cookie_name(request),
        started.state,
        max_age=gateway.settings.oidc_state_seconds,
        path=STATE_COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site navigation
    )
    return response


@router.get(
    "/oidc/{provider}/callback",
    summary="The provider's redirect back after sign-in (the redirect URI to register)",
    description="Register `<SEXTANT_GATEWAY_OIDC_REDIRECT_BASE>/v1/auth/oidc/<name>/callback` "
    "at the provider. Checks the state (this browser's, unknown, used or expired: "
    "refused), exchanges the code with the PKCE verifier (and the client secret when one "
    "is set), verifies the ID token (signature by the provider's JWKS, iss, aud, exp, "
    "nonce) and maps its role and tenant claims as a bearer token's are. Signed in: the "
    "session cookie is set and the browser goes to the portal. Refused: to the portal's "
    "sign-in page with the reason in `?sign_in_error=`.",
    response_class=RedirectResponse,
    status_code=303,
    responses={
        303: {
            "description": "to the portal: signed in (the session cookie set), or with "
            "`?sign_in_error=` saying why not"
        },
        404: problem_response("no provider of that name is configured"),
        422: problem_response("a parameter over its length"),
        429: problem_response("too many refused sign-ins from this address; retry later"),
        503: problem_response("the gateway's database is unavailable: no session was opened"),
    },
)
async def callback(
    request: Request,
    state: State,
    provider: ProviderName,
    code: Annotated[
        str | None, Query(max_length=4096, description="the authorization code")
    ] = None,
    state_token: Annotated[
        str | None,
        Query(alias="state", max_length=512, description="the state the login handed out"),
    ] = None,
    error: Annotated[
        str | None,
        Query(max_length=256, description="the provider's error instead of a code"),
    ] = None,
    error_description: Annotated[
        str | None, Query(max_length=1024, description="the provider's words for the error")
    ] = None,
) -> Response:
    gateway = gateway_of(state)
    sign_in = sign_in_of(state)
    chosen = sign_in.provider(provider)
    address = client_address(request.scope, gateway.settings.trusted_proxies)
    refuse_if_failing(gateway, address, time.monotonic())
    try:
        caller = await sign_in.finish(
            chosen,
            state=state_token,
            browser_state=request.cookies.get(_state_cookie_name(request)),
            code=code,
            error=error,
            error_description=error_description,
        )
    except (SignInRefused, Forbidden, ProviderFailed) as exc:
        if isinstance(exc, SignInRefused):  # a state or code guessed, replayed or stale
            gateway.anonymous_buckets.charge(address, time.monotonic())
        refused = to_portal_with_error(exc.detail)
        _clear_state_cookie(refused, request)
        return refused
    ttl = gateway.settings.session_ttl_seconds
    cookie, _ = await open_session(state.db, caller, ttl)
    response = RedirectResponse(PORTAL, status_code=303, headers=NO_STORE)
    set_session_cookie(response, request, cookie, ttl)
    _clear_state_cookie(response, request)
    return response
