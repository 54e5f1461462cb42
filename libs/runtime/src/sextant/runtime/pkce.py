"""PKCE (RFC 7636) for the OAuth 2.0 flows Sextant starts: Jira's connection (ingest) and
the portal's OIDC sign-in (gateway). S256 only: ``plain`` protects nothing."""

from __future__ import annotations

import base64
import hashlib
import secrets


def pkce_pair() -> tuple[str, str]:
    """A code_verifier (86 characters of the URL-safe alphabet, RFC 7636 §4.1) and its
    S256 code_challenge."""
    verifier = secrets.token_urlsafe(64)
    return verifier, challenge_of(verifier)


def challenge_of(verifier: str) -> str:
    """The S256 code_challenge of ``verifier``: base64url of its SHA-256, unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
