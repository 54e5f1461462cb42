"""Identity's HTTP routes (behind the gateway's internal token): developers and the
evidence that links each alias to them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sextant.identity.db import repository
from sextant.runtime.app import Session
from sextant.runtime.errors import InvalidInput, NotFound
from sextant.runtime.tokens import Caller

router = APIRouter(prefix="/v1", tags=["identity"])


class DeveloperSummary(BaseModel):
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    aliases: int


class DeveloperList(BaseModel):
    items: list[DeveloperSummary]


class Evidence(BaseModel):
    key: str = Field(description="what this alias is known by, e.g. email:ada@example.com")
    rule: str
    score: float


class AliasView(BaseModel):
    id: UUID
    kind: str
    account_id: str | None
    login: str | None
    email: str | None
    display_name: str | None
    is_bot: bool
    evidence: list[Evidence]


class DeveloperDetail(BaseModel):
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    aliases: list[AliasView]


def _tenant(caller: Caller) -> None:
    if caller.tid is None:
        raise InvalidInput("developers belong to a tenant; the call names none")


@router.get(
    "/developers", response_model=DeveloperList, summary="Developers (bots hidden by default)"
)
async def list_developers(
    caller: Caller,
    session: Session,
    q: Annotated[
        str | None, Query(max_length=200, description="name, email or login contains")
    ] = None,
    include_bots: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeveloperList:
    _tenant(caller)
    rows = await repository.list_developers(session, q, include_bots, limit)
    return DeveloperList(
        items=[
            DeveloperSummary(
                id=d.id, display_name=d.display_name, is_bot=d.is_bot, locked=d.locked, aliases=n
            )
            for d, n in rows
        ]
    )


@router.get(
    "/developers/{developer_id}",
    response_model=DeveloperDetail,
    summary="A developer, with each alias and its evidence",
)
async def get_developer(developer_id: UUID, caller: Caller, session: Session) -> DeveloperDetail:
    _tenant(caller)
    found = await repository.get_developer(session, developer_id)
    if found is None:
        raise NotFound(f"no developer {developer_id}")
    developer, merged_into = found
    if merged_into is not None:
        raise NotFound(
            f"developer {developer_id} was merged into {merged_into}", merged_into=str(merged_into)
        )
    aliases = await repository.aliases_of(session, developer_id)
    return DeveloperDetail(
        id=developer.id,
        display_name=developer.display_name,
        is_bot=developer.is_bot,
        locked=developer.locked,
        aliases=[
            AliasView(
                id=a.id,
                kind=a.kind,
                account_id=a.account_id,
                login=a.login,
                email=a.email,
                display_name=a.display_name,
                is_bot=a.is_bot,
                evidence=[Evidence(key=k, score=s, rule=r) for k, s, r in a.keys],
            )
            for a in aliases
        ],
    )
