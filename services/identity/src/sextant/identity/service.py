"""Identity's use cases behind the routes: manual merge, split, move and lock, merge
suggestions confirmed or rejected, teams over time. Routes parse and reply; this module
decides (with :mod:`sextant.identity.domain`); :mod:`sextant.identity.db.repository`
stores.

Every change runs in the request's one transaction, under the tenant's resolution lock
(so it never interleaves with automatic matching), and stages in the same transaction
the identity event that announces it and a ``config.changed`` event for the gateway's
audit log.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import EventModel, uuid7
from sextant.contracts.events.common import Actor
from sextant.contracts.events.platform import (
    AliasMoved,
    DeveloperCreated,
    DeveloperLockChanged,
    DevelopersMerged,
    DeveloperSplit,
    DeveloperUserLinked,
    TeamCreated,
    TeamDeleted,
    TeamMembershipChanged,
)
from sextant.identity.attribution import KNOWN, announcement, population_tokens
from sextant.identity.db import repository
from sextant.identity.db.repository import (
    AliasRow,
    DeveloperRow,
    MembershipRow,
    SuggestionRow,
    TeamRow,
)
from sextant.identity.domain.evidence import AliasFacts, NamePopulation, best_name_link
from sextant.identity.domain.history import Span, first_overlap, restored_by_split
from sextant.identity.domain.keys import AUTO_MERGE_SCORE, keys_for
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import Conflict, Gone, InvalidInput, NotFound
from sextant.runtime.outbox import Outbox

log = structlog.get_logger()


@dataclass(frozen=True)
class Change:
    """Who changes what: the caller's tenant and subject, and the outbox to announce it."""

    tenant: UUID
    actor: str
    outbox: Outbox


# developers ----------------------------------------------------------------------------


async def live_developer(session: AsyncSession, tenant: UUID, developer_id: UUID) -> DeveloperRow:
    """The developer, live; 404 when unknown to this tenant, 409 when merged away."""
    developer = await repository.get_developer(session, tenant, developer_id)
    if developer is None:
        raise NotFound(f"no developer {developer_id}")
    if developer.merged_into is not None:
        raise Conflict(
            f"developer {developer_id} was merged into {developer.merged_into}",
            merged_into=str(developer.merged_into),
        )
    return developer


# The merges a developer's detail shows; the rest are paged (GET /v1/developers/{id}/merges).
DETAIL_MERGES = 20


async def developer_with_aliases(
    session: AsyncSession, tenant: UUID, developer_id: UUID
) -> tuple[DeveloperRow, list[AliasRow], list[repository.MergeRow]]:
    """The live developer, its aliases (each with the link that placed it) and the first
    :data:`DETAIL_MERGES` merges that brought them together; 404 naming the survivor for a
    merged-away developer."""
    developer = await live_for_read(session, tenant, developer_id)
    return (
        developer,
        await repository.aliases_of(session, tenant, developer_id),
        await repository.merges_behind(session, tenant, developer_id, DETAIL_MERGES),
    )


async def merges_of(
    session: AsyncSession, tenant: UUID, developer_id: UUID, limit: int, after: UUID | None
) -> list[repository.MergeRow]:
    """A page of the merges behind a live developer (404 as :func:`developer_with_aliases`)."""
    await live_for_read(session, tenant, developer_id)
    return await repository.merges_behind(session, tenant, developer_id, limit, after)


async def live_for_read(session: AsyncSession, tenant: UUID, developer_id: UUID) -> DeveloperRow:
    """The developer, or 404 (naming the survivor when it was merged away)."""
    developer = await repository.get_developer(session, tenant, developer_id)
    if developer is None:
        raise NotFound(f"no developer {developer_id}")
    if developer.merged_into is not None:
        raise NotFound(
            f"developer {developer_id} was merged into {developer.merged_into}",
            merged_into=str(developer.merged_into),
        )
    return developer


