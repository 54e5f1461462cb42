"""Identity's HTTP routes (behind the gateway's internal token): developers with the
evidence linking each alias, manual merge/split/move/lock, merge suggestions, teams.

Tenant and platform admins change identities; managers and members read; partners see
no developers. Every lookup is scoped to the caller's tenant: another tenant's id
answers 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.identity import service
from sextant.identity.db import repository
from sextant.identity.db.repository import AliasRow, DeveloperRow, MembershipRow, TeamRow
from sextant.identity.schemas import (
    AliasView,
    DeveloperDetail,
    DeveloperList,
    DeveloperSummary,
    Evidence,
    LockRequest,
    MembershipCreate,
    MembershipList,
    MembershipView,
    MergeList,
    MergeRequest,
    MergeView,
    MoveRequest,
    RevisitReply,
    SplitReply,
    SplitRequest,
    SuggestionList,
    SuggestionView,
    TeamCreate,
    TeamList,
    TeamView,
    UserLink,
    UserLinkView,
)
from sextant.runtime.app import Session, State
from sextant.runtime.errors import problem_response
from sextant.runtime.paging import Cursor, after_id, next_cursor
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["identity"])

Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]
Reader = Annotated[
    InternalClaims,
    Depends(caller_with_role("tenant_admin", "platform_admin", "manager", "member")),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many on the page")]
DeveloperId = Annotated[UUID, Path(description="the developer's id")]
TeamId = Annotated[UUID, Path(description="the team's id")]
Responses = dict[int | str, dict[str, Any]]
# The problems identity's own rules raise, besides the edge's (see the gateway's openapi.py).
MERGED_AWAY: Responses = {
    409: problem_response("a developer named was merged into another (merged_into)")
}
DECIDED: Responses = {409: problem_response("the suggestion was already confirmed or rejected")}
TEAM_GONE: Responses = {410: problem_response("the team was deleted")}


PER_TENANT = "developers belong to a tenant"  # why a call needs a tenant, in its 400


def _change(caller: InternalClaims, state: State) -> service.Change:
    return service.Change(tenant=caller.tenant(PER_TENANT), actor=caller.sub, outbox=state.outbox)


# developers ----------------------------------------------------------------------------


@router.get(
    "/developers",
    response_model=DeveloperList,
    summary="Developers (bots hidden by default)",
    responses=TEAM_GONE,
)
async def list_developers(
    caller: Reader,
    session: Session,
    q: Annotated[
        str | None, Query(max_length=200, description="name, email or login contains")
    ] = None,
    team: Annotated[UUID | None, Query(description="members of this team today")] = None,
    include_bots: Annotated[bool, Query(description="also bots (CI, dependabot...)")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DeveloperList:
    """The tenant's developers, each an identity across tools (GitHub, GitLab, Jira accounts
    linked by evidence), a page at a time; filter by name or team."""
    tenant = caller.tenant(PER_TENANT)
    only = None
    if team is not None:
        members = await service.team_members(session, tenant, team, service.today())
        only = sorted({developer.id for _, developer in members})
    rows = await repository.list_developers(
        session, tenant, q, include_bots, limit, only, after=after_id(cursor)
    )
    return DeveloperList(
        items=[
            DeveloperSummary(
                id=d.id, display_name=d.display_name, is_bot=d.is_bot, locked=d.locked, aliases=n
            )
            for d, n in rows
        ],
        next_cursor=next_cursor(rows, limit, lambda row: row[0].id),
    )


@router.post(
    "/developers/merge",
    response_model=DeveloperDetail,
    summary="Merge developers into one (announced and audited)",
    responses=MERGED_AWAY,
)
async def merge_developers(
    body: MergeRequest, caller: Admin, session: Session, state: State
) -> DeveloperDetail:
    """Merges developers a person knows are one: their aliases move to the survivor; the others
    answer 409 with merged_into from then on. Tenant admins only."""
    change = _change(caller, state)
    survivor = await service.merge(session, change, body.survivor_id, body.merged_ids)
    return await _detail(session, change.tenant, survivor)


@router.post(
    "/developers/revisit",
    response_model=RevisitReply,
    summary="Weigh the tenant's name links again against its names as they are now",
)
async def revisit_name_links(caller: Admin, session: Session, state: State) -> RevisitReply:
    """Early name links were judged against few names ("among 0 names seen so far"): each
    alias a name link placed whose link no longer merges becomes a suggestion to split it
    out, and pending merge suggestions get today's score. Nothing is merged or split."""
    done = await service.revisit(session, _change(caller, state))
    return RevisitReply(rescored=done.rescored, suggested=done.suggested)


