"""Who may see a developer's history or a team's aggregates (the issue's privacy by role).

A user is linked to at most one developer by a tenant admin in identity
(``PUT /v1/developers/{id}/user``, announced as ``DeveloperUserLinked``); "my teams" are
the teams that developer was ever a member of (memberships read as the developer reads
now, so a merge brings the merged developer's teams along).

- tenant and platform admins: every developer and every team of the tenant;
- managers: their teams' aggregates, and the history of every developer ever in one of them;
- members: their own history and their teams' aggregates;
- partners: neither.

A manager or member without a linked developer sees no developer and no team (403 saying
how to get linked). The tenant's per-developer switch (developer_metrics.py) turns every
history off, whoever asks; team aggregates stay.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import teams
from sextant.runtime.errors import Forbidden
from sextant.runtime.tokens import InternalClaims

SEES_EVERYTHING = frozenset({"tenant_admin", "platform_admin"})
SEES_THEIR_TEAMS = frozenset({"manager", "member"})
UNLINKED = (
    "no developer is linked to your user, so you have no history and no team here; a tenant "
    "admin links one with PUT /v1/developers/{id}/user"
)


async def _own(session: AsyncSession, tenant: UUID, caller: InternalClaims) -> UUID:
    """The caller's developer as it reads now, once their role may see anything at all."""
    if caller.role not in SEES_THEIR_TEAMS:
        raise Forbidden(f"role '{caller.role}' may not see developers' or teams' metrics")
    own = await teams.linked_developer(session, tenant, caller.sub)
    if own is None:
        raise Forbidden(UNLINKED)
    return own


async def check_developer(
    session: AsyncSession, tenant: UUID, caller: InternalClaims, developer_now: UUID
) -> None:
    """403 unless the caller may see ``developer_now``'s history (an id as it reads now)."""
    if caller.role in SEES_EVERYTHING:
        return
    own = await _own(session, tenant, caller)
    if own == developer_now:
        return
    if caller.role == "manager" and await teams.teams_of(
        session, tenant, [own]
    ) & await teams.teams_of(session, tenant, [developer_now]):
        return
    raise Forbidden(
        f"role '{caller.role}' may see only "
        + ("their own history" if caller.role == "member" else "their teams' developers")
    )


async def check_team(
    session: AsyncSession, tenant: UUID, caller: InternalClaims, team_id: UUID
) -> None:
    """403 unless the caller may see the team's aggregates."""
    if caller.role in SEES_EVERYTHING:
        return
    own = await _own(session, tenant, caller)
    if team_id not in await teams.teams_of(session, tenant, [own]):
        raise Forbidden(f"role '{caller.role}' may see only the aggregates of their own teams")
