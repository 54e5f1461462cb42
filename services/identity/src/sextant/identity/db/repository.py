"""Reads and writes of identity's tables, in a session already scoped to the tenant (RLS);
functions the API reaches filter by tenant as well. Nothing here commits."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.contracts.events.common import Actor
from sextant.identity.db import (
    SCHEMA,
    alias_keys,
    aliases,
    developers,
    merge_suggestions,
    merges,
    revisits,
    separations,
    team_memberships,
    teams,
    tenants_seen,
    user_links,
)
from sextant.identity.domain.evidence import NamePopulation
from sextant.identity.domain.history import PastMerge, Span
from sextant.identity.domain.keys import Key
from sextant.identity.domain.linking import Pair
from sextant.runtime.db import driver_connection


@dataclass(frozen=True)
class DeveloperRow:
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    created_at: datetime
    merged_into: UUID | None = None


@dataclass(frozen=True)
class AliasRow:
    id: UUID
    developer_id: UUID
    kind: str
    account_id: str | None
    login: str | None
    email: str | None
    display_name: str | None
    is_bot: bool
    keys: list[tuple[str, float, str]]
    placed_by: str | None = None
    placed_score: float | None = None


@dataclass(frozen=True)
class SuggestionRow:
    id: UUID
    developer_a: UUID
    developer_b: UUID
    rule: str
    score: float
    evidence: list[str]
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    kind: str = "merge"  # or "split": ``alias_ids`` out of ``developer_a``
    alias_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class TeamRow:
    id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class MembershipRow:
    id: UUID
    team_id: UUID
    developer_id: UUID  # as recorded; may since have been merged into another
    starts_on: date
    ends_on: date | None


async def lock_tenant_resolution(session: AsyncSession, tenant_id: UUID) -> None:
    """Hold the tenant's resolution lock until this transaction ends: automatic matching
    and manual changes of one tenant's developers happen one transaction at a time."""
    await session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"identity:{tenant_id}", 0))
        )
    )


def _lock_id(tenant_id: UUID, key: str | None = None) -> str:
    return f"identity:{tenant_id}" if key is None else f"identity:{tenant_id}|{key}"


_KNOWN_ALIASES = (
    f"SELECT a.fingerprint, a.developer_id, d.merged_into FROM {SCHEMA}.aliases a "  # noqa: S608 (schema: a constant identifier)
    f"JOIN {SCHEMA}.developers d ON d.id = a.developer_id "
    "WHERE a.tenant_id = $1 AND a.fingerprint = ANY($2::text[])"
)


async def developers_of_aliases(
    session: AsyncSession, tenant_id: UUID, fingerprints: Sequence[str]
) -> dict[str, UUID]:
    """The live developer of each known alias among ``fingerprints`` (one round trip;
    merges moved the aliases, so a merged-away developer here is rare and followed)."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_KNOWN_ALIASES, tenant_id, list(fingerprints))
    return await _live_developers(session, tenant_id, rows)


async def _live_developers(
    session: AsyncSession, tenant_id: UUID, rows: Iterable[Any]
) -> dict[str, UUID]:
    """Fingerprint -> live developer, from rows of (fingerprint, developer_id, merged_into)."""
    found = {r["fingerprint"]: r["developer_id"] for r in rows}
    stale = [r["developer_id"] for r in rows if r["merged_into"] is not None]
    if stale:
        live = await live_ids(session, tenant_id, stale)
        found = {p: live.get(d, d) for p, d in found.items()}
    return found


@dataclass(frozen=True)
class HeldKey:
    """One alias of a live developer holding one of the keys looked for."""

    developer_id: UUID
    locked: bool
    key: str
    score: float
    rule: str
    alias: Actor


def _held_key(r: Any, aliases: dict[str, Actor]) -> HeldKey:
    """A row of the read; ``aliases`` (by fingerprint) gives an alias holding several of
    the keys one model, not one per key."""
    alias = aliases.get(r["fingerprint"])
    if alias is None:
        alias = aliases[r["fingerprint"]] = Actor.model_construct(
            kind=r["kind"],
            account_id=r["account_id"],
            login=r["login"],
            email=r["email"],
            display_name=r["display_name"],
            is_bot=False,
        )
    return HeldKey(r["developer_id"], r["locked"], r["key"], float(r["score"]), r["rule"], alias)


@dataclass(frozen=True)
class AttributionFacts:
    """What attribution reads about an event's uncached aliases (:func:`attribution_read`)."""

    known: dict[str, UUID]  # fingerprint -> live developer
    held: list[HeldKey]  # the new aliases' keys as live developers hold them, oldest first
    counts: dict[str, int]  # population counts (see :func:`population_of`) ...
    tokens: frozenset[str]  # ... of these tokens (with the totals); absent ones count 0
    keys: frozenset[str]  # the keys whose holders were read


async def attribution_read(
    session: AsyncSession,
    tenant_id: UUID,
    keys: dict[str, list[Key]],
    tokens: Iterable[str],
) -> AttributionFacts:
    """In one round trip (function ``attribution_read``, migration 0005): which of the
    aliases ``keys`` names (by fingerprint) are known; for the others, a lock on each of
    their keys until this transaction ends, then, read after the locks, the holders of
    their keys and the population counts of ``tokens`` with the totals.

    The locks are taken in one global order (so two transactions never wait on each other
    crosswise), before any other lock of attribution: two new aliases that share a key —
    the only way they could be one person — are placed one after the other, so they
    cannot each start a developer."""
    pairs = [(p, k.value) for p, ks in keys.items() for k in ks]
    asked = frozenset(tokens)
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _ATTRIBUTION_READ,
        tenant_id,
        list(keys),
        [p for p, _ in pairs],
        [k for _, k in pairs],
        [_lock_id(tenant_id, k) for _, k in pairs],
        [*TOTAL_SHARDS, *asked],
    )
    held = [r for r in rows if r["what"] == "held"]
    holding: dict[str, Actor] = {}
    known = await _live_developers(session, tenant_id, [r for r in rows if r["what"] == "known"])
    # One stored by a transaction the key locks waited for:
    known |= {r["fingerprint"]: r["developer_id"] for r in held if r["fingerprint"] in keys}
    return AttributionFacts(
        known=known,
        held=[_held_key(r, holding) for r in held],
        counts={r["key"]: int(r["names"]) for r in rows if r["what"] == "count"},
        tokens=asked,
        keys=frozenset(k for _, k in pairs),
    )