async def merge(
    session: AsyncSession, change: Change, survivor_id: UUID, merged_ids: list[UUID]
) -> UUID:
    """Merge ``merged_ids`` into ``survivor_id`` (a person's decision: locks do not apply)."""
    if len(set(merged_ids)) != len(merged_ids):
        raise InvalidInput("merged_ids names a developer twice")
    if survivor_id in merged_ids:
        raise InvalidInput("a developer cannot be merged into itself")
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    survivor = await live_developer(session, tenant, survivor_id)
    merged = [await live_developer(session, tenant, m) for m in merged_ids]
    before = {
        "survivor": await _describe(session, tenant, survivor),
        "merged": [await _describe(session, tenant, m) for m in merged],
    }
    now = _now()
    await repository.merge_into(
        session,
        tenant,
        survivor_id,
        merged_ids,
        rule="manual",
        score=None,
        actor=change.actor,
        at=now,
    )
    await _announce(
        session,
        change,
        DevelopersMerged(
            survivor_id=survivor_id, merged_ids=merged_ids, rule="manual", actor=change.actor
        ),
        f"developer:{survivor_id}",
    )
    after = {"survivor": await _describe(session, tenant, survivor)}
    await _audit(session, change, "identity.merge", "developer", survivor_id, before, after)
    # The cache stays warm: an entry naming a merged-away developer is still right (every
    # consumer follows developers.merged to the survivor); only splits and moves forget.
    log.info("developers.merged", survivor=str(survivor_id), merged=len(merged_ids), rule="manual")
    return survivor_id


async def split(
    session: AsyncSession, change: Change, developer_id: UUID, alias_ids: list[UUID]
) -> tuple[UUID, bool]:
    """Move ``alias_ids`` out of a developer: into the developer they came from when a
    merge brought exactly these aliases in (restored, same id), else into a new one.
    Returns (the other developer, restored)."""
    if len(set(alias_ids)) != len(alias_ids):
        raise InvalidInput("alias_ids names an alias twice")
    await repository.lock_tenant_resolution(session, change.tenant)
    done = await _split_out(session, change, developer_id, alias_ids)
    await _audit(
        session, change, "identity.split", "developer", developer_id, done.before, done.after
    )
    return done.other, done.restored


@dataclass(frozen=True)
class _Split:
    other: UUID  # the developer the aliases went to
    restored: bool  # revived (a merge brought exactly them), not new
    before: dict[str, Any]  # the developer split, as the audit log records it
    after: dict[str, Any]


async def _split_out(
    session: AsyncSession, change: Change, developer_id: UUID, alias_ids: list[UUID]
) -> _Split:
    """:func:`split` without its audit entry, so a confirmed split suggestion is audited
    once, as the confirmation (under the tenant's resolution lock, taken by the caller)."""
    tenant = change.tenant
    developer = await live_developer(session, tenant, developer_id)
    held = set(await repository.alias_ids_of(session, tenant, developer_id))
    foreign = [a for a in alias_ids if a not in held]
    if foreign:
        raise NotFound(
            f"developer {developer_id} has no alias {foreign[0]}", alias_id=str(foreign[0])
        )
    if set(alias_ids) == held:
        raise InvalidInput("a split must leave the developer at least one alias")
    before = {"developer": await _describe(session, tenant, developer)}
    now = _now()
    restored = restored_by_split(
        await repository.past_merges_into(session, tenant, developer_id), alias_ids
    )
    if restored is not None:
        await repository.revive(session, tenant, restored)
        other = restored
    else:
        split_off = [
            a
            for a in await repository.aliases_of(session, tenant, developer_id)
            if a.id in alias_ids
        ]
        first = split_off[0]
        new = DeveloperRow(
            uuid7(),
            first.display_name or first.login,
            all(a.is_bot for a in split_off),
            False,
            now,
        )
        await repository.add_developer(session, tenant, new)
        await _announce(
            session,
            change,
            DeveloperCreated(developer_id=new.id, display_name=new.display_name, is_bot=new.is_bot),
            f"developer:{new.id}",
        )
        other = new.id
    await repository.move_aliases(
        session,
        tenant,
        alias_ids,
        other,
        f"split off by {change.actor} from developer {developer_id}",
    )
    # A person said these are two people: automatic matching must not join them again.
    await repository.add_separation(
        session, tenant, (developer_id, other), reason="split", decided_by=change.actor, at=now
    )
    await _announce(
        session,
        change,
        DeveloperSplit(
            from_developer_id=developer_id,
            new_developer_id=other,
            alias_ids=alias_ids,
            actor=change.actor,
        ),
        f"developer:{developer_id}",
    )
    other_row = await live_developer(session, tenant, other)
    after = {
        "developer": await _describe(session, tenant, developer),
        "new_developer": await _describe(session, tenant, other_row),
        "restored": restored is not None,
    }
    KNOWN.forget_after_commit(session, tenant)
    log.info(
        "developer.split",
        developer=str(developer_id),
        aliases=len(alias_ids),
        restored=restored is not None,
    )
    return _Split(other, restored is not None, before, after)


