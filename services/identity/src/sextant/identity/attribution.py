"""Incremental attribution: each actor of an activity event becomes an alias of a
developer, by the same keys and name evidence the batch resolver uses, and the event is
re-emitted as ``activity.attributed`` under the same partition key (so per-entity order
holds).

An alias in this process's cache costs nothing. The others of an event cost one round
trip together (:func:`repository.attribution_read`), which also takes the new ones' key
locks and reads, after them, what placing them needs. A new alias is placed by
:func:`sextant.identity.domain.linking.place`, under locks that keep two partitions from
splitting one person:

- first, in one global order, an advisory lock on each key of the event's new aliases
  (of the whole batch's, before its first event: two partitions' batches of a tenant then
  never hold what the other waits for): two aliases that could be one person share a key,
  so they are placed one after the other, and the second sees the first;
- an alias whose keys nobody holds starts a developer under those locks alone;
- an alias joining exactly one developer, with no merge and nothing to suggest, holds
  that developer's row (a merge or lock change of it waits, or went first and the alias
  falls through to the next case; a split moves only the aliases it names);
- merges and suggestions take the tenant's resolution lock, as manual changes do, and
  read the holders again under it.

The tenant's name population is counted last, once per batch, after every lock, so
counters are held briefly and always in the same order (a later event of the batch weighs
names by the population as it stood before the batch). Everything staged for the outbox goes in one batch.
Both go in the statement storing the event's last new alias, when nothing follows it
(no suggestion to store, the alias not taken meanwhile); otherwise in one more round trip.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession

from sextant.contracts import Envelope, EventModel, uuid5, uuid7
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
from sextant.identity.domain.keys import (
    Key,
    address_keys,
    is_shared_address,
    keys_for,
    normalize_name,
)
from sextant.identity.domain.linking import (
    Holder,
    Suggestion,
    place,
    splits_at_shared_address,
)
from sextant.runtime.consumer import each_in_context
from sextant.runtime.outbox import Outbox, Staged

ACTOR_KINDS = {"github", "gitlab", "jira", "generic"}
# The rule of a suggestion to split what an address merged before it was found shared.
SHARED_ADDRESS_RULE = "address found shared: split?"
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
    """Resolve every actor of ``envelope`` and stage its attributed copy, with whatever
    the resolution announces (in the statement storing its last new alias, when it can)."""
    [attributed] = await attribute_many(session, outbox, [envelope])
    return attributed


async def attribute_many(
    session: AsyncSession, outbox: Outbox, envelopes: Sequence[Envelope]
) -> list[ActivityAttributed]:
    """:func:`attribute` for consecutive events of one tenant in one transaction, in
    order. Every key lock the batch needs is taken first. Whatever they stage, and the
    names they count, are written once, at the end, in the order staged (the outbox
    publishes in that order): with the last event's last new alias when it can, else in
    one statement."""
    staged: list[Staged] = []
    counting: set[str] = set()  # the population entries to count, once, at the end
    attributed: list[ActivityAttributed] = []
    last = len(envelopes) - 1
    await SCHEDULED.register(session, envelopes[0].tenantid)
    if last > 0:
        await _lock_batch_keys(session, envelopes)
    alias_ids = await _alias_ids(session, envelopes)
    for index, envelope in enumerate(each_in_context(envelopes)):
        tenant = envelope.tenantid
        copy = AttributedCopy(outbox, envelope, alias_ids)
        prints = {fingerprint(actor): actor for _, actor in copy.found}
        resolved = {p: d for p in prints if (d := KNOWN.get(tenant, p)) is not None}
        if len(resolved) < len(prints):
            unknown = {p: a for p, a in prints.items() if p not in resolved}
            written = await _resolve(
                session, outbox, envelope, unknown, resolved, staged, counting, copy, index == last
            )
            if written is not None:  # the last event, written with all that was staged
                attributed.append(written)
                return attributed
        await copy.learn_alias_ids(session, prints)
        one, staged_copy = copy.stage(resolved)
        staged.append(staged_copy)
        attributed.append(one)
    await repository.count_names(session, envelopes[-1].tenantid, counting)
    await outbox.add_all(session, staged)
    return attributed


async def _lock_batch_keys(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Every key lock the batch's events will take, up front and in one global order
    (:func:`repository.lock_new_keys`): an event taking its own locks only when its turn
    comes would hold the first events' keys while waiting for a later one's, which another
    partition's batch of the tenant may hold while waiting for the first's."""
    tenant = envelopes[0].tenantid
    actors = {fingerprint(a): a for e in envelopes for _, a in actors_in(e.data)}
    keys = {p: keys_for(a) for p, a in actors.items() if KNOWN.get(tenant, p) is None}
    await repository.lock_new_keys(session, tenant, keys)