_LOCK_NEW_KEYS = (
    "SELECT count(pg_advisory_xact_lock(h)) FROM ("  # noqa: S608 (schema: a constant identifier)
    "  SELECT DISTINCT hashtextextended(u.lock_id, 0) AS h"
    "  FROM unnest($2::text[], $3::text[]) AS u(print, lock_id)"
    f"  WHERE NOT EXISTS (SELECT FROM {SCHEMA}.aliases a"
    "    WHERE a.tenant_id = $1 AND a.fingerprint = u.print)"
    "  ORDER BY h) AS s"
)


async def lock_new_keys(session: AsyncSession, tenant_id: UUID, keys: dict[str, list[Key]]) -> None:
    """Take, in one round trip and in :func:`attribution_read`'s global order, the key
    locks of every alias of ``keys`` (by fingerprint) not stored yet: a batch takes all its
    events' locks before the first event's, so two batches of one tenant (two partitions)
    wait on each other at most once, in order, instead of each holding what the other's
    later event needs (a deadlock, found only after ``deadlock_timeout``). Each event's
    :func:`attribution_read` then takes its own again (advisory locks are re-entrant)."""
    pairs = [(p, k.value) for p, ks in keys.items() for k in ks]
    if not pairs:
        return
    driver = await driver_connection(session)
    await driver.fetchval(
        _LOCK_NEW_KEYS,
        tenant_id,
        [p for p, _ in pairs],
        [_lock_id(tenant_id, k) for _, k in pairs],
    )


_ATTRIBUTION_READ = (
    f"SELECT * FROM {SCHEMA}.attribution_read($1, $2::text[], $3::text[], $4::text[],"  # noqa: S608 (schema: a constant identifier)
    " $5::text[], $6::text[])"
)


_POPULATION = (
    f"SELECT token, names FROM {SCHEMA}.name_tokens "  # noqa: S608 (schema: a constant identifier)
    "WHERE tenant_id = $1 AND token = ANY($2::text[])"
)


async def name_counts(
    session: AsyncSession, tenant_id: UUID, tokens: Iterable[str]
) -> dict[str, int]:
    """The population counts of ``tokens`` (names' words, ``@<domain>``)."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_POPULATION, tenant_id, list(set(tokens)))
    return {r["token"]: int(r["names"]) for r in rows}


def population_of(counts: dict[str, int]) -> NamePopulation:
    """The tenant's population as far as ``counts`` (with the total shards) tell it."""
    tokens = {t: n for t, n in counts.items() if t not in TOTAL_SHARDS}
    return NamePopulation(
        names=sum(counts.get(t, 0) for t in TOTAL_SHARDS if t.startswith("#")),
        with_domain=sum(counts.get(t, 0) for t in TOTAL_SHARDS if t.startswith("@")),
        at_domain={t[1:]: n for t, n in tokens.items() if t.startswith("@")},
        tokens={t: n for t, n in tokens.items() if not t.startswith("@")},
    )


# The totals are kept in shards, so two transactions counting new names wait on each other
# only when the names share a token or a shard, not always.
SHARDS = 16
TOTAL_SHARDS = (*(f"#{i}" for i in range(SHARDS)), *(f"@#{i}" for i in range(SHARDS)))


def total_shard(value: str, prefix: str = "") -> str:
    """The shard of the total that counts ``value`` ("#3"; "@#3" for a name at a domain)."""
    return f"{prefix}#{zlib.crc32(value.encode()) % SHARDS}"


_COUNT_NAMES = (
    "WITH seen AS ("  # noqa: S608 (schema: a constant identifier)
    f"  INSERT INTO {SCHEMA}.names_seen (tenant_id, value)"
    "  SELECT $1, v FROM unnest($2::text[]) AS v ON CONFLICT DO NOTHING RETURNING value"
    f") INSERT INTO {SCHEMA}.name_tokens AS t (tenant_id, token, names)"
    "  SELECT $1, u.token, count(*) FROM unnest($3::text[], $4::text[]) AS u(value, token)"
    "  JOIN seen ON seen.value = u.value GROUP BY u.token ORDER BY u.token"
    "  ON CONFLICT (tenant_id, token) DO UPDATE SET names = t.names + excluded.names"
)


def population_entries(name: str, domain: str | None) -> set[str]:
    """What an alias adds to the population: its name, and its name at its domain."""
    return {f"name:{name}", f"at:{domain}|{name}"} if domain else {f"name:{name}"}


async def count_names(session: AsyncSession, tenant_id: UUID, entries: Iterable[str]) -> None:
    """Add population entries (:func:`population_entries`) to the tenant's names, each
    distinct one once, in one round trip. Runs last in attribution: the counter rows it
    updates are then held for the shortest time, and always after every advisory lock
    (one order, no deadlock). (:func:`store_alias` does the same with its alias, given a
    :class:`Tail`.)"""
    values, pairs = _names_counted(entries)
    if not values:
        return
    driver = await driver_connection(session)
    await driver.execute(
        _COUNT_NAMES, tenant_id, values, [v for v, _ in pairs], [t for _, t in pairs]
    )


