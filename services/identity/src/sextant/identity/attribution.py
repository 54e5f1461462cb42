"""Incremental attribution: each actor of an activity event becomes an alias of a
developer, by the same keys the batch resolver uses, and the event is re-emitted as
``activity.attributed`` under the same partition key (so per-entity order holds).

An alias seen before costs one indexed lookup. A new alias is placed by
:func:`sextant.identity.domain.linking.place`: it joins the developer its strongest
links reach, developers its strong links join are merged into the oldest (unless locked
or kept apart by a person) and the merge is announced so that services holding
per-developer history follow it; weaker links become merge suggestions, announced too.
"""

from __future__ import annotations

import time
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
    MergeSuggested,
)
from sextant.identity.db import repository
from sextant.identity.db.repository import DeveloperRow, SuggestionRow
from sextant.identity.domain.keys import Key, keys_for
from sextant.identity.domain.linking import Holder, Suggestion, place, shared_links
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
    a rollback could undo. An entry goes stale by a merge — it then names the merged-away
    developer, which every consumer maps to the survivor through the developers.merged
    event, so the attribution stays right — or by a manual split or move, which forgets
    the tenant's entries in this process once committed; other replicas' entries expire
    after ``ttl_seconds``.
    """

    def __init__(self, size: int = 200_000, ttl_seconds: float = 30.0) -> None:
        self.size, self.ttl = size, ttl_seconds
        self._count = 0
        self._entries: dict[UUID, dict[str, tuple[UUID, float]]] = {}

    def get(self, tenant: UUID, print_: str) -> UUID | None:
        entry = self._entries.get(tenant, {}).get(print_)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, tenant: UUID, print_: str, developer: UUID) -> None:
        if self._count >= self.size:
            self._entries.clear()
            self._count = 0
        known = self._entries.setdefault(tenant, {})
        self._count += print_ not in known
        known[print_] = (developer, time.monotonic() + self.ttl)

    def forget(self, tenant: UUID) -> None:
        self._count -= len(self._entries.pop(tenant, {}))


KNOWN = KnownAliases()


async def developer_for(
    session: AsyncSession, outbox: Outbox, envelope: Envelope, actor: Actor, print_: str
) -> UUID:
    tenant, workspace = envelope.tenantid, envelope.workspaceid
    cached = KNOWN.get(tenant, print_)
    if cached is not None:
        return cached
    known = await repository.developer_of_alias(session, print_)
    if known is not None:
        live = await _live(session, tenant, known)
        KNOWN.put(tenant, print_, live)
        return live
    # New aliases of one tenant are resolved one transaction at a time: two events naming
    # the same person on different partitions must not each create a developer.
    await repository.lock_tenant_resolution(session, tenant)
    known = await repository.developer_of_alias(session, print_)
    if known is not None:
        return await _live(session, tenant, known)
    keys = keys_for(actor)
    holders = holders_from(
        keys, await repository.holders_of_keys(session, tenant, [k.value for k in keys])
    )
    ids = [h.developer_id for h in holders]
    placement = place(
        holders,
        await repository.kept_apart(session, tenant, ids),
        await repository.pending_pairs(session, tenant, ids),
    )
    now = datetime.now(UTC)
    if placement.joins is None:
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
        owner = placement.joins
        if placement.merged:
            rule = placement.rule or "matching"
            await repository.merge_into(
                session,
                tenant,
                owner,
                placement.merged,
                rule=rule,
                score=placement.score,
                actor=None,
                at=now,
            )
            merged = DevelopersMerged(
                survivor_id=owner,
                merged_ids=list(placement.merged),
                rule=rule,
                score=placement.score,
            )
            await outbox.add(
                session,
                merged,
                tenant_id=tenant,
                workspace_id=workspace,
                entity=f"developer:{owner}",
            )
    await repository.add_alias(session, tenant, uuid7(), owner, print_, actor, keys, now)
    for suggestion in placement.suggestions:
        await suggest(session, outbox, tenant, owner, suggestion, now, workspace)
    return owner


def holders_from(
    keys: list[Key], found: list[tuple[DeveloperRow, str, float, str]]
) -> list[Holder]:
    """The developers holding ``keys`` (oldest first), each with the links it makes."""
    held: dict[UUID, tuple[DeveloperRow, list[tuple[str, float, str]]]] = {}
    for developer, key, score, rule in found:
        held.setdefault(developer.id, (developer, []))[1].append((key, score, rule))
    return [
        Holder(developer.id, developer.locked, shared_links(keys, values))
        for developer, values in held.values()
    ]


async def suggest(
    session: AsyncSession,
    outbox: Outbox,
    tenant: UUID,
    developer_id: UUID,
    suggestion: Suggestion,
    now: datetime,
    workspace: UUID | None = None,
) -> None:
    """Store a merge suggestion of two developers and announce it."""
    row = SuggestionRow(
        id=uuid7(),
        developer_a=developer_id,
        developer_b=suggestion.developer_id,
        rule=suggestion.rule,
        score=suggestion.score,
        evidence=list(suggestion.evidence),
        status="pending",
        created_at=now,
    )
    await repository.add_suggestion(session, tenant, row)
    announced = MergeSuggested(
        suggestion_id=row.id,
        developer_ids=[row.developer_a, row.developer_b],
        rule=row.rule,
        score=row.score,
        evidence=row.evidence,
    )
    await outbox.add(
        session,
        announced,
        tenant_id=tenant,
        workspace_id=workspace,
        entity=f"developer:{row.developer_a}",
    )


async def _live(session: AsyncSession, tenant: UUID, developer_id: UUID) -> UUID:
    """Follow ``merged_into`` to the developer that holds this one now."""
    for _ in range(32):
        found = await repository.get_developer(session, tenant, developer_id)
        if found is None or found.merged_into is None:
            return developer_id
        developer_id = found.merged_into
    return developer_id