async def _alias_ids(session: AsyncSession, envelopes: Sequence[Envelope]) -> dict[str, UUID]:
    """The alias id of every actor of the batch already stored: from this process's cache,
    the others in one round trip, before the batch writes anything (so only committed
    aliases are cached). The aliases the batch stores add theirs as they are stored."""
    tenant = envelopes[0].tenantid
    prints = {fingerprint(a) for e in envelopes for _, a in actors_in(e.data)}
    found = {p: i for p in prints if (i := ALIAS_IDS.get(tenant, p)) is not None}
    if missing := prints - found.keys():
        read = await repository.alias_ids_by_fingerprint(session, tenant, missing)
        ALIAS_IDS.put(tenant, read)
        found |= read
    return found


class AttributedCopy:
    """The ``activity.attributed`` copy of one event, staged once the developer of each of
    its actors is known; each attribution names the alias too (a split or an alias move
    names aliases, so consumers can give each side back its own events)."""

    def __init__(self, outbox: Outbox, envelope: Envelope, alias_ids: dict[str, UUID]) -> None:
        self.outbox, self.envelope = outbox, envelope
        self.found = list(actors_in(envelope.data))
        self.alias_ids = alias_ids  # by fingerprint, shared by the batch's events

    async def learn_alias_ids(self, session: AsyncSession, prints: Iterable[str]) -> None:
        """Read the ids of aliases another transaction stored after the batch's read (rare)."""
        if missing := {p for p in prints if p not in self.alias_ids}:
            self.alias_ids |= await repository.alias_ids_by_fingerprint(
                session, self.envelope.tenantid, missing
            )

    def stage(self, developers: dict[str, UUID]) -> tuple[ActivityAttributed, Staged]:
        """The copy, given each actor's developer by fingerprint, and its outbox entry."""
        envelope = self.envelope
        attributed = ActivityAttributed(
            original_id=envelope.id,
            original_type=envelope.type,
            original=envelope.data,
            attributions=[
                Attribution(
                    path=path,
                    actor=actor,
                    developer_id=developers[fingerprint(actor)],
                    alias_id=self.alias_ids.get(fingerprint(actor)),
                )
                for path, actor in self.found
            ],
        )
        staged = self.outbox.stage(
            attributed,
            tenant_id=envelope.tenantid,
            workspace_id=envelope.workspaceid,
            entity=envelope.subject or str(envelope.id),
            event_id=uuid5(ATTRIBUTED, str(envelope.id)),
        )
        return attributed, staged


