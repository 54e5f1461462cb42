"""``?scope=workspace:<id>`` or ``?scope=view:<id>``: what a query covers.

Views belong to the gateway, which resolves a scope to the workspaces it covers (checked
against the caller's tenant, soft-deleted ones left out) and signs that list into the
internal token. Services read the list from the token, never from the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request

from sextant.runtime.errors import InvalidInput
from sextant.runtime.tokens import InternalClaims, internal_claims

SCOPE_DESCRIPTION = "workspace:<id> or view:<id> (a view joins several workspaces)"


@dataclass(frozen=True)
class QueryScope:
    """A scope as the caller wrote it, and the workspaces it covers."""

    text: str
    workspaces: list[UUID]


def parse_scope_text(scope: str) -> tuple[str, UUID]:
    """Split ``kind:<uuid>``; raise InvalidInput (400) on anything else."""
    kind, _, ident = scope.partition(":")
    if kind not in ("workspace", "view"):
        raise InvalidInput(f"scope must be workspace:<id> or view:<id>, not {scope!r}")
    try:
        return kind, UUID(ident)
    except ValueError:
        raise InvalidInput(f"{ident!r} is not a {kind} id") from None


def resolve_scope(scope: str, claims: InternalClaims) -> QueryScope:
    """The workspaces ``scope`` covers for this caller.

    A workspace scope covers itself; a view scope only what the gateway signed in the
    token (a service cannot see views, so it never trusts one it was not told about)."""
    kind, ident = parse_scope_text(scope)
    signed = claims.scope_workspaces
    if kind == "workspace":
        if signed is not None and ident not in signed:
            raise InvalidInput(f"the token does not cover {scope}")
        return QueryScope(scope, [ident])
    if signed is None:
        raise InvalidInput("view scopes are resolved by the gateway; call it through /v1")
    return QueryScope(scope, list(signed))


# ``?scope=`` as the caller wrote it, for a route that resolves it itself (after a lookup
# that must answer first, say)
ScopeText = Annotated[str, Query(description=SCOPE_DESCRIPTION)]


async def query_scope(request: Request, scope: ScopeText) -> QueryScope:
    """FastAPI dependency: the request's ``?scope=``, resolved."""
    claims: InternalClaims = getattr(request.state, "claims", None) or await internal_claims(
        request
    )
    return resolve_scope(scope, claims)


ScopeParam = Annotated[QueryScope, Depends(query_scope)]
