"""API keys for partners and CI: created by a tenant's admins, shown once, revocable."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from sextant.gateway import service
from sextant.gateway.access import TenantSession, allow, tenant_of
from sextant.gateway.authn import API_KEY_PREFIX, Principal
from sextant.gateway.db import repository
from sextant.gateway.db.repository import ApiKeyRow
from sextant.gateway.revocation import Revoked, revocations_of
from sextant.gateway.schemas import ApiKeyCreate, ApiKeyReply, CreatedApiKeyReply
from sextant.runtime.app import State
from sextant.runtime.errors import Unauthenticated

router = APIRouter(prefix="/v1", tags=["api keys"])

TenantAdmin = Annotated[Principal, Depends(allow("tenant_admin", "platform_admin"))]


def _reply(row: ApiKeyRow) -> ApiKeyReply:
    return ApiKeyReply(
        id=row.id,
        prefix=f"{API_KEY_PREFIX}{row.key_id}",
        name=row.name,
        role=row.role,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


@router.post(
    "/api-keys",
    status_code=201,
    response_model=CreatedApiKeyReply,
    summary="Create an API key (the key is in this reply only)",
)
async def create_api_key(
    body: ApiKeyCreate, caller: TenantAdmin, session: TenantSession, state: State
) -> CreatedApiKeyReply:
    """A key for a partner or CI, with a role no higher than the caller's; the key itself is in
    this reply only, so store it now."""
    if caller.key_id is not None and not await repository.hold_live_api_key(
        session, tenant_of(caller), caller.key_id
    ):
        # revoked while this request was on its way: a key never outlives itself in a new one
        raise Unauthenticated("the API key is unknown, expired or revoked")
    row, key = await service.create_api_key(
        session,
        state.outbox,
        tenant_of(caller),
        name=body.name,
        role=body.role,
        expires_in_days=body.expires_in_days,
        actor=caller.subject,
    )
    return CreatedApiKeyReply(**_reply(row).model_dump(), key=key)


@router.get("/api-keys", response_model=list[ApiKeyReply], summary="The tenant's API keys")
async def list_api_keys(caller: TenantAdmin, session: TenantSession) -> list[ApiKeyReply]:
    """The tenant's keys, revoked and expired ones included; never the keys themselves, only
    their visible start."""
    return [_reply(r) for r in await repository.list_api_keys(session, tenant_of(caller))]


@router.delete(
    "/api-keys/{key_id}",
    response_model=ApiKeyReply,
    summary="Revoke a key: refused on every replica, its streams closed, when this returns",
)
async def revoke_api_key(
    key_id: Annotated[UUID, Path(description="the key's id (not the key)")],
    caller: TenantAdmin,
    state: State,
) -> ApiKeyReply:
    """Revokes a key at once on every replica; calls with it are refused from then on."""
    tenant = tenant_of(caller)
    async with revocations_of(state).change(state.db, tenant) as change:
        row = await service.revoke_api_key(
            change.session, state.outbox, tenant, key_id, caller.subject
        )
        await change.revoke(Revoked("api_key", tenant, key_id=row.key_id))
    return _reply(row)