class KnownAliases:
    """Alias fingerprints already resolved, per tenant, in this process (bounded).

    A hit skips the database entirely. An entry is what the database held once committed:
    read from it, or placed by a transaction and put once that transaction commits (a
    rollback leaves nothing behind). An entry goes stale by a merge — it then names the
    merged-away developer, which every consumer maps to the survivor through the
    developers.merged event, so the attribution stays right and the entry stays — or by a
    manual split or move, which forgets the tenant's entries in this process once
    committed; other replicas' entries expire after ``ttl_seconds``.

    A forget also moves the tenant's generation on, and an answer obtained under an older
    generation is not put: a split committing while a read of the old owner was on its
    way back must not have that read cached after it.
    """

    def __init__(self, size: int = 200_000, ttl_seconds: float = 30.0) -> None:
        self.size, self.ttl = size, ttl_seconds
        self._count = 0
        self._entries: dict[UUID, dict[str, tuple[UUID, float]]] = {}
        self._generations: dict[UUID, int] = {}

    def get(self, tenant: UUID, print_: str) -> UUID | None:
        entry = self._entries.get(tenant, {}).get(print_)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def generation(self, tenant: UUID) -> int:
        """Take before reading what :meth:`put` will be given."""
        return self._generations.get(tenant, 0)

    def put(self, tenant: UUID, entries: dict[str, UUID], generation: int) -> None:
        if generation != self.generation(tenant):
            return  # a split or move committed since: the answers may be stale
        if self._count + len(entries) > self.size:
            self._entries.clear()
            self._count = 0
        known = self._entries.setdefault(tenant, {})
        expires = time.monotonic() + self.ttl
        for print_, developer in entries.items():
            self._count += print_ not in known
            known[print_] = (developer, expires)

    def put_after_commit(
        self, session: AsyncSession, tenant: UUID, entries: dict[str, UUID], generation: int
    ) -> None:
        """:meth:`put` once ``session``'s transaction commits (never, if it rolls back)."""

        def put(_: SyncSession) -> None:
            self.put(tenant, entries, generation)

        sa.event.listen(session.sync_session, "after_commit", put, once=True)

    def forget(self, tenant: UUID) -> None:
        self._generations[tenant] = self.generation(tenant) + 1
        self._count -= len(self._entries.pop(tenant, {}))

    def forget_after_commit(self, session: AsyncSession, tenant: UUID) -> None:
        """:meth:`forget` once ``session``'s change commits (not before: a concurrent read
        could cache the old answer again)."""

        def forget(_: SyncSession) -> None:
            self.forget(tenant)

        sa.event.listen(session.sync_session, "after_commit", forget, once=True)


KNOWN = KnownAliases()


class Scheduled:
    """The tenants this process has noted for the automatic revisit's schedule: a tenant
    is noted by its first attribution here (one insert per tenant and process, which never
    waits), and remembered once that commits."""

    def __init__(self) -> None:
        self._tenants: set[UUID] = set()

    async def register(self, session: AsyncSession, tenant: UUID) -> None:
        if tenant in self._tenants:
            return
        await repository.tenant_seen(session, tenant)

        def remember(_: SyncSession) -> None:
            self._tenants.add(tenant)

        sa.event.listen(session.sync_session, "after_commit", remember, once=True)


SCHEDULED = Scheduled()


