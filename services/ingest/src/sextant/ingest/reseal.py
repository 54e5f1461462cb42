"""``sextant ingest reseal``: every stored source secret and credential, Jira OAuth grant
and open consent's PKCE verifier sealed again with the current key, so an old key can be
removed from ``SEXTANT_INGEST_SECRET_KEYS``.

It walks the webhook routes (the one table that lists every tenant's sources) in batches,
each its own transaction acting as each tenant of the batch in turn, with the rows locked
while they are re-sealed; values already under the current key are left as they are, so
a second run, or one after an interruption, only finishes what is left."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.ingest.db import repository
from sextant.runtime.db import Database, set_tenant
from sextant.runtime.sealing import SecretBox


@dataclass
class ResealProgress:
    """Sources looked at, and values (secrets and credentials) sealed again, so far."""

    sources: int = 0
    resealed: int = 0


async def reseal_sources(
    db: Database,
    box: SecretBox,
    *,
    batch_size: int = 200,
    progress: Callable[[ResealProgress], None] = lambda _: None,
) -> ResealProgress:
    """Re-seal every source's values with ``box.current``; ``progress`` after each batch.

    A value that does not open (its key is not in ``box``, or it was altered) stops the
    walk with a ValueError naming the source; the batches before it stay committed."""
    done = ResealProgress()
    after: UUID | None = None
    while True:
        resealed = 0
        async with db.transaction() as session:
            routes = await repository.routes_after(session, after, batch_size)
            if not routes:
                done.resealed += await _reseal_consents(session, box)
                return done
            by_tenant: dict[UUID, list[UUID]] = defaultdict(list)
            for source_id, tenant_id in routes:
                by_tenant[tenant_id].append(source_id)
            for tenant_id, source_ids in by_tenant.items():
                await set_tenant(session, tenant_id)
                for source_id, secret, credentials in await repository.sealed_values(
                    session, source_ids
                ):
                    values: dict[str, bytes] = {}
                    try:
                        if (sealed := box.reseal(secret, source_id)) is not None:
                            values["secret_sealed"] = sealed
                        if credentials and (sealed := box.reseal(credentials, source_id)):
                            values["credentials_sealed"] = sealed
                    except ValueError as exc:  # KeyMissing, SealBroken: say which source
                        raise ValueError(f"source {source_id}: {exc}") from exc
                    if values:
                        await repository.update_source(session, source_id, **values)
                        resealed += len(values)
                for source_id, tokens in await repository.sealed_grant_tokens(session, source_ids):
                    sealed = _resealed(box, tokens, source_id, "its OAuth tokens")
                    if sealed is not None:
                        await repository.update_oauth_grant(
                            session, source_id, tokens_sealed=sealed
                        )
                        resealed += 1
        done.sources += len(routes)
        done.resealed += resealed
        after = routes[-1][0]
        progress(done)


async def _reseal_consents(session: AsyncSession, box: SecretBox) -> int:
    """The PKCE verifiers of consents still open (a few, for minutes each), in one go."""
    resealed = 0
    for state_hash, source_id, verifier in await repository.sealed_state_verifiers(
        session, datetime.now(UTC)
    ):
        sealed = _resealed(box, verifier, source_id, "an open OAuth consent")
        if sealed is not None:
            await repository.update_state_verifier(session, state_hash, sealed)
            resealed += 1
    return resealed


def _resealed(box: SecretBox, sealed: bytes, source_id: UUID, what: str) -> bytes | None:
    try:
        return box.reseal(sealed, source_id)
    except ValueError as exc:  # KeyMissing, SealBroken: say which source
        raise ValueError(f"source {source_id} ({what}): {exc}") from exc