async def move_alias(
    session: AsyncSession, change: Change, alias_id: UUID, to_developer_id: UUID
) -> UUID:
    """Move one alias to another developer; returns the developer it left."""
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    alias = await repository.alias_by_id(session, tenant, alias_id)
    if alias is None:
        raise NotFound(f"no alias {alias_id}")
    await live_developer(session, tenant, to_developer_id)
    source = alias.developer_id
    if source == to_developer_id:
        raise InvalidInput(f"alias {alias_id} already belongs to developer {to_developer_id}")
    if len(await repository.alias_ids_of(session, tenant, source)) == 1:
        raise Conflict(
            f"alias {alias_id} is the last alias of developer {source}: merge the developers instead"
        )
    await repository.move_aliases(
        session,
        tenant,
        [alias_id],
        to_developer_id,
        f"moved by {change.actor} from developer {source}",
    )
    now = _now()
    await repository.add_separation(
        session,
        tenant,
        (source, to_developer_id),
        reason="alias moved",
        decided_by=change.actor,
        at=now,
    )
    await _announce(
        session,
        change,
        AliasMoved(
            alias_id=alias_id,
            from_developer_id=source,
            to_developer_id=to_developer_id,
            actor=change.actor,
        ),
        f"developer:{source}",
    )
    await _audit(
        session,
        change,
        "identity.alias.move",
        "alias",
        alias_id,
        {"developer_id": str(source)},
        {"developer_id": str(to_developer_id)},
    )
    KNOWN.forget_after_commit(session, tenant)
    return source


async def set_lock(
    session: AsyncSession, change: Change, developer_id: UUID, locked: bool
) -> DeveloperRow:
    """Lock or unlock a developer against automatic changes (no event when unchanged)."""
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    developer = await live_developer(session, tenant, developer_id)
    if developer.locked == locked:
        return developer
    await repository.set_locked(session, tenant, developer_id, locked)
    await _announce(
        session,
        change,
        DeveloperLockChanged(developer_id=developer_id, locked=locked, actor=change.actor),
        f"developer:{developer_id}",
    )
    await _audit(
        session,
        change,
        "identity.lock" if locked else "identity.unlock",
        "developer",
        developer_id,
        {"locked": developer.locked},
        {"locked": locked},
    )
    return await live_developer(session, tenant, developer_id)


