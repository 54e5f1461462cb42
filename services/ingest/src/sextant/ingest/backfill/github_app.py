"""Signing in to GitHub as an App installation rather than with a personal token.

The App's private key signs a JWT (RS256, good for at most ten minutes), which
``POST /app/installations/{id}/access_tokens`` exchanges for an installation token good
for an hour. :class:`InstallationAuth` exchanges before the first request, again when
the token has less than :data:`REFRESH_BEFORE` seconds left, and once more when GitHub
refuses it early (a revoked installation token answers 401).
"""

from __future__ import annotations

import time
from collections.abc import Generator
from datetime import datetime

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

CREDENTIALS = ("app_id", "private_key", "installation_id")
REFRESH_BEFORE = 300.0  # a page may take minutes: never start one on a dying token
JWT_SECONDS = 540  # GitHub refuses an app JWT that expires over ten minutes after issue
CLOCK_DRIFT = 60  # iat set back a minute, as GitHub advises, for clocks a little ahead
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def private_key(pem: str) -> RSAPrivateKey:
    """The App's RSA key from its PEM (also when pasted with its newlines as ``\\n``);
    ValueError when it is not one."""
    try:
        key = load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    except (TypeError, ValueError) as exc:
        raise ValueError("private_key is not an unencrypted PEM private key") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("private_key is not an RSA key, which GitHub Apps sign with")
    return key


class InstallationAuth(httpx.Auth):
    """Installation tokens for a GitHub App, exchanged when needed."""

    requires_response_body = True

    def __init__(
        self,
        api_url: str,
        app_id: str,
        key: RSAPrivateKey,
        installation_id: str,
    ) -> None:
        self._exchange_url = (
            f"{api_url.rstrip('/')}/app/installations/{installation_id}/access_tokens"
        )
        self._app_id, self._key = app_id, key
        self._token: str | None = None
        self._expires_at = 0.0
        self.exchanges = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # A failed exchange ends the flow: its answer (a 5xx, a rate limit, a 401 for a
        # wrong key) is what the caller gets, retried, waited out or reported as any other.
        stale = self._token is None or time.time() > self._expires_at - REFRESH_BEFORE
        if stale and not self._took((yield self._exchange())):
            return
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and self._took((yield self._exchange())):
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _exchange(self) -> httpx.Request:
        now = int(time.time())
        claims = {"iat": now - CLOCK_DRIFT, "exp": now + JWT_SECONDS, "iss": self._app_id}
        app_jwt = jwt.encode(claims, self._key, algorithm="RS256")
        self.exchanges += 1
        headers = HEADERS | {"Authorization": f"Bearer {app_jwt}"}
        return httpx.Request("POST", self._exchange_url, headers=headers)

    def _took(self, response: httpx.Response) -> bool:
        """Keep the token of a successful exchange; False when there is none."""
        if response.status_code != 201:
            return False
        body = response.json()
        self._token = str(body["token"])
        self._expires_at = datetime.fromisoformat(body["expires_at"]).timestamp()
        return True