@router.get(
    "/developers/merge-suggestions",
    response_model=SuggestionList,
    summary="Merge suggestions (links too weak to merge on their own), pending by default",
)
async def list_merge_suggestions(
    caller: Reader,
    session: Session,
    status: Annotated[
        Literal["pending", "confirmed", "rejected", "all"],
        Query(description="only suggestions in this state"),
    ] = "pending",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SuggestionList:
    """Pairs of developers the matching found likely the same but not sure enough to merge,
    with the evidence; confirm or reject each."""
    rows = await service.suggestion_views(
        session,
        caller.tenant(PER_TENANT),
        None if status == "all" else status,
        limit,
        after_id(cursor),
    )
    return SuggestionList(
        items=[
            SuggestionView(
                id=s.id,
                kind=s.kind,
                developer_ids=live,
                alias_ids=list(s.alias_ids),
                rule=s.rule,
                score=s.score,
                evidence=s.evidence,
                status=s.status,
                created_at=s.created_at,
                decided_at=s.decided_at,
                decided_by=s.decided_by,
            )
            for s, live in rows
        ],
        next_cursor=next_cursor(rows, limit, lambda row: row[0].id),
    )


@router.post(
    "/developers/merge-suggestions/{suggestion_id}/confirm",
    response_model=DeveloperDetail,
    summary="Confirm a suggestion: merge the pair (the older developer survives)",
    responses={
        409: problem_response("already decided, or one of the pair was merged into another")
    },
)
async def confirm_merge_suggestion(
    suggestion_id: Annotated[UUID, Path(description="the suggestion's id")],
    caller: Admin,
    session: Session,
    state: State,
) -> DeveloperDetail:
    """Merges a suggested pair, as a manual merge would."""
    change = _change(caller, state)
    survivor = await service.confirm_suggestion(session, change, suggestion_id)
    return await _detail(session, change.tenant, survivor)


@router.post(
    "/developers/merge-suggestions/{suggestion_id}/reject",
    status_code=204,
    summary="Reject a suggestion: the pair is never suggested or merged automatically again",
    responses={204: {"description": "rejected"}, **DECIDED},
)
async def reject_merge_suggestion(
    suggestion_id: Annotated[UUID, Path(description="the suggestion's id")],
    caller: Admin,
    session: Session,
    state: State,
) -> Response:
    """Records that a suggested pair are two people: never suggested or merged automatically
    again."""
    await service.reject_suggestion(session, _change(caller, state), suggestion_id)
    return Response(status_code=204)


@router.post(
    "/developers/aliases/{alias_id}/move",
    response_model=DeveloperDetail,
    summary="Move one alias to another developer (announced and audited)",
    responses=MERGED_AWAY,
)
async def move_alias(
    alias_id: Annotated[UUID, Path(description="the alias's id")],
    body: MoveRequest,
    caller: Admin,
    session: Session,
    state: State,
) -> DeveloperDetail:
    """Moves one alias (an account in one tool) to another developer, when matching put it on
    the wrong person."""
    change = _change(caller, state)
    await service.move_alias(session, change, alias_id, body.to_developer_id)
    return await _detail(session, change.tenant, body.to_developer_id)


@router.get(
    "/developers/{developer_id}",
    response_model=DeveloperDetail,
    summary="A developer, with each alias and its evidence",
)
async def get_developer(
    developer_id: DeveloperId, caller: Reader, session: Session
) -> DeveloperDetail:
    """One developer with every alias and the evidence that linked each; a developer merged
    away answers 404 naming the survivor."""
    return await _detail(session, caller.tenant(PER_TENANT), developer_id)


@router.get(
    "/developers/{developer_id}/merges",
    response_model=MergeList,
    summary="The merges behind a developer, oldest first, a page at a time",
)
async def list_developer_merges(
    developer_id: DeveloperId,
    caller: Reader,
    session: Session,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MergeList:
    """Every merge into the developer or into one merged into it, with the link and evidence
    that made it (its detail shows the first 20); a developer merged away answers 404
    naming the survivor."""
    rows = await service.merges_of(
        session, caller.tenant(PER_TENANT), developer_id, limit, after_id(cursor)
    )
    return MergeList(
        items=[MergeView(**vars(m)) for m in rows],
        next_cursor=next_cursor(rows, limit, lambda m: m.id),
    )


@router.post(
    "/developers/{developer_id}/split",
    response_model=SplitReply,
    summary="Split aliases out into another developer (undoes a merge exactly when it can)",
    responses=MERGED_AWAY,
)
async def split_developer(
    developer_id: DeveloperId, body: SplitRequest, caller: Admin, session: Session, state: State
) -> SplitReply:
    """Moves the given aliases to another developer: the one merged in with exactly those
    aliases, restored under its old id, or a new one."""
    change = _change(caller, state)
    other, restored = await service.split(session, change, developer_id, body.alias_ids)
    return SplitReply(
        developer=await _detail(session, change.tenant, developer_id),
        new_developer=await _detail(session, change.tenant, other),
        restored=restored,
    )


@router.put(
    "/developers/{developer_id}/lock",
    response_model=DeveloperDetail,
    summary="Lock a developer against automatic matching, or unlock it",
    responses=MERGED_AWAY,
)
async def lock_developer(
    developer_id: DeveloperId, body: LockRequest, caller: Admin, session: Session, state: State
) -> DeveloperDetail:
    """Locks a developer so automatic matching never adds or moves its aliases (manual changes
    still do), or unlocks it."""
    change = _change(caller, state)
    await service.set_lock(session, change, developer_id, body.locked)
    return await _detail(session, change.tenant, developer_id)


@router.put(
    "/developers/{developer_id}/user",
    response_model=UserLinkView,
    summary="Link a user to a developer, or unlink it (announced and audited)",
    responses={
        404: problem_response("no such developer in this tenant"),
        **MERGED_AWAY,
    },
)
async def link_user(
    developer_id: DeveloperId, body: UserLink, caller: Admin, session: Session, state: State
) -> UserLinkView:
    """Says which user (the subject of the gateway's tokens) this developer is: insights then
    shows that user their own history and their teams' aggregates. A user is one developer and
    a developer one user: earlier links of either end. Tenant admins only."""
    before = await service.link_user(session, _change(caller, state), developer_id, body.user_id)
    return UserLinkView(developer_id=developer_id, user_id=body.user_id, previous_user_id=before)


# teams ---------------------------------------------------------------------------------


@router.post(
    "/teams",
    status_code=201,
    response_model=TeamView,
    summary="Create a team",
    responses={409: problem_response("a team of that name exists")},
)
async def create_team(body: TeamCreate, caller: Admin, session: Session, state: State) -> TeamView:
    """A team of the tenant, for scoping reports to the people in it. Tenant admins only."""
    return _team(await service.create_team(session, _change(caller, state), body.name))


@router.get("/teams", response_model=TeamList, summary="The tenant's teams")
async def list_teams(
    caller: Reader,
    session: Session,
    include_deleted: Annotated[bool, Query(description="also soft-deleted teams")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> TeamList:
    """The tenant's teams, a page at a time."""
    rows = await repository.list_teams(
        session, caller.tenant(PER_TENANT), include_deleted, limit, after=after_id(cursor)
    )
    return TeamList(
        items=[_team(t) for t in rows], next_cursor=next_cursor(rows, limit, lambda t: t.id)
    )


@router.delete(
    "/teams/{team_id}",
    status_code=204,
    summary="Delete a team (soft)",
    responses={204: {"description": "deleted"}, **TEAM_GONE},
)
async def delete_team(team_id: TeamId, caller: Admin, session: Session, state: State) -> Response:
    """Soft-deletes a team; its memberships stay in the history."""
    await service.delete_team(session, _change(caller, state), team_id)
    return Response(status_code=204)


@router.post(
    "/teams/{team_id}/members",
    status_code=201,
    response_model=MembershipView,
    summary="Add a developer to a team from a day (to a day, inclusive)",
    responses={
        409: problem_response(
            "the developer was merged into another, or is in the team on those days already"
        ),
        **TEAM_GONE,
    },
)
async def add_team_member(
    team_id: TeamId, body: MembershipCreate, caller: Admin, session: Session, state: State
) -> MembershipView:
    """Adds a developer to a team for a span of days; spans of one developer in one team may
    not overlap."""
    change = _change(caller, state)
    membership = await service.add_member(
        session, change, team_id, body.developer_id, body.starts_on, body.ends_on
    )
    developer = await service.live_developer(session, change.tenant, body.developer_id)
    return _membership(membership, developer)


@router.get(
    "/teams/{team_id}/members",
    response_model=MembershipList,
    summary="A team's memberships on a day (every membership when no day is given)",
    responses=TEAM_GONE,
)
async def list_team_members(
    team_id: TeamId,
    caller: Reader,
    session: Session,
    on: Annotated[date | None, Query(description="members on this day (YYYY-MM-DD)")] = None,
) -> MembershipList:
    """Who was in the team on a day, or every membership when no day is given."""
    rows = await service.team_members(session, caller.tenant(PER_TENANT), team_id, on)
    return MembershipList(items=[_membership(m, d) for m, d in rows])


# replies -------------------------------------------------------------------------------


async def _detail(session: AsyncSession, tenant: UUID, developer_id: UUID) -> DeveloperDetail:
    developer, aliases, merges = await service.developer_with_aliases(session, tenant, developer_id)
    return DeveloperDetail(
        id=developer.id,
        display_name=developer.display_name,
        is_bot=developer.is_bot,
        locked=developer.locked,
        aliases=[_alias(a) for a in aliases],
        merges=[MergeView(**vars(m)) for m in merges],
        merges_next_cursor=next_cursor(merges, service.DETAIL_MERGES, lambda m: m.id),
    )


def _alias(a: AliasRow) -> AliasView:
    return AliasView(
        id=a.id,
        kind=a.kind,
        account_id=a.account_id,
        login=a.login,
        email=a.email,
        display_name=a.display_name,
        is_bot=a.is_bot,
        evidence=[Evidence(key=k, score=s, rule=r) for k, s, r in a.keys],
        placed_by=a.placed_by,
        placed_score=a.placed_score,
    )


def _team(t: TeamRow) -> TeamView:
    return TeamView(id=t.id, name=t.name, created_at=t.created_at, deleted=t.deleted_at is not None)


def _membership(m: MembershipRow, developer: DeveloperRow) -> MembershipView:
    return MembershipView(
        id=m.id,
        team_id=m.team_id,
        developer_id=developer.id,
        display_name=developer.display_name,
        starts_on=m.starts_on,
        ends_on=m.ends_on,
    )