async def link_user(
    session: AsyncSession, change: Change, developer_id: UUID, user_id: str | None
) -> str | None:
    """Link a user (the gateway's token subject) to a live developer, or unlink it (None);
    announced so insights shows the user their own history and teams, and audited. Returns
    the user linked before (no event when unchanged)."""
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    await live_developer(session, tenant, developer_id)
    before = await repository.user_of(session, tenant, developer_id)
    if before == user_id:
        return before
    await repository.link_user(session, tenant, developer_id, user_id, change.actor, _now())
    await _announce(
        session,
        change,
        DeveloperUserLinked(
            developer_id=developer_id,
            user_id=user_id,
            previous_user_id=before,
            actor=change.actor,
        ),
        f"developer:{developer_id}",
    )
    await _audit(
        session,
        change,
        "identity.developer.user.link" if user_id else "identity.developer.user.unlink",
        "developer",
        developer_id,
        {"user_id": before},
        {"user_id": user_id},
    )
    return before


# merge suggestions ---------------------------------------------------------------------


async def suggestion_views(
    session: AsyncSession, tenant: UUID, status: str | None, limit: int, after: UUID | None
) -> list[tuple[SuggestionRow, list[UUID]]]:
    """Suggestions with their two developers as they are now (merges followed)."""
    rows = await repository.list_suggestions(session, tenant, status, limit, after)
    live = await repository.live_ids(
        session, tenant, sorted({d for r in rows for d in (r.developer_a, r.developer_b)})
    )
    return [
        (r, [live.get(r.developer_a, r.developer_a), live.get(r.developer_b, r.developer_b)])
        for r in rows
    ]


async def _pending(session: AsyncSession, tenant: UUID, suggestion_id: UUID) -> SuggestionRow:
    suggestion = await repository.get_suggestion(session, tenant, suggestion_id)
    if suggestion is None:
        raise NotFound(f"no merge suggestion {suggestion_id}")
    if suggestion.status != "pending":
        raise Conflict(
            f"merge suggestion {suggestion_id} was already {suggestion.status}",
            decided=suggestion.status,
        )
    return suggestion


async def confirm_suggestion(session: AsyncSession, change: Change, suggestion_id: UUID) -> UUID:
    """Merge the suggested pair (the older developer survives); returns the survivor. A
    split suggestion moves its aliases out instead; returns the developer split."""
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    suggestion = await _pending(session, tenant, suggestion_id)
    if suggestion.kind == "split":
        return await _confirm_split(session, change, suggestion)
    live = await repository.live_ids(
        session, tenant, [suggestion.developer_a, suggestion.developer_b]
    )
    pair = sorted(
        (await repository.developers_by_id(session, tenant, sorted(set(live.values())))).values(),
        key=lambda d: (d.created_at, d.id),
    )
    now = _now()
    survivor = pair[0].id
    if len(pair) > 1:
        merged = [d.id for d in pair[1:]]
        await repository.merge_into(
            session,
            tenant,
            survivor,
            merged,
            rule=suggestion.rule,
            score=suggestion.score,
            actor=change.actor,
            at=now,
        )
        await _announce(
            session,
            change,
            DevelopersMerged(
                survivor_id=survivor,
                merged_ids=merged,
                rule=suggestion.rule,
                score=suggestion.score,
                actor=change.actor,
            ),
            f"developer:{survivor}",
        )
    await repository.decide_suggestion(
        session, tenant, suggestion_id, status="confirmed", decided_by=change.actor, at=now
    )
    await _audit(
        session,
        change,
        "identity.merge_suggestion.confirm",
        "merge_suggestion",
        suggestion_id,
        {"status": "pending", "developer_ids": [str(d.id) for d in pair]},
        {"status": "confirmed", "survivor_id": str(survivor)},
    )
    return survivor