def _names_counted(entries: Iterable[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The distinct population entries, sorted, and each with every token it counts in."""
    values = sorted(set(entries))
    pairs: list[tuple[str, str]] = []
    for value in values:
        if value.startswith("name:"):
            tokens = {total_shard(value), *value[5:].split()}
        else:
            tokens = {total_shard(value, "@"), f"@{value[3:].split('|', 1)[0]}"}
        pairs += [(value, token) for token in tokens]
    return values, pairs


async def add_developer(session: AsyncSession, tenant_id: UUID, row: DeveloperRow) -> None:
    await session.execute(
        developers.insert().values(
            tenant_id=tenant_id,
            id=row.id,
            display_name=row.display_name,
            is_bot=row.is_bot,
            locked=row.locked,
            created_at=row.created_at,
        )
    )


async def merge_into(
    session: AsyncSession,
    tenant_id: UUID,
    survivor: UUID,
    merged: Sequence[UUID],
    *,
    rule: str,
    score: float | None,
    actor: str | None,
    at: datetime,
) -> None:
    """Move the aliases of ``merged`` to ``survivor``, remembering which each held (so a
    split can restore them), and settle pending suggestions the merge answers."""
    # The merged developers' rows first: an alias joining one of them concurrently holds
    # its row (``hold_live_developer``), so this waits for it and then moves it too.
    await session.execute(
        developers.update()
        .where(developers.c.tenant_id == tenant_id, developers.c.id.in_(merged))
        .values(merged_into=survivor)
    )
    held: dict[UUID, list[UUID]] = {m: [] for m in merged}
    for alias_id, developer_id in await session.execute(
        sa.select(aliases.c.id, aliases.c.developer_id).where(
            aliases.c.tenant_id == tenant_id, aliases.c.developer_id.in_(merged)
        )
    ):
        held[developer_id].append(alias_id)
    await session.execute(
        merges.insert(),
        [
            {
                "tenant_id": tenant_id,
                "id": uuid7(),
                "survivor_id": survivor,
                "merged_id": m,
                "alias_ids": sorted(held[m]),
                "rule": rule,
                "score": score,
                "actor": actor,
                "merged_at": at,
            }
            for m in merged
        ],
    )
    await session.execute(
        aliases.update()
        .where(aliases.c.tenant_id == tenant_id, aliases.c.developer_id.in_(merged))
        .values(developer_id=survivor)
    )
    within = sa.select(_absorbed(tenant_id, [survivor]).c.id)
    await session.execute(
        merge_suggestions.update()
        .where(
            merge_suggestions.c.tenant_id == tenant_id,
            merge_suggestions.c.status == "pending",
            merge_suggestions.c.developer_a.in_(within),
            merge_suggestions.c.developer_b.in_(within),
        )
        .values(status="confirmed", decided_at=at, decided_by=actor or "automatic")
    )


async def revive(session: AsyncSession, tenant_id: UUID, developer_id: UUID) -> None:
    """A merged-away developer is live again (a split restored it)."""
    await session.execute(
        developers.update()
        .where(developers.c.tenant_id == tenant_id, developers.c.id == developer_id)
        .values(merged_into=None)
    )


async def move_aliases(
    session: AsyncSession,
    tenant_id: UUID,
    alias_ids: Sequence[UUID],
    to_developer: UUID,
    placed_by: str,
) -> None:
    """Move aliases to another developer; ``placed_by`` says who, and why, on each."""
    await session.execute(
        aliases.update()
        .where(aliases.c.tenant_id == tenant_id, aliases.c.id.in_(alias_ids))
        .values(developer_id=to_developer, placed_by=placed_by, placed_score=None)
    )


@dataclass(frozen=True)
class MergeRow:
    """One merge that made a developer what it is: who was merged into whom, by which link."""

    id: UUID
    survivor_id: UUID
    merged_id: UUID
    alias_ids: list[UUID]
    rule: str
    score: float | None
    actor: str | None  # None: automatic
    merged_at: datetime


async def merges_behind(
    session: AsyncSession,
    tenant_id: UUID,
    developer_id: UUID,
    limit: int,
    after: UUID | None = None,
) -> list[MergeRow]:
    """The merges into ``developer_id`` and into every developer merged into it, oldest
    first: the links, with their evidence, that brought its aliases together (``limit`` of
    them, after the merge ``after``)."""
    absorbed = _absorbed(tenant_id, [developer_id])
    query = (
        sa.select(merges)
        .where(merges.c.tenant_id == tenant_id, merges.c.survivor_id.in_(sa.select(absorbed.c.id)))
        .order_by(merges.c.merged_at, merges.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(_after_row(merges, merges.c.merged_at, after))
    rows = await session.execute(query)
    return [
        MergeRow(
            r["id"],
            r["survivor_id"],
            r["merged_id"],
            list(r["alias_ids"]),
            r["rule"],
            r["score"],
            r["actor"],
            r["merged_at"],
        )
        for r in rows.mappings()
    ]


async def past_merges_into(
    session: AsyncSession, tenant_id: UUID, survivor: UUID
) -> list[PastMerge]:
    rows = await session.execute(
        sa.select(merges, developers.c.merged_into)
        .join(developers, developers.c.id == merges.c.merged_id)
        .where(merges.c.tenant_id == tenant_id, merges.c.survivor_id == survivor)
    )
    return [
        PastMerge(
            merged_id=r["merged_id"],
            alias_ids=frozenset(r["alias_ids"]),
            merged_at=r["merged_at"],
            still_merged=r["merged_into"] == survivor,
        )
        for r in rows.mappings()
    ]


async def set_locked(
    session: AsyncSession, tenant_id: UUID, developer_id: UUID, locked: bool
) -> None:
    await session.execute(
        developers.update()
        .where(developers.c.tenant_id == tenant_id, developers.c.id == developer_id)
        .values(locked=locked)
    )


def _absorbed(tenant_id: UUID, ids: Sequence[UUID]) -> sa.CTE:
    """(live, id): each of ``ids`` with every developer merged into it, transitively."""
    top = (
        sa.select(developers.c.id.label("live"), developers.c.id.label("id"))
        .where(developers.c.tenant_id == tenant_id, developers.c.id.in_(ids))
        .cte("absorbed", recursive=True)
    )
    inner = developers.alias("inner")
    return top.union(
        sa.select(top.c.live, inner.c.id).where(
            inner.c.tenant_id == tenant_id, inner.c.merged_into == top.c.id
        )
    )


async def _pairs_between(
    session: AsyncSession,
    tenant_id: UUID,
    ids: Sequence[UUID],
    table: sa.Table,
    *conditions: sa.ColumnElement[bool],
) -> set[Pair]:
    if len(set(ids)) < 2:
        return set()
    members = _absorbed(tenant_id, ids)
    a, b = members.alias("a"), members.alias("b")
    rows = await session.execute(
        sa.select(a.c.live, b.c.live)
        .select_from(table)
        .join(a, table.c.developer_a == a.c.id)
        .join(b, table.c.developer_b == b.c.id)
        .where(table.c.tenant_id == tenant_id, a.c.live != b.c.live, *conditions)
    )
    return {frozenset((x, y)) for x, y in rows}


async def kept_apart(session: AsyncSession, tenant_id: UUID, ids: Sequence[UUID]) -> set[Pair]:
    """Pairs of the (live) ``ids`` a person said are different people."""
    return await _pairs_between(session, tenant_id, ids, separations)


async def pending_pairs(session: AsyncSession, tenant_id: UUID, ids: Sequence[UUID]) -> set[Pair]:
    """Pairs of the (live) ``ids`` already suggested and not yet decided."""
    return await _pairs_between(
        session, tenant_id, ids, merge_suggestions, merge_suggestions.c.status == "pending"
    )


async def add_separation(
    session: AsyncSession,
    tenant_id: UUID,
    pair: tuple[UUID, UUID],
    *,
    reason: str,
    decided_by: str,
    at: datetime,
) -> None:
    a, b = sorted(pair)
    await session.execute(
        insert(separations)
        .values(
            tenant_id=tenant_id,
            developer_a=a,
            developer_b=b,
            reason=reason,
            decided_by=decided_by,
            decided_at=at,
        )
        .on_conflict_do_nothing()
    )


async def live_ids(session: AsyncSession, tenant_id: UUID, ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """Each of ``ids`` (of this tenant) mapped to the live developer holding it now."""
    if not ids:
        return {}
    up = (
        sa.select(
            developers.c.id.label("start"),
            developers.c.id.label("id"),
            developers.c.merged_into.label("next"),
        )
        .where(developers.c.tenant_id == tenant_id, developers.c.id.in_(ids))
        .cte("up", recursive=True)
    )
    inner = developers.alias("inner")
    up = up.union(
        sa.select(up.c.start, inner.c.id, inner.c.merged_into).where(inner.c.id == up.c.next)
    )
    rows = await session.execute(sa.select(up.c.start, up.c.id).where(up.c.next.is_(None)))
    return {start: live for start, live in rows}


async def developers_by_id(
    session: AsyncSession, tenant_id: UUID, ids: Sequence[UUID]
) -> dict[UUID, DeveloperRow]:
    """The developers of this tenant among ``ids``, merged-away ones included."""
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(developers).where(developers.c.tenant_id == tenant_id, developers.c.id.in_(ids))
    )
    return {r["id"]: _developer(r) for r in rows.mappings()}


async def alias_by_id(session: AsyncSession, tenant_id: UUID, alias_id: UUID) -> AliasRow | None:
    row = (
        (
            await session.execute(
                sa.select(aliases).where(aliases.c.tenant_id == tenant_id, aliases.c.id == alias_id)
            )
        )
        .mappings()
        .first()
    )
    return _alias(row, []) if row else None


async def alias_ids_by_fingerprint(
    session: AsyncSession, tenant_id: UUID, fingerprints: Iterable[str]
) -> dict[str, UUID]:
    """The alias id of each stored alias among ``fingerprints``."""
    wanted = list(set(fingerprints))
    if not wanted:
        return {}
    rows = await session.execute(
        sa.select(aliases.c.fingerprint, aliases.c.id).where(
            aliases.c.tenant_id == tenant_id, aliases.c.fingerprint.in_(wanted)
        )
    )
    return {r.fingerprint: r.id for r in rows}


async def alias_ids_of(session: AsyncSession, tenant_id: UUID, developer_id: UUID) -> list[UUID]:
    rows = await session.scalars(
        sa.select(aliases.c.id).where(
            aliases.c.tenant_id == tenant_id, aliases.c.developer_id == developer_id
        )
    )
    return list(rows)


@dataclass(frozen=True)
class Tail:
    """What an attribution writes after its last alias, for :func:`store_alias` to write in
    the same statement: the population entries to count (:func:`count_names`) and the
    outbox rows (:meth:`sextant.runtime.outbox.Outbox.rows`), in order."""

    names: Iterable[str]
    outbox: Sequence[tuple[UUID, str, str, str]]


_STORE_ALIAS = (
    "WITH live AS ("  # noqa: S608 (schema: a constant identifier)
    f"  SELECT id FROM {SCHEMA}.developers WHERE tenant_id = $1 AND id = $3"
    "  AND merged_into IS NULL AND locked = $17 FOR SHARE"
    "), a AS ("
    f"  INSERT INTO {SCHEMA}.aliases (tenant_id, id, developer_id, fingerprint, kind,"
    "    account_id, login, email, display_name, is_bot, first_seen_at, placed_by, placed_score)"
    "  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $25, $26"
    "  WHERE $17::boolean IS NULL OR EXISTS (SELECT FROM live)"
    "  ON CONFLICT ON CONSTRAINT aliases_once DO NOTHING RETURNING id"
    "), d AS ("
    f"  INSERT INTO {SCHEMA}.developers (tenant_id, id, display_name, is_bot, locked, created_at)"
    "  SELECT $1, $3, $12, $10, false, $11 WHERE $13 AND EXISTS (SELECT FROM a)"
    "), k AS ("
    f"  INSERT INTO {SCHEMA}.alias_keys (tenant_id, key, alias_id, score, rule)"
    "  SELECT $1, u.key, a.id, u.score, u.rule"
    "  FROM a, unnest($14::text[], $15::float8[], $16::text[]) AS u(key, score, rule)"
    "  ON CONFLICT DO NOTHING"
    # The tail, only with the alias: the counters after it (what count_names does; the
    # alias's row and its developer's are locked first, as when counting comes after).
    "), seen AS ("
    f"  INSERT INTO {SCHEMA}.names_seen (tenant_id, value)"
    "  SELECT $1, v FROM unnest($18::text[]) AS v WHERE EXISTS (SELECT FROM a)"
    "  ON CONFLICT DO NOTHING RETURNING value"
    "), counted AS ("
    f"  INSERT INTO {SCHEMA}.name_tokens AS t (tenant_id, token, names)"
    "  SELECT $1, u.token, count(*) FROM unnest($19::text[], $20::text[]) AS u(value, token)"
    "  JOIN seen ON seen.value = u.value GROUP BY u.token ORDER BY u.token"
    "  ON CONFLICT (tenant_id, token) DO UPDATE SET names = t.names + excluded.names"
    "), staged AS ("
    f"  INSERT INTO {SCHEMA}.outbox (event_id, topic, key, envelope)"
    "  SELECT e.event_id, e.topic, e.key, e.envelope::jsonb"
    "  FROM unnest($21::uuid[], $22::text[], $23::text[], $24::text[])"
    "    WITH ORDINALITY AS e(event_id, topic, key, envelope, n)"
    "  WHERE EXISTS (SELECT FROM a) ORDER BY e.n"
    "  ON CONFLICT (event_id) DO NOTHING"
    ") SELECT (SELECT count(*) FROM a) AS stored, (SELECT count(*) FROM live) AS live"
)


async def store_alias(
    session: AsyncSession,
    tenant_id: UUID,
    alias_id: UUID,
    developer: UUID | DeveloperRow,
    fingerprint: str,
    actor: Actor,
    keys: Sequence[Key],
    seen_at: datetime,
    hold: bool | None = None,
    tail: Tail | None = None,
    placed: Key | None = None,
) -> str:
    """Store an alias, its keys and (given a row) its new developer in one round trip:
    "stored"; or "taken", nothing stored, when another transaction stored the alias first.

    ``hold`` (the developer's ``locked`` as read): join only while the developer is still
    live and so locked, and hold its row until this transaction ends (a merge or lock
    change of it waits) — else "moved", nothing stored.

    ``tail`` is written in the same statement when, and only when, the alias is stored;
    ``placed`` is the link that joined it to an existing developer."""
    new = isinstance(developer, DeveloperRow)
    developer_id = developer.id if isinstance(developer, DeveloperRow) else developer
    values, pairs = _names_counted(tail.names) if tail else ([], [])
    rows = tail.outbox if tail else ()
    driver = await driver_connection(session)
    row = await driver.fetchrow(
        _STORE_ALIAS,
        tenant_id,
        alias_id,
        developer_id,
        fingerprint,
        actor.kind,
        actor.account_id,
        actor.login,
        actor.email,
        actor.display_name,
        actor.is_bot,
        seen_at,
        developer.display_name if isinstance(developer, DeveloperRow) else None,
        new,
        [k.value for k in keys],
        [k.score for k in keys],
        [k.rule for k in keys],
        hold,
        values,
        [v for v, _ in pairs],
        [t for _, t in pairs],
        *([r[i] for r in rows] for i in range(4)),  # event_id, topic, key, envelope JSON
        placed.rule if placed else None,
        placed.score if placed else None,
    )
    if row["stored"]:
        return "stored"
    return "moved" if hold is not None and not row["live"] else "taken"


def _after_row(table: sa.Table, order: sa.Column[Any], after: UUID) -> sa.ColumnElement[bool]:
    """Rows after the row ``after`` names, in (order, id) order: a page's cursor holds only
    the last row's id. A row that is gone (or another tenant's, hidden by RLS) compares
    with NULL, so nothing follows it."""
    its_value = sa.select(order).where(table.c.id == after).scalar_subquery()
    return sa.tuple_(order, table.c.id) > sa.tuple_(its_value, sa.literal(after))


async def list_developers(
    session: AsyncSession,
    tenant_id: UUID,
    search: str | None,
    include_bots: bool,
    limit: int,
    only: Sequence[UUID] | None = None,
    after: UUID | None = None,
) -> list[tuple[DeveloperRow, int]]:
    """Live developers by name; ``search`` matches a name, email or login of any alias,
    ``only`` (e.g. a team's members) restricts to those ids, ``after`` continues after
    that developer (by name, then id)."""
    counts = (
        sa.select(aliases.c.developer_id, sa.func.count().label("n"))
        .where(aliases.c.tenant_id == tenant_id)
        .group_by(aliases.c.developer_id)
        .subquery()
    )
    query = (
        sa.select(developers, sa.func.coalesce(counts.c.n, 0).label("alias_count"))
        .outerjoin(counts, counts.c.developer_id == developers.c.id)
        .where(developers.c.tenant_id == tenant_id, developers.c.merged_into.is_(None))
        .order_by(developers.c.display_name, developers.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(_after_row(developers, developers.c.display_name, after))
    if not include_bots:
        query = query.where(developers.c.is_bot.is_(False))
    if only is not None:
        query = query.where(developers.c.id.in_(only))
    if search:
        like = (
            "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        matching = sa.select(aliases.c.developer_id).where(
            aliases.c.tenant_id == tenant_id,
            sa.or_(
                sa.func.lower(aliases.c.display_name).like(like, escape="\\"),
                sa.func.lower(aliases.c.email).like(like, escape="\\"),
                sa.func.lower(aliases.c.login).like(like, escape="\\"),
            ),
        )
        query = query.where(
            sa.or_(
                developers.c.id.in_(matching),
                sa.func.lower(developers.c.display_name).like(like, escape="\\"),
            )
        )
    rows = await session.execute(query)
    return [(_developer(r), int(r["alias_count"])) for r in rows.mappings()]


async def get_developer(
    session: AsyncSession, tenant_id: UUID, developer_id: UUID
) -> DeveloperRow | None:
    """The developer, merged away or not (see ``merged_into``)."""
    row = (
        (
            await session.execute(
                sa.select(developers).where(
                    developers.c.tenant_id == tenant_id, developers.c.id == developer_id
                )
            )
        )
        .mappings()
        .first()
    )
    return _developer(row) if row else None


async def aliases_of(session: AsyncSession, tenant_id: UUID, developer_id: UUID) -> list[AliasRow]:
    return await _aliases_where(
        session, tenant_id, aliases.c.tenant_id == tenant_id, aliases.c.developer_id == developer_id
    )


async def aliases_placed_by_name(session: AsyncSession, tenant_id: UUID) -> list[AliasRow]:
    """The aliases a name link placed (scored below an identifier's 1.0), oldest first."""
    return await _aliases_where(
        session, tenant_id, aliases.c.tenant_id == tenant_id, aliases.c.placed_score < 1.0
    )


async def aliases_to_revisit(
    session: AsyncSession, tenant_id: UUID, developer_ids: Sequence[UUID]
) -> list[AliasRow]:
    """In one statement, oldest first and without their keys: every alias of a developer
    holding an alias a name link placed (scored below an identifier's 1.0), and of
    ``developer_ids``. A revisit weighs each placed alias against its developer's others."""
    placing = sa.select(aliases.c.developer_id).where(
        aliases.c.tenant_id == tenant_id, aliases.c.placed_score < 1.0
    )
    rows = await session.execute(
        sa.select(aliases)
        .where(
            aliases.c.tenant_id == tenant_id,
            sa.or_(aliases.c.developer_id.in_(placing), aliases.c.developer_id.in_(developer_ids)),
        )
        .order_by(aliases.c.first_seen_at, aliases.c.id)
    )
    return [_alias(r, []) for r in rows.mappings()]


async def _aliases_where(
    session: AsyncSession, tenant_id: UUID, *where: sa.ColumnElement[bool]
) -> list[AliasRow]:
    rows = (
        (
            await session.execute(
                sa.select(aliases).where(*where).order_by(aliases.c.first_seen_at, aliases.c.id)
            )
        )
        .mappings()
        .all()
    )
    keys: dict[UUID, list[tuple[str, float, str]]] = {r["id"]: [] for r in rows}
    if rows:
        for k in await session.execute(
            sa.select(alias_keys)
            .where(alias_keys.c.tenant_id == tenant_id, alias_keys.c.alias_id.in_(list(keys)))
            .order_by(alias_keys.c.key)
        ):
            keys[k.alias_id].append((k.key, k.score, k.rule))
    return [_alias(r, keys[r["id"]]) for r in rows]


# shared addresses ----------------------------------------------------------------------

_NAMES_AT_ADDRESS = (
    "WITH added AS ("  # noqa: S608 (schema: a constant identifier)
    f"  INSERT INTO {SCHEMA}.address_names (tenant_id, address, name) VALUES ($1, $2, $3)"
    "  ON CONFLICT DO NOTHING RETURNING name"
    f") SELECT name, false AS new FROM {SCHEMA}.address_names"
    "  WHERE tenant_id = $1 AND address = $2"
    " UNION ALL SELECT name, true FROM added"
)


async def names_at_address(
    session: AsyncSession, tenant_id: UUID, address: str, name: str
) -> tuple[set[str], bool]:
    """Record that ``address`` was seen under ``name``, in one round trip: the names it was
    seen under, this one included, and whether this one is new. Called under the address's
    key lock (attribution takes it first), so two aliases of one address count in turn."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_NAMES_AT_ADDRESS, tenant_id, address, name)
    return {r["name"] for r in rows}, any(r["new"] for r in rows)


@dataclass(frozen=True)
class AddressAlias:
    """An alias stored with an address key, and the live developer holding it."""

    alias_id: UUID
    developer_id: UUID
    locked: bool
    display_name: str | None


async def aliases_at_address(
    session: AsyncSession, tenant_id: UUID, key: str
) -> list[AddressAlias]:
    """The aliases holding the key ``email:<address>``, oldest first, with their live
    developers."""
    query = (
        sa.select(
            aliases.c.id,
            developers.c.id.label("developer_id"),
            developers.c.locked,
            aliases.c.display_name,
        )
        .select_from(
            alias_keys.join(
                aliases,
                sa.and_(
                    aliases.c.tenant_id == alias_keys.c.tenant_id,
                    aliases.c.id == alias_keys.c.alias_id,
                ),
            ).join(
                developers,
                sa.and_(
                    developers.c.tenant_id == aliases.c.tenant_id,
                    developers.c.id == aliases.c.developer_id,
                ),
            )
        )
        .where(alias_keys.c.tenant_id == tenant_id, alias_keys.c.key == key)
        .order_by(aliases.c.first_seen_at, aliases.c.id)
    )
    rows = (await session.execute(query)).mappings()
    return [AddressAlias(r["id"], r["developer_id"], r["locked"], r["display_name"]) for r in rows]


# the revisit's schedule ----------------------------------------------------------------


async def tenant_seen(session: AsyncSession, tenant_id: UUID) -> None:
    """Note the tenant for the automatic revisit's schedule: a plain insert that never
    waits (:func:`revisit_schedule` moves it to the schedule)."""
    await session.execute(tenants_seen.insert().values(tenant_id=tenant_id))


async def register_for_revisits(session: AsyncSession, tenant_id: UUID) -> None:
    """Put the tenant on the automatic revisit's schedule (nothing when it is on it)."""
    await session.execute(insert(revisits).values(tenant_id=tenant_id).on_conflict_do_nothing())


async def revisit_schedule(session: AsyncSession) -> list[UUID]:
    """Every tenant on the schedule, the tenants seen since the last look moved onto it
    (read across tenants: neither table has RLS)."""
    await session.execute(
        sa.text(
            f"WITH moved AS (DELETE FROM {SCHEMA}.tenants_seen RETURNING tenant_id) "  # noqa: S608 (schema: a constant identifier)
            f"INSERT INTO {SCHEMA}.revisits (tenant_id) SELECT DISTINCT tenant_id FROM moved "
            "ON CONFLICT DO NOTHING"
        )
    )
    rows = await session.execute(sa.select(revisits.c.tenant_id).order_by(revisits.c.tenant_id))
    return list(rows.scalars())


async def hold_revisit(session: AsyncSession, tenant_id: UUID, *, wait: bool) -> int | None:
    """Hold the tenant's schedule row until this transaction ends, so one revisit of a
    tenant runs at a time over every replica (the row lock is the lease: it ends with the
    transaction, even one whose replica died). The names counted at its last revisit; None
    when another transaction holds it and ``wait`` is False. Taken before the tenant's
    resolution lock, always."""
    await register_for_revisits(session, tenant_id)
    query = sa.select(revisits.c.names_then).where(revisits.c.tenant_id == tenant_id)
    query = query.with_for_update() if wait else query.with_for_update(skip_locked=True)
    names: int | None = (await session.execute(query)).scalar()
    return names


async def revisited(session: AsyncSession, tenant_id: UUID, names: int, at: datetime) -> None:
    """Record a revisit: the names it weighed the links against (the next one's baseline)."""
    await session.execute(
        revisits.update()
        .where(revisits.c.tenant_id == tenant_id)
        .values(names_then=names, revisited_at=at)
    )


async def names_counted(session: AsyncSession, tenant_id: UUID) -> int:
    """The tenant's distinct names (the population total, summed over its shards)."""
    return population_of(await name_counts(session, tenant_id, TOTAL_SHARDS)).names


# merge suggestions ---------------------------------------------------------------------


async def add_suggestion(session: AsyncSession, tenant_id: UUID, row: SuggestionRow) -> None:
    await session.execute(
        merge_suggestions.insert().values(
            tenant_id=tenant_id,
            id=row.id,
            developer_a=row.developer_a,
            developer_b=row.developer_b,
            rule=row.rule,
            score=row.score,
            evidence=row.evidence,
            status=row.status,
            created_at=row.created_at,
            kind=row.kind,
            alias_ids=list(row.alias_ids),
        )
    )


async def add_suggestions(
    session: AsyncSession, tenant_id: UUID, rows: Sequence[SuggestionRow]
) -> None:
    """Store suggestions in one statement (a revisit's)."""
    if not rows:
        return
    await session.execute(
        merge_suggestions.insert(),
        [
            {
                "tenant_id": tenant_id,
                "id": r.id,
                "developer_a": r.developer_a,
                "developer_b": r.developer_b,
                "rule": r.rule,
                "score": r.score,
                "evidence": r.evidence,
                "status": r.status,
                "created_at": r.created_at,
                "kind": r.kind,
                "alias_ids": list(r.alias_ids),
            }
            for r in rows
        ],
    )


async def list_suggestions(
    session: AsyncSession,
    tenant_id: UUID,
    status: str | None,
    limit: int,
    after: UUID | None = None,
) -> list[SuggestionRow]:
    """Suggestions oldest first; ``after`` continues after that suggestion."""
    query = (
        sa.select(merge_suggestions)
        .where(merge_suggestions.c.tenant_id == tenant_id)
        .order_by(merge_suggestions.c.created_at, merge_suggestions.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(_after_row(merge_suggestions, merge_suggestions.c.created_at, after))
    if status is not None:
        query = query.where(merge_suggestions.c.status == status)
    return [_suggestion(r) for r in (await session.execute(query)).mappings()]


async def get_suggestion(
    session: AsyncSession, tenant_id: UUID, suggestion_id: UUID
) -> SuggestionRow | None:
    row = (
        (
            await session.execute(
                sa.select(merge_suggestions).where(
                    merge_suggestions.c.tenant_id == tenant_id,
                    merge_suggestions.c.id == suggestion_id,
                )
            )
        )
        .mappings()
        .first()
    )
    return _suggestion(row) if row else None


async def rescore_suggestions(
    session: AsyncSession, tenant_id: UUID, scores: Sequence[tuple[UUID, float, list[str]]]
) -> None:
    """Give suggestions (id, score, evidence) today's score and evidence, in one statement."""
    if not scores:
        return
    await session.execute(
        sa.text(
            f"UPDATE {SCHEMA}.merge_suggestions AS s SET score = u.score, evidence = CAST(u.evidence AS jsonb) "  # noqa: S608 (schema: a constant identifier)
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:scores AS float8[]), "
            "CAST(:evidence AS text[])) AS u(id, score, evidence) "
            "WHERE s.tenant_id = :tenant AND s.id = u.id"
        ),
        {
            "tenant": tenant_id,
            "ids": [i for i, _, _ in scores],
            "scores": [score for _, score, _ in scores],
            "evidence": [json.dumps(e) for _, _, e in scores],
        },
    )


async def decide_suggestion(
    session: AsyncSession,
    tenant_id: UUID,
    suggestion_id: UUID,
    *,
    status: str,
    decided_by: str,
    at: datetime,
) -> None:
    await session.execute(
        merge_suggestions.update()
        .where(merge_suggestions.c.tenant_id == tenant_id, merge_suggestions.c.id == suggestion_id)
        .values(status=status, decided_by=decided_by, decided_at=at)
    )


# teams ---------------------------------------------------------------------------------


async def add_team(session: AsyncSession, tenant_id: UUID, row: TeamRow) -> bool:
    """Store a team; False when a live team of the tenant already has its name."""
    stored = await session.scalar(
        insert(teams)
        .values(tenant_id=tenant_id, id=row.id, name=row.name, created_at=row.created_at)
        .on_conflict_do_nothing(
            index_elements=[teams.c.tenant_id, teams.c.name],
            index_where=teams.c.deleted_at.is_(None),
        )
        .returning(teams.c.id)
    )
    return stored is not None


async def list_teams(
    session: AsyncSession,
    tenant_id: UUID,
    include_deleted: bool,
    limit: int,
    after: UUID | None = None,
) -> list[TeamRow]:
    """Teams by name; ``after`` continues after that team (by name, then id)."""
    query = (
        sa.select(teams)
        .where(teams.c.tenant_id == tenant_id)
        .order_by(teams.c.name, teams.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(_after_row(teams, teams.c.name, after))
    if not include_deleted:
        query = query.where(teams.c.deleted_at.is_(None))
    return [_team(r) for r in (await session.execute(query)).mappings()]


async def get_team(
    session: AsyncSession, tenant_id: UUID, team_id: UUID, *, for_update: bool = False
) -> TeamRow | None:
    """The team; ``for_update`` holds its row so its memberships change one at a time."""
    query = sa.select(teams).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return _team(row) if row else None


async def soft_delete_team(
    session: AsyncSession, tenant_id: UUID, team_id: UUID, at: datetime
) -> None:
    await session.execute(
        teams.update()
        .where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
        .values(deleted_at=at)
    )


async def memberships_of(
    session: AsyncSession, tenant_id: UUID, team_id: UUID, developer_id: UUID
) -> list[tuple[UUID, Span]]:
    """The team memberships of a live developer, through everyone merged into it."""
    within = sa.select(_absorbed(tenant_id, [developer_id]).c.id)
    rows = await session.execute(
        sa.select(
            team_memberships.c.id, team_memberships.c.starts_on, team_memberships.c.ends_on
        ).where(
            team_memberships.c.tenant_id == tenant_id,
            team_memberships.c.team_id == team_id,
            team_memberships.c.developer_id.in_(within),
        )
    )
    return [(mid, Span(starts, ends)) for mid, starts, ends in rows]


async def add_membership(
    session: AsyncSession, tenant_id: UUID, row: MembershipRow, at: datetime
) -> None:
    await session.execute(
        team_memberships.insert().values(
            tenant_id=tenant_id,
            id=row.id,
            team_id=row.team_id,
            developer_id=row.developer_id,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            created_at=at,
        )
    )


async def team_memberships_on(
    session: AsyncSession, tenant_id: UUID, team_id: UUID, on: date | None
) -> list[MembershipRow]:
    """The team's memberships covering day ``on`` (every one when None)."""
    query = (
        sa.select(team_memberships)
        .where(team_memberships.c.tenant_id == tenant_id, team_memberships.c.team_id == team_id)
        .order_by(team_memberships.c.starts_on, team_memberships.c.id)
    )
    if on is not None:
        query = query.where(
            team_memberships.c.starts_on <= on,
            sa.or_(team_memberships.c.ends_on.is_(None), team_memberships.c.ends_on >= on),
        )
    return [
        MembershipRow(
            id=r["id"],
            team_id=r["team_id"],
            developer_id=r["developer_id"],
            starts_on=r["starts_on"],
            ends_on=r["ends_on"],
        )
        for r in (await session.execute(query)).mappings()
    ]


def _developer(row: sa.RowMapping) -> DeveloperRow:
    return DeveloperRow(
        id=row["id"],
        display_name=row["display_name"],
        is_bot=row["is_bot"],
        locked=row["locked"],
        created_at=row["created_at"],
        merged_into=row["merged_into"],
    )


def _alias(row: sa.RowMapping, keys: list[tuple[str, float, str]]) -> AliasRow:
    return AliasRow(
        id=row["id"],
        developer_id=row["developer_id"],
        kind=row["kind"],
        account_id=row["account_id"],
        login=row["login"],
        email=row["email"],
        display_name=row["display_name"],
        is_bot=row["is_bot"],
        keys=keys,
        placed_by=row["placed_by"],
        placed_score=row["placed_score"],
    )


def _suggestion(row: sa.RowMapping) -> SuggestionRow:
    evidence: Any = row["evidence"]
    return SuggestionRow(
        id=row["id"],
        developer_a=row["developer_a"],
        developer_b=row["developer_b"],
        rule=row["rule"],
        score=row["score"],
        evidence=[str(e) for e in evidence],
        status=row["status"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        kind=row["kind"],
        alias_ids=tuple(row["alias_ids"]),
    )


def _team(row: sa.RowMapping) -> TeamRow:
    return TeamRow(
        id=row["id"], name=row["name"], created_at=row["created_at"], deleted_at=row["deleted_at"]
    )


# user links ----------------------------------------------------------------------------


async def user_of(session: AsyncSession, tenant_id: UUID, developer_id: UUID) -> str | None:
    """The user linked to ``developer_id`` (this very id, not those merged into it)."""
    u = user_links
    return await session.scalar(
        sa.select(u.c.user_id).where(u.c.tenant_id == tenant_id, u.c.developer_id == developer_id)
    )


async def link_user(
    session: AsyncSession,
    tenant_id: UUID,
    developer_id: UUID,
    user_id: str | None,
    by: str,
    at: datetime,
) -> None:
    """``user_id`` is ``developer_id`` from now on (None: the developer has no user); a
    user is one developer and a developer one user, so both earlier links end."""
    u = user_links
    ended = u.c.developer_id == developer_id
    if user_id is not None:
        ended = sa.or_(ended, u.c.user_id == user_id)
    await session.execute(sa.delete(u).where(u.c.tenant_id == tenant_id, ended))
    if user_id is not None:
        await session.execute(
            u.insert().values(
                tenant_id=tenant_id,
                user_id=user_id,
                developer_id=developer_id,
                linked_by=by,
                linked_at=at,
            )
        )