class AliasIds:
    """Identity's alias id of each fingerprint, per tenant, in this process (bounded). An
    alias keeps its id for good (a split or a move changes its developer, never its id), so
    an entry never goes stale; only ids read from committed rows are put."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._count = 0
        self._entries: dict[UUID, dict[str, UUID]] = {}

    def get(self, tenant: UUID, print_: str) -> UUID | None:
        return self._entries.get(tenant, {}).get(print_)

    def put(self, tenant: UUID, entries: dict[str, UUID]) -> None:
        if self._count + len(entries) > self.size:
            self._entries.clear()
            self._count = 0
        known = self._entries.setdefault(tenant, {})
        for print_, alias_id in entries.items():
            self._count += print_ not in known
            known[print_] = alias_id


ALIAS_IDS = AliasIds()


async def _resolve(
    session: AsyncSession,
    outbox: Outbox,
    envelope: Envelope,
    unknown: dict[str, Actor],
    resolved: dict[str, UUID],
    staged: list[Staged],
    counting: set[str],
    copy: AttributedCopy,
    write_with_last: bool,
) -> ActivityAttributed | None:
    """Add to ``resolved`` the developer of each alias not in this process's cache: one
    round trip finds the known ones, locks the new ones' keys and reads what placing them
    needs; then each new one is placed (see the module's docstring). With
    ``write_with_last``, the attributed copy when it was written with the last of them,
    and everything ``staged`` with it (nothing is left to write then); else None."""
    tenant = envelope.tenantid
    generation = KNOWN.generation(tenant)
    keys = {p: keys_for(actor) for p, actor in unknown.items()}
    facts = {p: AliasFacts.of(actor) for p, actor in unknown.items()}
    tokens = {t for p in unknown for t in population_tokens(keys[p], facts[p])}
    # Every key lock of the event at once, in one order, before any other lock: two new
    # aliases that could be one person share a key, so they are placed one at a time.
    read = await repository.attribution_read(session, tenant, keys, tokens)
    known = dict(read.known)
    KNOWN.put(tenant, known, generation)
    resolved |= known
    new = {p: a for p, a in unknown.items() if p not in known}
    if not new:
        return None
    await copy.learn_alias_ids(session, resolved.keys())
    placing = Placing(session, outbox, envelope, staged, counting, read, copy)
    *first, (last, actor) = new.items()
    placed = {p: await placing.place(p, a, keys[p], facts[p]) for p, a in first}

    def finish(developer: UUID) -> tuple[ActivityAttributed, Staged]:
        return copy.stage(resolved | placed | {last: developer})

    if write_with_last:
        placing.last = (last, finish)
    placed[last] = await placing.place(last, actor, keys[last], facts[last])
    if placing.written is None:
        counting |= placing.named - placing.known_named
    KNOWN.put_after_commit(session, tenant, placed, generation)
    resolved |= placed
    return placing.written


def population_tokens(keys: list[Key], facts: AliasFacts) -> set[str]:
    """The population tokens an alias's name links are weighed by: the words of its names
    and its domain."""
    tokens = {t for k in keys if k.value.startswith("name:") for t in k.value[5:].split()}
    if domain := facts.domain:
        tokens.add(f"@{domain}")
    return tokens


class Placing:
    """Places the new aliases of one event, in its transaction."""

    def __init__(
        self,
        session: AsyncSession,
        outbox: Outbox,
        envelope: Envelope,
        staged: list[Staged],
        counting: set[str],
        read: repository.AttributionFacts,
        copy: AttributedCopy,
    ) -> None:
        self.session, self.outbox, self.staged = session, outbox, staged
        self.alias_ids = copy.alias_ids  # the new aliases' ids go in as they are stored
        self.copy = copy
        self.counting = counting  # the batch's earlier events' population entries
        self.tenant, self.workspace = envelope.tenantid, envelope.workspaceid
        # The holders of the new aliases' keys as last read (None: since changed here), and
        # the keys this transaction gave an alias since.
        self.read: repository.AttributionFacts | None = read
        self.stale: set[str] = set()
        self.tenant_locked = False
        self.named: set[str] = set()  # population entries of the new aliases
        self.known_named: set[str] = set()  # ... and of the aliases found holding keys
        self.stored: set[str] = set()  # the fingerprints this event stored (names uncounted)
        # The event's last new alias, and its attributed copy given its developer: stored
        # by the statement storing that alias, with the names to count, when nothing
        # follows it (then ``written``).
        self.last: tuple[str, Callable[[UUID], tuple[ActivityAttributed, Staged]]] | None = None
        self.written: ActivityAttributed | None = None

    def stage(self, data: EventModel, entity: str) -> None:
        self.staged.append(self.staging(data, entity))

    def staging(self, data: EventModel, entity: str) -> Staged:
        return self.outbox.stage(
            data, tenant_id=self.tenant, workspace_id=self.workspace, entity=entity
        )

    async def place(self, print_: str, actor: Actor, keys: list[Key], facts: AliasFacts) -> UUID:
        session, tenant = self.session, self.tenant
        if facts.name and not actor.is_bot:
            self.named |= repository.population_entries(facts.name, facts.domain)
        keys, facts = await self.unshared(keys, facts)
        holders = await self.holders(print_, facts, keys)
        now = datetime.now(UTC)
        if not holders:
            # Nobody holds a key of this alias, and nobody can gain one before this
            # transaction ends (the key locks): a new developer, no tenant lock needed.
            return await self.store(print_, actor, keys, None, now, final=True)
        if len(holders) == 1 and not self.tenant_locked:
            # The common case, an alias of one known developer: join it while holding its
            # row (a merge or lock change of it waits) instead of the tenant.
            placement = place(holders, frozenset())
            [holder] = holders
            if (
                placement.joins == holder.developer_id
                and not placement.suggestions
                and await self.join_held(print_, actor, keys, holder, now, placement.link)
            ):
                return holder.developer_id
        if not self.tenant_locked:
            # Merges and suggestions run one transaction at a time per tenant, never
            # interleaved with a person's merge or split; read the holders again under it.
            await repository.lock_tenant_resolution(session, tenant)
            self.tenant_locked = True
            again = await self.read_again(print_, keys, facts)
            if print_ in again.known:
                await self.copy.learn_alias_ids(session, [print_])
                return again.known[print_]
            holders = await self.holders(print_, facts, keys)
        ids = [h.developer_id for h in holders]
        placement = place(
            holders,
            await repository.kept_apart(session, tenant, ids),
            await repository.pending_pairs(session, tenant, ids),
        )
        owner = placement.joins
        if owner is not None and placement.merged:
            self.read = None  # the merged developers' holders are the survivor's now
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
        owner = await self.store(
            print_, actor, keys, owner, now, final=not placement.suggestions, placed=placement.link
        )
        for suggestion in placement.suggestions:
            announced = await suggest(session, tenant, owner, suggestion, now)
            self.stage(announced, f"developer:{owner}")
        return owner

    async def unshared(self, keys: list[Key], facts: AliasFacts) -> tuple[list[Key], AliasFacts]:
        """The alias's keys and facts with its address left out when the names it was seen
        under make it shared (:func:`keys.is_shared_address`, as the batch resolver judges
        it): no key, no handle or domain to corroborate a name. The name is recorded first
        (under the address's key lock); when it is the one that makes the address shared,
        the merges the address made before become suggestions to split."""
        address = next(
            (k.value for k in keys if k.value.removeprefix("bot|").startswith("email:")), None
        )
        if address is None or facts.name is None:
            return keys, facts
        names, new = await repository.names_at_address(
            self.session, self.tenant, address, facts.name
        )
        if not is_shared_address(names):
            return keys, facts
        if new and not is_shared_address(names - {facts.name}):
            await self.suggest_splits(address, names)
        unshared = dataclasses.replace(facts, handles=frozenset(), domain=None)
        taken = address_keys(address.removeprefix("bot|").removeprefix("email:"), facts.name)
        return [k for k in keys if k.value.removeprefix("bot|") not in taken], unshared

    async def suggest_splits(self, address: str, names: set[str]) -> None:
        """Suggest moving apart the aliases an address, now found shared, brought together
        (under the tenant's resolution lock, as every suggestion)."""
        if not self.tenant_locked:
            await repository.lock_tenant_resolution(self.session, self.tenant)
            self.tenant_locked = True
        seen = await repository.aliases_at_address(self.session, self.tenant, address)
        at = [(a.alias_id, a.developer_id, normalize_name(a.display_name)) for a in seen]
        now = datetime.now(UTC)
        for split in splits_at_shared_address(address.removeprefix("bot|"), at, names):
            row = SuggestionRow(
                id=uuid7(),
                developer_a=split.developer_id,
                developer_b=split.developer_id,
                rule=SHARED_ADDRESS_RULE,
                score=0.0,
                evidence=list(split.evidence),
                status="pending",
                created_at=now,
                kind="split",
                alias_ids=split.alias_ids,
            )
            await repository.add_suggestion(self.session, self.tenant, row)
            self.stage(announcement(row), f"developer:{split.developer_id}")

    async def holders(self, print_: str, facts: AliasFacts, keys: list[Key]) -> list[Holder]:
        """The holders of the alias's keys, with the population its name links need (the
        words of its own names and its domain come with the holders; a holder's other
        name, a handle spelling it, costs one more query, rarely)."""
        values = {k.value for k in keys}
        read = self.read
        if read is None or not values <= read.keys or values & self.stale:
            read = await self.read_again(print_, keys, facts)
        found = [h for h in read.held if h.key in values]
        counts = dict(read.counts)
        for held in found:  # already counted (unless this event stored it): not again
            if fingerprint(held.alias) in self.stored:
                continue
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
        if missing := theirs - counts.keys() - read.tokens:
            counts |= await repository.name_counts(self.session, self.tenant, missing)
        return holders_from(keys, found, facts, repository.population_of(counts))

    async def read_again(
        self, print_: str, keys: list[Key], facts: AliasFacts
    ) -> repository.AttributionFacts:
        """Read the alias and the holders of its keys again (its key locks are held already)."""
        self.read = await repository.attribution_read(
            self.session, self.tenant, {print_: keys}, population_tokens(keys, facts)
        )
        self.stale = set()
        return self.read

    async def join_held(
        self,
        print_: str,
        actor: Actor,
        keys: list[Key],
        holder: Holder,
        now: datetime,
        placed: Key | None,
    ) -> bool:
        """Store the alias with ``holder``, holding its row; False (nothing stored) when
        the holder changed since it was read, or another transaction stored the alias."""
        stored = await self.store_alias(
            print_, actor, keys, holder.developer_id, now, holder.locked, final=True, placed=placed
        )
        return stored == "stored"

    async def store(
        self,
        print_: str,
        actor: Actor,
        keys: list[Key],
        owner: UUID | None,
        now: datetime,
        *,
        final: bool = False,
        placed: Key | None = None,
    ) -> UUID:
        """Store the alias (with a new developer when ``owner`` is None); ``final``: the
        last store of its placement; ``placed``: the link that joined it to ``owner``."""
        developer: UUID | DeveloperRow = owner or DeveloperRow(
            uuid7(), actor.display_name or actor.login, actor.is_bot, False, now
        )
        created = None
        if isinstance(developer, DeveloperRow):
            announced = DeveloperCreated(
                developer_id=developer.id,
                display_name=developer.display_name,
                is_bot=actor.is_bot,
            )
            created = self.staging(announced, f"developer:{developer.id}")
        stored = await self.store_alias(
            print_,
            actor,
            keys,
            developer,
            now,
            final=final,
            created=created,
            placed=placed if owner is not None else None,
        )
        if stored == "taken":  # a keyless twin stored first by another transaction
            again = await repository.developers_of_aliases(self.session, self.tenant, [print_])
            await self.copy.learn_alias_ids(self.session, [print_])
            return again[print_]
        if created is not None:
            self.staged.append(created)
        return developer.id if isinstance(developer, DeveloperRow) else developer

    async def store_alias(
        self,
        print_: str,
        actor: Actor,
        keys: list[Key],
        developer: UUID | DeveloperRow,
        now: datetime,
        hold: bool | None = None,
        *,
        final: bool = False,
        created: Staged | None = None,
        placed: Key | None = None,
    ) -> str:
        """:func:`repository.store_alias`, remembering the keys stored (their holders as
        read before no longer tell the truth). The last store of the event's last alias
        (``final``) carries what the event writes after it: the names to count and the
        outbox rows, everything staged so far, ``created`` and the attributed copy."""
        tail = copy = None
        alias_id = uuid7()
        if final and self.last is not None and self.last[0] == print_:
            developer_id = developer.id if isinstance(developer, DeveloperRow) else developer
            self.alias_ids[print_] = alias_id  # named by the copy written with it
            copy, staged_copy = self.last[1](developer_id)
            staged = [*self.staged, *([created] if created else []), staged_copy]
            tail = repository.Tail(
                self.counting | (self.named - self.known_named), Outbox.rows(staged)
            )
        stored = await repository.store_alias(
            self.session,
            self.tenant,
            alias_id,
            developer,
            print_,
            actor,
            keys,
            now,
            hold,
            tail,
            placed,
        )
        if stored == "stored":
            self.stored.add(print_)
            self.stale.update(k.value for k in keys)
            self.written = copy
            self.alias_ids[print_] = alias_id
        elif self.alias_ids.get(print_) == alias_id:
            del self.alias_ids[print_]  # not stored: the copy naming it was not written
        return stored


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
    theirs: dict[int, AliasFacts] = {}  # by alias: one holding several keys comes once each
    for held in found:
        locked[held.developer_id] = held.locked
        own = mine.get(held.key)
        if own is None:
            continue
        weaker = own if own.score <= held.score else Key(held.key, held.score, held.rule)
        if is_name_key(held.key) and population is not None:
            alias = theirs.get(id(held.alias))
            if alias is None:
                alias = theirs[id(held.alias)] = AliasFacts.of(held.alias)
            link = name_link(weaker, facts, alias, population)
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
    return announcement(row)


def announcement(row: SuggestionRow) -> MergeSuggested:
    """A stored suggestion as the bus announces it: a split names its developer twice and
    the aliases it would move out."""
    return MergeSuggested(
        suggestion_id=row.id,
        developer_ids=[row.developer_a, row.developer_b],
        rule=row.rule,
        score=row.score,
        evidence=row.evidence,
        kind="split" if row.kind == "split" else "merge",
        alias_ids=list(row.alias_ids),
    )