async def _confirm_split(session: AsyncSession, change: Change, suggestion: SuggestionRow) -> UUID:
    """Move the suggested aliases out of the developer holding them now (:func:`split`)."""
    tenant = change.tenant
    live = await repository.live_ids(session, tenant, [suggestion.developer_a])
    developer = live.get(suggestion.developer_a, suggestion.developer_a)
    held = set(await repository.alias_ids_of(session, tenant, developer))
    moving = [a for a in suggestion.alias_ids if a in held]
    if not moving or set(moving) == held:
        raise Conflict(
            f"suggestion {suggestion.id}: its aliases were moved since; split by hand",
            alias_ids=[str(a) for a in suggestion.alias_ids],
        )
    done = await _split_out(session, change, developer, moving)
    await repository.decide_suggestion(
        session, tenant, suggestion.id, status="confirmed", decided_by=change.actor, at=_now()
    )
    # One audit entry: the confirmation, carrying the split it made (before and after).
    await _audit(
        session,
        change,
        "identity.merge_suggestion.confirm",
        "merge_suggestion",
        suggestion.id,
        {"status": "pending", "developer_ids": [str(developer)], **done.before},
        {"status": "confirmed", "alias_ids": [str(a) for a in moving], **done.after},
    )
    return developer


# revisiting early decisions -----------------------------------------------------------

# The rule of a suggestion to split an alias whose name link no longer merges once weighed
# against the tenant's names as they are now.
RESCORED_RULE = "name link re-scored against the tenant's names now: split?"


@dataclass(frozen=True)
class Revisit:
    rescored: int  # pending merge suggestions given today's score and evidence
    suggested: int  # new suggestions to split an alias a name link placed
    names: int  # the tenant's distinct names the links were weighed against


async def revisit(session: AsyncSession, change: Change, trigger: str = "asked") -> Revisit:
    """Weigh again, against the tenant's name population as it is now, the name links
    decided when it was smaller (its first names were judged "among 0 names"): every
    alias a name link placed, and every pending merge suggestion. A placed alias whose
    link now scores below the auto-merge threshold gets a suggestion to split it out,
    announced as a ``MergeSuggested`` of kind "split"; a pending suggestion gets today's
    score and evidence. Nothing is merged or split: a person decides (locked developers
    included). Set-based: a few statements for the whole tenant, whatever its size.
    ``trigger`` says in the audit entry why it ran (asked, or the names' growth)."""
    tenant = change.tenant
    await repository.hold_revisit(session, tenant, wait=True)  # one at a time, first
    await repository.lock_tenant_resolution(session, tenant)
    suggestions = await repository.list_suggestions(session, tenant, None, 100_000)
    # An alias already asked about is not asked again: pending, split, or kept together
    # by a person (a rejected split is never suggested again).
    splitting = {a for s in suggestions if s.kind == "split" for a in s.alias_ids}
    merging = [s for s in suggestions if s.kind == "merge" and s.status == "pending"]
    live = await repository.live_ids(
        session, tenant, sorted({d for s in merging for d in (s.developer_a, s.developer_b)})
    )
    found = await repository.aliases_to_revisit(session, tenant, sorted(set(live.values())))
    held: dict[UUID, list[Actor]] = defaultdict(list)
    for alias in found:
        held[alias.developer_id].append(_actor(alias))
    population = await _population_of(session, tenant, [a for v in held.values() for a in v])
    now = _now()
    splits: list[SuggestionRow] = []
    for alias in found:
        if alias.placed_score is None or alias.placed_score >= 1.0 or alias.id in splitting:
            continue
        mine = _actor(alias)
        others = [a for a in held[alias.developer_id] if a != mine]
        link = best_name_link(mine, others, population)
        if link is None or link.score >= AUTO_MERGE_SCORE:
            continue
        splits.append(
            SuggestionRow(
                id=uuid7(),
                developer_a=alias.developer_id,
                developer_b=alias.developer_id,
                rule=RESCORED_RULE,
                score=link.score,
                evidence=[link.value, f"placed by {alias.placed_by}", *link.evidence],
                status="pending",
                created_at=now,
                kind="split",
                alias_ids=(alias.id,),
            )
        )
    rescored: list[tuple[UUID, float, list[str]]] = []
    for suggestion in merging:
        a = live.get(suggestion.developer_a, suggestion.developer_a)
        b = live.get(suggestion.developer_b, suggestion.developer_b)
        links = [best_name_link(x, held[b], population) for x in held[a]] if a != b else []
        best = max((k for k in links if k is not None), key=lambda k: k.score, default=None)
        if best is not None:
            rescored.append((suggestion.id, best.score, [best.value, *best.evidence]))
    await repository.add_suggestions(session, tenant, splits)
    await repository.rescore_suggestions(session, tenant, rescored)
    await repository.revisited(session, tenant, population.names, now)
    done = Revisit(rescored=len(merging), suggested=len(splits), names=population.names)
    await change.outbox.add_all(
        session,
        [
            *(
                change.outbox.stage(
                    announcement(row), tenant_id=tenant, entity=f"developer:{row.developer_a}"
                )
                for row in splits
            ),
            change.outbox.stage(
                config_change(
                    change.actor,
                    "identity.revisit",
                    ("tenant", tenant),
                    after={**dataclasses.asdict(done), "trigger": trigger},
                ),
                tenant_id=tenant,
                entity=f"tenant:{tenant}",
            ),
        ],
    )
    log.info(
        "identity.revisited",
        suggested=done.suggested,
        rescored=done.rescored,
        names=done.names,
        trigger=trigger,
    )
    return done


