"""Atlassian's OAuth 2.0 (3LO) endpoints: the consent URL, the token endpoint (a code for
tokens, a refresh token for new ones — Atlassian rotates refresh tokens, so each refresh
returns the next one) and the accessible resources (the Jira sites, by cloud id, that a
grant reaches).

Every call goes through the runtime's egress policy, as the backfills' do: the URLs are
the operator's settings, but tests and on-premise proxies point them elsewhere.
An error names the endpoint and the OAuth error code, never a token or the answer's body
beyond that code (``error_description`` is Atlassian's text for people, kept short).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sextant.ingest.settings import IngestSettings
from sextant.runtime.egress import STRICT, EgressPolicy, EgressRefused, egress_client

AUDIENCE = "api.atlassian.com"
TIMEOUT_SECONDS = 15.0


class TokenRefused(Exception):
    """The token endpoint refused the grant (``invalid_grant``, a 400 or 401): the code
    or refresh token is spent, revoked or was never ours; only a new consent helps."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class ServerFailed(Exception):
    """The authorization server could not be asked or gave no usable answer (a 5xx, a
    timeout, a refused egress, a body that is not a token); trying later may work."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    scope: str


@dataclass(frozen=True)
class Site:
    cloud_id: str
    url: str
    name: str


def consent_url(settings: IngestSettings, redirect_uri: str, state: str, challenge: str) -> str:
    """Where the admin's browser goes to grant access (``prompt=consent`` so Atlassian
    asks which site, even for a user who consented before)."""
    query = {
        "audience": AUDIENCE,
        "client_id": settings.jira_oauth_client_id,
        "scope": settings.jira_oauth_scopes,
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.jira_oauth_authorize_url}?{urlencode(query)}"


class AtlassianOAuth:
    """The token and resources endpoints, through the egress policy."""

    def __init__(
        self,
        settings: IngestSettings,
        egress: EgressPolicy = STRICT,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._egress, self._transport = egress, transport

    def _client(self) -> httpx.AsyncClient:
        options: dict[str, Any] = {"timeout": TIMEOUT_SECONDS, "follow_redirects": False}
        if self._transport is not None:  # an in-process fake, in unit tests
            return httpx.AsyncClient(transport=self._transport, **options)
        return egress_client(self._egress, **options)

    def _credentials(self) -> dict[str, str]:
        secret = self._settings.jira_oauth_client_secret
        return {
            "client_id": self._settings.jira_oauth_client_id,
            "client_secret": secret.get_secret_value() if secret else "",
        }

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> Tokens:
        """Tokens for an authorization code (with the PKCE verifier its challenge was
        made from)."""
        body = self._credentials() | {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        return await self._token(body)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens for a refresh token, the next refresh token among them."""
        body = self._credentials() | {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return await self._token(body)

    async def _token(self, body: dict[str, str]) -> Tokens:
        url = self._settings.jira_oauth_token_url
        answer = await self._call("POST", url, json=body)
        where = _where(url)
        if answer.status_code in (400, 401, 403):
            error, description = _oauth_error(answer)
            said = f"{error}: {description}" if description else error
            raise TokenRefused(f"{where} refused the grant ({said})", error)
        if answer.status_code != 200:
            raise ServerFailed(f"{where} answered HTTP {answer.status_code}")
        try:
            tokens = answer.json()
            return Tokens(
                access_token=str(tokens["access_token"]),
                refresh_token=str(tokens["refresh_token"]),
                expires_in=int(tokens.get("expires_in", 3600)),
                scope=str(tokens.get("scope", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise ServerFailed(
                f"{where} answered without an access and a refresh token (is offline_access "
                "among the scopes?)"
            ) from None

    async def sites(self, access_token: str) -> list[Site]:
        """The Jira sites the grant reaches."""
        url = self._settings.jira_oauth_resources_url
        answer = await self._call("GET", url, headers={"Authorization": f"Bearer {access_token}"})
        if answer.status_code == 401:
            raise TokenRefused(f"{_where(url)} refused the new access token", "invalid_token")
        if answer.status_code != 200:
            raise ServerFailed(f"{_where(url)} answered HTTP {answer.status_code}")
        try:
            return [
                Site(str(r["id"]), str(r.get("url", "")), str(r.get("name", "")))
                for r in answer.json()
            ]
        except (ValueError, KeyError, TypeError):
            raise ServerFailed(f"{_where(url)} answered something other than a list") from None

    async def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        async with self._client() as client:
            try:
                return await client.request(method, url, **options)
            except EgressRefused as exc:
                raise ServerFailed(f"{_where(url)}: refused by the egress policy: {exc}") from None
            except httpx.HTTPError as exc:
                raise ServerFailed(f"{_where(url)}: {type(exc).__name__}") from None


def _oauth_error(answer: httpx.Response) -> tuple[str, str]:
    """RFC 6749 §5.2's ``error`` and a short ``error_description``."""
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = str(body.get("error") or f"HTTP {answer.status_code}")[:64]
    return error, str(body.get("error_description") or "")[:200]


def _where(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}{parsed.path}"


class StoredBearer(httpx.Auth):
    """``Authorization: Bearer`` with the source's current access token, as the refresher
    keeps it: read again when it is about to expire, and once more when the API answers
    401 (a refresh that rotated it since)."""

    def __init__(self, current: Callable[[], Awaitable[tuple[str, float]]]) -> None:
        self._current = current  # -> (access token, when it expires, epoch seconds)
        self._token: str | None = None
        self._expires_at = 0.0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("StoredBearer reads the database: use it with an AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        if self._token is None or time.time() > self._expires_at - 60:
            await self._reload()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            before = self._token
            await self._reload()
            if self._token != before:
                request.headers["Authorization"] = f"Bearer {self._token}"
                yield request

    async def _reload(self) -> None:
        self._token, self._expires_at = await self._current()
