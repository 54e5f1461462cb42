"""Reads and writes of ``oidc_sign_ins``: plain values in and out, never a commit.

Only the state's SHA-256 is stored, and the PKCE verifier sealed with the gateway's key:
the state travels in URLs, and a leaked table must not let anyone finish a sign-in
someone else started."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.gateway.db import oidc_sign_ins


@dataclass(frozen=True)
class OidcSignInRow:
    state_sha256: bytes
    provider: str
    sealed_verifier: bytes
    nonce: str
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


async def add_sign_in(session: AsyncSession, row: OidcSignInRow, prune_before: datetime) -> None:
    """Store a started sign-in, and drop those that expired before ``prune_before``."""
    s = oidc_sign_ins
    await session.execute(sa.delete(s).where(s.c.expires_at < prune_before))
    await session.execute(sa.insert(s).values(**row.__dict__))


async def claim_sign_in(
    session: AsyncSession, state_sha256: bytes, now: datetime
) -> tuple[OidcSignInRow | None, bool]:
    """The sign-in a state names, and whether this call claimed it (False: it was used
    already). A claim is final, whatever the callback does next."""
    s = oidc_sign_ins
    claimed = (
        await session.execute(
            sa.update(s)
            .where((s.c.state_sha256 == state_sha256) & s.c.used_at.is_(None))
            .values(used_at=now)
            .returning(*s.c)
        )
    ).first()
    if claimed is not None:
        return OidcSignInRow(**claimed._mapping), True
    found = (await session.execute(sa.select(s).where(s.c.state_sha256 == state_sha256))).first()
    return (OidcSignInRow(**found._mapping) if found else None), False