def _actor(alias: AliasRow) -> Actor:
    return Actor.model_validate(
        {
            "kind": alias.kind,
            "account_id": alias.account_id,
            "login": alias.login,
            "email": alias.email,
            "display_name": alias.display_name,
            "is_bot": alias.is_bot,
        }
    )


async def _population_of(
    session: AsyncSession, tenant: UUID, actors: list[Actor]
) -> NamePopulation:
    """The tenant's name population as far as these aliases' links need it."""
    tokens = {t for a in actors for t in population_tokens(keys_for(a), AliasFacts.of(a))}
    counts = await repository.name_counts(session, tenant, [*repository.TOTAL_SHARDS, *tokens])
    return repository.population_of(counts)


async def reject_suggestion(session: AsyncSession, change: Change, suggestion_id: UUID) -> None:
    """Keep the pair apart: never suggested, never merged automatically again."""
    tenant = change.tenant
    await repository.lock_tenant_resolution(session, tenant)
    suggestion = await _pending(session, tenant, suggestion_id)
    live = await repository.live_ids(
        session, tenant, [suggestion.developer_a, suggestion.developer_b]
    )
    a = live.get(suggestion.developer_a, suggestion.developer_a)
    b = live.get(suggestion.developer_b, suggestion.developer_b)
    now = _now()
    await repository.decide_suggestion(
        session, tenant, suggestion_id, status="rejected", decided_by=change.actor, at=now
    )
    if a != b:
        await repository.add_separation(
            session, tenant, (a, b), reason="rejected suggestion", decided_by=change.actor, at=now
        )
    await _audit(
        session,
        change,
        "identity.merge_suggestion.reject",
        "merge_suggestion",
        suggestion_id,
        {"status": "pending"},
        {"status": "rejected", "developer_ids": [str(a), str(b)]},
    )


# teams ---------------------------------------------------------------------------------


async def create_team(session: AsyncSession, change: Change, name: str) -> TeamRow:
    name = name.strip()
    if not name:
        raise InvalidInput("a team needs a name")
    team = TeamRow(uuid7(), name, _now(), None)
    if not await repository.add_team(session, change.tenant, team):
        raise Conflict(f"a team named {name!r} already exists")
    await _announce(
        session, change, TeamCreated(team_id=team.id, name=name, actor=change.actor), _team(team.id)
    )
    await _audit(session, change, "identity.team.create", "team", team.id, None, {"name": name})
    return team


async def team_or_error(
    session: AsyncSession, tenant: UUID, team_id: UUID, *, for_update: bool = False
) -> TeamRow:
    """The live team; 404 when unknown to this tenant, 410 when deleted."""
    team = await repository.get_team(session, tenant, team_id, for_update=for_update)
    if team is None:
        raise NotFound(f"no team {team_id}")
    if team.deleted_at is not None:
        raise Gone(f"team {team_id} was deleted")
    return team


