"""Incremental attribution: each actor of an activity event becomes an alias of a
developer, by the same keys and name evidence the batch resolver uses, and the event is
re-emitted as ``activity.attributed`` under the same partition key (so per-entity order
holds).

An alias in this process's cache costs nothing; the others of an event cost one lookup
together. A new alias is placed by :func:`sextant.identity.domain.linking.place`, under
locks that keep two partitions from splitting one person:

- first, in one statement and one global order, an advisory lock on each key of the
  event's new aliases: two aliases that could be one person share a key, so they are
  placed one after the other, and the second sees the first;
- an alias whose keys nobody holds starts a developer under those locks alone;
- an alias joining exactly one developer, with no merge and nothing to suggest, holds
  that developer's row (a merge or lock change of it waits, or went first and the alias
  falls through to the next case; a split moves only the aliases it names);
- merges and suggestions take the tenant's resolution lock, as manual changes do, and
  read the holders again under it.

The tenant's name population is counted last, after every lock, so counters are held
briefly and always in the same order. Everything staged for the outbox goes in one batch.
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

from sextant.contracts import Envelope, EventModel, uuid7
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
from sextant.identity.domain.evidence import (
    AliasFacts,
    NamePopulation,
    domain_of,
    is_name_key,
    name_link,
)
from sextant.identity.domain.keys import Key, keys_for, normalize_name
from sextant.identity.domain.linking import Holder, Suggestion, place
from sextant.runtime.outbox import Outbox, Staged

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
    """Resolve every actor of ``envelope`` and stage its attributed copy (with whatever
    the resolution announces, in one round trip)."""
    tenant = envelope.tenantid
    found = list(actors_in(envelope.data))
    prints = {fingerprint(actor): actor for _, actor in found}
    resolved = {p: d for p in prints if (d := KNOWN.get(tenant, p)) is not None}
    staged: list[Staged] = []
    if len(resolved) < len(prints):
        unknown = {p: a for p, a in prints.items() if p not in resolved}
        resolved |= await _resolve(session, outbox, envelope, unknown, staged)
    attributions = [
        Attribution(path=path, actor=actor, developer_id=resolved[fingerprint(actor)])
        for path, actor in found
    ]
    attributed = ActivityAttributed(
        original_id=envelope.id,
        original_type=envelope.type,
        original=envelope.data,
        attributions=attributions,
    )
    staged.append(
        outbox.stage(
            attributed,
            tenant_id=tenant,
            workspace_id=envelope.workspaceid,
            entity=envelope.subject or str(envelope.id),
            event_id=uuid.uuid5(ATTRIBUTED, str(envelope.id)),
        )
    )
    await outbox.add_all(session, staged)
    return attributed


class KnownAliases:
    """Alias fingerprints already resolved, per tenant, in this process (bounded).

    A hit skips the database entirely. Only what was read from the database is kept
    (committed before this transaction began), never what this transaction creates, which
    a rollback could undo. An entry goes stale by a merge — it then names the merged-away
    developer, which every consumer maps to the survivor through the developers.merged
    event, so the attribution stays right and the entry stays — or by a manual split or
    move, which forgets the tenant's entries in this process once committed; other
    replicas' entries expire after ``ttl_seconds``.
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


async def _resolve(
    session: AsyncSession,
    outbox: Outbox,
    envelope: Envelope,
    unknown: dict[str, Actor],
    staged: list[Staged],
) -> dict[str, UUID]:
    """The developer of each alias not in this process's cache: one lookup for all of
    them, then each new one placed (see the module's docstring)."""
    tenant = envelope.tenantid
    known = await repository.developers_of_aliases(session, tenant, list(unknown))
    for print_, developer in known.items():
        KNOWN.put(tenant, print_, developer)
    new = {p: a for p, a in unknown.items() if p not in known}
    if not new:
        return known
    keys = {p: keys_for(actor) for p, actor in new.items()}
    # Every key lock of the event at once, in one order, before any other lock: two new
    # aliases that could be one person share a key, so they are placed one at a time.
    await repository.lock_keys(
        session, tenant, sorted({k.value for ks in keys.values() for k in ks})
    )
    placing = Placing(session, outbox, envelope, staged)
    for print_, actor in new.items():
        known[print_] = await placing.place(print_, actor, keys[print_])
    await repository.count_names(session, tenant, placing.named - placing.known_named)
    return known


