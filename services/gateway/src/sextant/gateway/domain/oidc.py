"""The portal's OIDC sign-in, its pure part: reading a provider's discovery document,
the authorization request, and the checks an ID token must pass (OpenID Connect Core
1.0 §3.1.3.7) before its claims name a Sextant user."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt


class IdTokenRefused(Exception):
    """The ID token fails a check; the message says which, never the token."""


class DiscoveryInvalid(Exception):
    """The provider's discovery document lacks what the flow needs, or names another
    issuer."""


@dataclass(frozen=True)
class Discovery:
    """What the flow reads from a provider's ``/.well-known/openid-configuration``."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]

    @classmethod
    def parse(cls, document: object, expected_issuer: str) -> Discovery:
        """The document's endpoints; its ``issuer`` must be the configured one exactly
        (OpenID Connect Discovery §4.3: else a provider could speak for another)."""
        if not isinstance(document, dict):
            raise DiscoveryInvalid("the discovery document is not a JSON object")
        missing = [
            name
            for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str) or not document[name]
        ]
        if missing:
            raise DiscoveryInvalid(f"the discovery document has no {', '.join(missing)}")
        if document["issuer"] != expected_issuer:
            raise DiscoveryInvalid(
                f"the discovery document names issuer {document['issuer']!r}, "
                f"not the configured {expected_issuer!r}"
            )
        methods = document.get("token_endpoint_auth_methods_supported")
        return cls(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            token_auth_methods=tuple(str(m) for m in methods)
            if isinstance(methods, list)
            else ("client_secret_basic",),  # the default when the document says nothing
        )

    def secret_in_body(self) -> bool:
        """Whether a confidential client sends its secret in the form (only when the
        provider supports ``client_secret_post`` and not the default Basic scheme)."""
        return (
            "client_secret_basic" not in self.token_auth_methods
            and "client_secret_post" in self.token_auth_methods
        )


def authorization_url(
    discovery: Discovery,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    nonce: str,
    code_challenge: str,
) -> str:
    """Where the browser goes to sign in: the code flow with an S256 PKCE challenge;
    ``openid`` is always among the scopes."""
    wanted = ["openid", *(s for s in scopes if s != "openid")]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(wanted),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in discovery.authorization_endpoint else "?"
    return f"{discovery.authorization_endpoint}{separator}{query}"


def signing_key(id_token: str, keys: dict[str, jwt.PyJWK]) -> jwt.PyJWK | None:
    """The published key the token's header names (the only one when it names none)."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise IdTokenRefused("the ID token is not a well-formed JWT") from None
    kid = header.get("kid")
    if isinstance(kid, str):
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


def verified_claims(
    id_token: str,
    key: jwt.PyJWK,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    leeway_seconds: int,
) -> dict[str, Any]:
    """The ID token's claims once its signature (with the algorithm its key pins, never
    the one the header asks for), ``iss``, ``aud`` (and ``azp`` when several audiences),
    ``exp`` and the sign-in's ``nonce`` all hold."""
    try:
        algorithm = jwt.get_unverified_header(id_token).get("alg")
    except jwt.PyJWTError:
        raise IdTokenRefused("the ID token is not a well-formed JWT") from None
    if algorithm != key.algorithm_name:
        raise IdTokenRefused(
            f"the ID token's algorithm {algorithm!r} is not its key's ({key.algorithm_name})"
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=client_id,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenRefused("the ID token has expired") from None
    except jwt.InvalidSignatureError:
        raise IdTokenRefused("the ID token's signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise IdTokenRefused(f"the ID token is not for this client ({client_id})") from None
    except jwt.InvalidIssuerError:
        raise IdTokenRefused(f"the ID token's issuer is not {issuer}") from None
    except jwt.PyJWTError as exc:
        raise IdTokenRefused(f"the ID token was refused: {exc}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenRefused("the ID token has several audiences and is not authorized for us")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise IdTokenRefused("the ID token's nonce is not this sign-in's (a replayed token?)")
    return claims