async def delete_team(session: AsyncSession, change: Change, team_id: UUID) -> None:
    team = await team_or_error(session, change.tenant, team_id, for_update=True)
    await repository.soft_delete_team(session, change.tenant, team_id, _now())
    await _announce(
        session, change, TeamDeleted(team_id=team_id, actor=change.actor), _team(team_id)
    )
    await _audit(
        session, change, "identity.team.delete", "team", team_id, {"name": team.name}, None
    )


async def add_member(
    session: AsyncSession,
    change: Change,
    team_id: UUID,
    developer_id: UUID,
    starts_on: date,
    ends_on: date | None,
) -> MembershipRow:
    """A developer joins a team for a span of days; overlapping spans of one developer in
    one team are refused (409)."""
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("ends_on is before starts_on")
    tenant = change.tenant
    await team_or_error(session, tenant, team_id, for_update=True)  # one change at a time
    await live_developer(session, tenant, developer_id)
    span = Span(starts_on, ends_on)
    clash = first_overlap(
        await repository.memberships_of(session, tenant, team_id, developer_id), span
    )
    if clash is not None:
        raise Conflict(
            f"developer {developer_id} is already a member of team {team_id} on some of those days",
            membership_id=str(clash),
        )
    membership = MembershipRow(uuid7(), team_id, developer_id, starts_on, ends_on)
    await repository.add_membership(session, tenant, membership, _now())
    await _announce(
        session,
        change,
        TeamMembershipChanged(
            membership_id=membership.id,
            team_id=team_id,
            developer_id=developer_id,
            starts_on=starts_on,
            ends_on=ends_on,
            actor=change.actor,
        ),
        _team(team_id),
    )
    await _audit(
        session,
        change,
        "identity.team.member.add",
        "team",
        team_id,
        None,
        {
            "membership_id": str(membership.id),
            "developer_id": str(developer_id),
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat() if ends_on else None,
        },
    )
    return membership


async def team_members(
    session: AsyncSession, tenant: UUID, team_id: UUID, on: date | None
) -> list[tuple[MembershipRow, DeveloperRow]]:
    """The team's memberships covering ``on`` (all when None), each with the live
    developer it belongs to now."""
    await team_or_error(session, tenant, team_id)
    rows = await repository.team_memberships_on(session, tenant, team_id, on)
    live = await repository.live_ids(session, tenant, sorted({r.developer_id for r in rows}))
    found = await repository.developers_by_id(session, tenant, sorted(set(live.values())))
    return [
        (r, found[live[r.developer_id]])
        for r in rows
        if r.developer_id in live and live[r.developer_id] in found
    ]


def today() -> date:
    return datetime.now(UTC).date()


# the spine of every change -------------------------------------------------------------


async def _describe(session: AsyncSession, tenant: UUID, developer: DeveloperRow) -> dict[str, Any]:
    """A developer as the audit log records it, before or after a change."""
    return {
        "id": str(developer.id),
        "display_name": developer.display_name,
        "locked": developer.locked,
        "alias_ids": sorted(
            str(a) for a in await repository.alias_ids_of(session, tenant, developer.id)
        ),
    }


def _team(team_id: UUID) -> str:
    """A team's events share its key, so a consumer sees its creation, memberships and
    deletion in order."""
    return f"team:{team_id}"


async def _announce(session: AsyncSession, change: Change, event: EventModel, entity: str) -> None:
    await change.outbox.add(session, event, tenant_id=change.tenant, entity=entity)


async def _audit(
    session: AsyncSession,
    change: Change,
    action: str,
    target_type: str,
    target_id: UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Stage the change for the gateway's hash-chained audit log (topic sextant.config)."""
    audited = config_change(
        change.actor, action, (target_type, target_id), before=before, after=after
    )
    await record_change(session, change.outbox, change.tenant, audited)


def _now() -> datetime:
    return datetime.now(UTC)
