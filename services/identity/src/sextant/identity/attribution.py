"""Incremental attribution: each actor of an activity event becomes an alias of a
developer, by the same keys the batch resolver uses, and the event is re-emitted as
``activity.attributed`` under the same partition key (so per-entity order holds).

An alias seen before costs one indexed lookup. A new alias joins the developer owning
one of its keys (scored at or above the auto-merge threshold); when its keys reach
several developers they are merged into the oldest — unless one is locked — and the
merge is announced so that services holding per-developer history follow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.common import Actor
from sextant.contracts.events.platform import (
    ActivityAttributed,
    Attribution,
    DeveloperCreated,
    DevelopersMerged,
)
from sextant.identity.db import repository
from sextant.identity.db.repository import DeveloperRow
from sextant.identity.domain.keys import AUTO_MERGE_SCORE, keys_for
from sextant.runtime.outbox import Outbox

ACTOR_KINDS = {"github", "gitlab", "jira", "generic"}
ATTRIBUTED = uuid.UUID("5b0c3d8e-2f4a-5e61-9a7b-3c1d2e4f5a6b")  # namespace of attributed ids


def actors_in(data: Any, path: str = "") -> Iterator[tuple[str, Actor]]:
    """Every actor in an event's data, with where it sits (``change_request.author``)."""
    if isinstance(data, dict):
        if data.get("kind") in ACTOR_KINDS and "is_bot" in data and "source_id" not in data:
            try:
                yield path, Actor.model_validate(data)
                return
            except ValidationError:
                pass
        for key, value in data.items():
            yield from actors_in(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from actors_in(value, f"{path}[{index}]")


def fingerprint(actor: Actor) -> str:
    email = (actor.email or "").strip().lower()
    return "|".join(
        [
            actor.kind,
            actor.account_id or "",
            (actor.login or "").lower(),
            email,
            actor.display_name or "",
            str(actor.is_bot),
        ]
    )


async def attribute(
    session: AsyncSession, outbox: Outbox, envelope: Envelope
) -> ActivityAttributed:
    """Resolve every actor of ``envelope`` and stage its attributed copy."""
    tenant = envelope.tenantid
    resolved: dict[str, UUID] = {}
    attributions = []
    for path, actor in actors_in(envelope.data):
        print_ = fingerprint(actor)
        if print_ not in resolved:
            resolved[print_] = await developer_for(session, outbox, envelope, actor, print_)
        attributions.append(Attribution(path=path, actor=actor, developer_id=resolved[print_]))
    attributed = ActivityAttributed(
        original_id=envelope.id,
        original_type=envelope.type,
        original=envelope.data,
        attributions=attributions,
    )
    await outbox.add(
        session,
        attributed,
        tenant_id=tenant,
        workspace_id=envelope.workspaceid,
        entity=envelope.subject or str(envelope.id),
        event_id=uuid.uuid5(ATTRIBUTED, str(envelope.id)),
    )
    return attributed


class KnownAliases:
    """Alias fingerprints already resolved, per tenant, in this process (bounded).

    A hit skips the database entirely. Only what was read from the database is kept
    (committed before this transaction began), never what this transaction creates, which
    a rollback could undo. An entry goes stale only by a merge; it then names the
    merged-away developer, which every consumer maps to the survivor through the
    developers.merged event — so the attribution stays right.
    """

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._entries: dict[tuple[UUID, str], UUID] = {}

    def get(self, tenant: UUID, print_: str) -> UUID | None:
        return self._entries.get((tenant, print_))

    def put(self, tenant: UUID, print_: str, developer: UUID) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[(tenant, print_)] = developer


KNOWN = KnownAliases()


async def developer_for(
    session: AsyncSession, outbox: Outbox, envelope: Envelope, actor: Actor, print_: str
) -> UUID:
    cached = KNOWN.get(envelope.tenantid, print_)
    if cached is not None:
        return cached
    known = await repository.developer_of_alias(session, print_)
    if known is not None:
        live = await _live(session, known)
        KNOWN.put(envelope.tenantid, print_, live)
        return live
    # New aliases of one tenant are resolved one transaction at a time: two events naming
    # the same person on different partitions must not each create a developer.
    await repository.lock_tenant_resolution(session, envelope.tenantid)
    known = await repository.developer_of_alias(session, print_)
    if known is not None:
        return await _live(session, known)
    keys = keys_for(actor)
    linking = [k for k in keys if k.score >= AUTO_MERGE_SCORE]
    owners = await repository.developers_with_keys(session, [k.value for k in linking])
    now = datetime.now(UTC)
    tenant, workspace = envelope.tenantid, envelope.workspaceid
    if not owners:
        developer = DeveloperRow(
            uuid7(), actor.display_name or actor.login, actor.is_bot, False, now
        )
        await repository.add_developer(session, tenant, developer)
        created = DeveloperCreated(
            developer_id=developer.id, display_name=developer.display_name, is_bot=actor.is_bot
        )
        await outbox.add(
            session,
            created,
            tenant_id=tenant,
            workspace_id=workspace,
            entity=f"developer:{developer.id}",
        )
        owner = developer.id
    else:
        survivor, others = owners[0], owners[1:]
        mergeable = [d.id for d in others if not d.locked]
        if mergeable and not survivor.locked:
            await repository.merge_into(session, survivor.id, mergeable)
            rule = next(k.rule for k in linking)
            merged = DevelopersMerged(
                survivor_id=survivor.id,
                merged_ids=mergeable,
                rule=rule,
                score=min(k.score for k in linking),
            )
            await outbox.add(
                session,
                merged,
                tenant_id=tenant,
                workspace_id=workspace,
                entity=f"developer:{survivor.id}",
            )
        owner = survivor.id
    await repository.add_alias(session, tenant, uuid7(), owner, print_, actor, keys, now)
    return owner


async def _live(session: AsyncSession, developer_id: UUID) -> UUID:
    """Follow ``merged_into`` to the developer that holds this one now."""
    for _ in range(32):
        found = await repository.get_developer(session, developer_id)
        if found is None or found[1] is None:
            return developer_id
        developer_id = found[1]
    return developer_id