class Placing:
    """Places the new aliases of one event, in its transaction."""

    def __init__(
        self, session: AsyncSession, outbox: Outbox, envelope: Envelope, staged: list[Staged]
    ) -> None:
        self.session, self.outbox, self.staged = session, outbox, staged
        self.tenant, self.workspace = envelope.tenantid, envelope.workspaceid
        self.tenant_locked = False
        self.named: set[str] = set()  # population entries of the new aliases
        self.known_named: set[str] = set()  # ... and of the aliases found holding keys

    def stage(self, data: EventModel, entity: str) -> None:
        self.staged.append(
            self.outbox.stage(
                data, tenant_id=self.tenant, workspace_id=self.workspace, entity=entity
            )
        )

    async def place(self, print_: str, actor: Actor, keys: list[Key]) -> UUID:
        session, tenant = self.session, self.tenant
        facts = AliasFacts.of(actor)
        if facts.name and not actor.is_bot:
            self.named |= repository.population_entries(facts.name, facts.domain)
        values = [k.value for k in keys]
        holders = await self.holders(actor, facts, keys, values)
        now = datetime.now(UTC)
        if not holders:
            # Nobody holds a key of this alias, and nobody can gain one before this
            # transaction ends (the key locks): a new developer, no tenant lock needed.
            return await self.store(print_, actor, keys, None, now)
        if len(holders) == 1 and not self.tenant_locked:
            # The common case, an alias of one known developer: join it while holding its
            # row (a merge or lock change of it waits) instead of the tenant.
            placement = place(holders, frozenset())
            [holder] = holders
            if (
                placement.joins == holder.developer_id
                and not placement.suggestions
                and await self.join_held(print_, actor, keys, holder, now)
            ):
                return holder.developer_id
        if not self.tenant_locked:
            # Merges and suggestions run one transaction at a time per tenant, never
            # interleaved with a person's merge or split; read the holders again under it.
            await repository.lock_tenant_resolution(session, tenant)
            self.tenant_locked = True
            again = await repository.developers_of_aliases(session, tenant, [print_])
            if print_ in again:
                return again[print_]
            holders = await self.holders(actor, facts, keys, values)
        ids = [h.developer_id for h in holders]
        placement = place(
            holders,
            await repository.kept_apart(session, tenant, ids),
            await repository.pending_pairs(session, tenant, ids),
        )
        owner = placement.joins
        if owner is not None and placement.merged:
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
            self.stage(merged, f"developer:{owner}")
        owner = await self.store(print_, actor, keys, owner, now)
        for suggestion in placement.suggestions:
            announced = await suggest(session, tenant, owner, suggestion, now)
            self.stage(announced, f"developer:{owner}")
        return owner

    async def holders(
        self, actor: Actor, facts: AliasFacts, keys: list[Key], values: list[str]
    ) -> list[Holder]:
        """The holders of the alias's keys, with the population its name links need: the
        words of its own names and its domain come with the lookup; a holder's other
        name (a handle spelling it) costs one more query, rarely."""
        tokens = {t for k in keys if k.value.startswith("name:") for t in k.value[5:].split()}
        if facts.domain:
            tokens.add(f"@{facts.domain}")
        found, counts = await repository.holders_of(self.session, self.tenant, values, tokens)
        for held in found:  # already counted: no need to count them again
            if name := normalize_name(held.alias.display_name):
                self.known_named |= repository.population_entries(name, domain_of(held.alias.email))
        if not any(is_name_key(h.key) for h in found):
            return holders_from(keys, found, facts, None)
        theirs = {
            t
            for h in found
            if h.key.startswith("handle:")
            for t in (normalize_name(h.alias.display_name) or "").split()
        }
        if missing := theirs - counts.keys() - tokens:
            counts |= await repository.name_counts(self.session, self.tenant, missing)
        return holders_from(keys, found, facts, repository.population_of(counts))

    async def join_held(
        self, print_: str, actor: Actor, keys: list[Key], holder: Holder, now: datetime
    ) -> bool:
        """Store the alias with ``holder``, holding its row; False (nothing stored) when
        the holder changed since it was read, or another transaction stored the alias."""
        stored = await repository.store_alias(
            self.session,
            self.tenant,
            uuid7(),
            holder.developer_id,
            print_,
            actor,
            keys,
            now,
            hold=holder.locked,
        )
        return stored == "stored"

    async def store(
        self, print_: str, actor: Actor, keys: list[Key], owner: UUID | None, now: datetime
    ) -> UUID:
        """Store the alias (with a new developer when ``owner`` is None)."""
        developer: UUID | DeveloperRow = owner or DeveloperRow(
            uuid7(), actor.display_name or actor.login, actor.is_bot, False, now
        )
        stored = await repository.store_alias(
            self.session, self.tenant, uuid7(), developer, print_, actor, keys, now
        )
        if stored == "taken":  # a keyless twin stored first by another transaction
            again = await repository.developers_of_aliases(self.session, self.tenant, [print_])
            return again[print_]
        if isinstance(developer, DeveloperRow):
            created = DeveloperCreated(
                developer_id=developer.id,
                display_name=developer.display_name,
                is_bot=actor.is_bot,
            )
            self.stage(created, f"developer:{developer.id}")
            return developer.id
        return developer


def holders_from(
    keys: list[Key],
    found: list[repository.HeldKey],
    facts: AliasFacts,
    population: NamePopulation | None,
) -> list[Holder]:
    """The developers holding ``keys`` (oldest first), each with the links it makes: an
    identifier scores as its key does, a name by the evidence between the two aliases
    (the best pair of them, when the developer has several aliases carrying the name)."""
    mine = {k.value: k for k in keys}
    links: dict[UUID, dict[str, Key]] = {}
    locked: dict[UUID, bool] = {}
    for held in found:
        locked[held.developer_id] = held.locked
        own = mine.get(held.key)
        if own is None:
            continue
        weaker = own if own.score <= held.score else Key(held.key, held.score, held.rule)
        if is_name_key(held.key) and population is not None:
            link = name_link(weaker, facts, AliasFacts.of(held.alias), population)
        else:
            link = weaker
        best = links.setdefault(held.developer_id, {})
        if held.key not in best or link.score > best[held.key].score:
            best[held.key] = link
    return [
        Holder(developer, locked[developer], tuple(best.values()))
        for developer, best in links.items()
    ]


async def suggest(
    session: AsyncSession,
    tenant: UUID,
    developer_id: UUID,
    suggestion: Suggestion,
    now: datetime,
) -> MergeSuggested:
    """Store a merge suggestion of two developers; the announcement, for the caller to
    stage after what it already staged (so it follows the merge it may come with)."""
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
    return MergeSuggested(
        suggestion_id=row.id,
        developer_ids=[row.developer_a, row.developer_b],
        rule=row.rule,
        score=row.score,
        evidence=row.evidence,
    )
