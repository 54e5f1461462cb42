"""The gates' HTTP routes (behind the gateway's internal token): policies per workspace or
view, evaluations of a SHA for an environment, their list, and the break-glass override.

Tenant admins set policies; any tenant role (a CI's partner key included) evaluates and
reads; the roles a policy names override. Every lookup is scoped to the caller's tenant and
the scope's workspaces: another tenant's evaluation answers 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from sextant.insights.gates import db, service
from sextant.insights.gates.schemas import (
    EvaluateRequest,
    Evaluation,
    EvaluationPage,
    OverrideRequest,
    Policy,
    PolicyInput,
)
from sextant.runtime.app import Session, State
from sextant.runtime.errors import NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, next_cursor
from sextant.runtime.scope import ScopeParam
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["gates"])

# A platform admin acts on one tenant through the gateway's /v1/tenants/{id}/… (the
# portal's way in), as with every other service's routes.
Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]
Member = Annotated[
    InternalClaims,
    Depends(caller_with_role("tenant_admin", "platform_admin", "manager", "member", "partner")),
]
Responses = dict[int | str, dict[str, Any]]
BAD_SCOPE: Responses = {400: problem_response("a bad scope, or a cursor this API did not give out")}
INVALID: Responses = {422: problem_response("a field of the wrong type or out of range (named)")}
FORBIDDEN: Responses = {403: problem_response("the caller's role may not do this")}
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


PER_TENANT = "gates belong to a tenant"  # why a call needs a tenant, in its 400


def _change(caller: InternalClaims, state: State) -> service.Change:
    return service.Change(caller.tenant(PER_TENANT), caller.sub, caller.role, state.outbox)


# policies ------------------------------------------------------------------------------


@router.get(
    "/gate-policies",
    response_model=Policy,
    summary="The gate policy of a workspace or view",
    description="The newest version (or ?version=); version 0 is the built-in default "
    "(one approving review, builds green) that applies until a policy is set.",
    responses={**BAD_SCOPE, **FORBIDDEN, 404: problem_response("no such version"), **INVALID},
)
async def get_policy(
    caller: Member,
    session: Session,
    scope: ScopeParam,
    version: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="a stored version; default: newest")
    ] = None,
) -> Policy:
    return await service.current_policy(session, caller.tenant(PER_TENANT), scope, version)


@router.put(
    "/gate-policies",
    response_model=Policy,
    summary="Set the gate policy of a workspace or view (a new version)",
    description="Each PUT stores a new version (earlier ones stay, so every evaluation names "
    "the rules it applied) and is audited. A rule left null is not applied; blocking rules "
    "fail the gate, warn rules only warn.",
    responses={**BAD_SCOPE, **FORBIDDEN, **INVALID},
)
async def put_policy(
    caller: Admin, state: State, session: Session, scope: ScopeParam, policy: PolicyInput
) -> Policy:
    return await service.set_policy(
        session, _change(caller, state), scope, policy, datetime.now(UTC)
    )


# evaluations ---------------------------------------------------------------------------


@router.post(
    "/gates/evaluate",
    response_model=Evaluation,
    summary="Evaluate the gate for a SHA (or a change request) and an environment",
    description="Every rule of the scope's policy with its outcome (pass, warn, fail, unknown "
    "while its facts are not in), reason and the facts behind it, and the verdict. The same "
    "answer under the same policy version is stored once: 201 when new, 200 with the stored "
    "one when the facts have not moved.",
    status_code=201,
    responses={
        200: {"description": "the same answer, stored before", "model": Evaluation},
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such repository, SHA or change request in the scope (named)"),
        **INVALID,
    },
)
async def evaluate(
    caller: Member,
    state: State,
    session: Session,
    scope: ScopeParam,
    asked: EvaluateRequest,
    response: Response,
) -> Evaluation:
    found, new = await service.evaluate(
        session, _change(caller, state), scope, asked, datetime.now(UTC)
    )
    if not new:
        response.status_code = 200
    return found


@router.get(
    "/gates/evaluations",
    response_model=EvaluationPage,
    summary="Stored gate evaluations in a scope: the evidence",
    description="In the order they were made; filter by repository, SHA, environment, verdict. "
    "Page with next_cursor.",
    responses={**BAD_SCOPE, **FORBIDDEN, **INVALID},
)
async def list_evaluations(
    caller: Member,
    session: Session,
    scope: ScopeParam,
    repository: Annotated[
        str | None, Query(max_length=500, pattern=PRINTABLE, description="e.g. octo-org/api")
    ] = None,
    sha: Annotated[
        str | None, Query(pattern=r"^[0-9a-fA-F]{4,64}$", description="a commit SHA")
    ] = None,
    environment: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="e.g. production")
    ] = None,
    verdict: Annotated[
        Literal["pass", "warn", "fail", "unknown"] | None, Query(description="the verdict")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EvaluationPage:
    filters = {
        "repository": repository,
        "sha": None if sha is None else sha.lower(),
        "environment": environment,
        "verdict": verdict,
    }
    rows = await db.list_evaluations(
        session, caller.tenant(PER_TENANT), scope.workspaces, filters, limit, after_id(cursor)
    )
    return EvaluationPage(
        items=[service.view(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )


EvaluationId = Annotated[UUID, Path(description="the evaluation's id, as evaluate gave it")]


@router.get(
    "/gates/evaluations/{evaluation_id}",
    response_model=Evaluation,
    summary="One stored gate evaluation",
    description="Its verdict, every rule with the facts behind it, and any override.",
    responses={
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such evaluation in the scope"),
        **INVALID,
    },
)
async def get_evaluation(
    caller: Member, session: Session, scope: ScopeParam, evaluation_id: EvaluationId
) -> Evaluation:
    row = await db.evaluation(session, caller.tenant(PER_TENANT), scope.workspaces, evaluation_id)
    if row is None:
        raise NotFound(f"no gate evaluation {evaluation_id} in {scope.text}")
    return service.view(row)


@router.post(
    "/gates/evaluations/{evaluation_id}/override",
    response_model=Evaluation,
    summary="Break-glass: let a failed gate through, with a reason",
    description="Only a role the scope's policy names (tenant_admin by default), once per "
    "evaluation, only a fail or unknown verdict. Audited and flagged on the evaluation.",
    responses={
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such evaluation in the scope"),
        409: problem_response("already overridden, or the verdict is not a fail or unknown"),
        **INVALID,
    },
)
async def override(
    caller: Member,
    state: State,
    session: Session,
    scope: ScopeParam,
    evaluation_id: EvaluationId,
    body: OverrideRequest,
) -> Evaluation:
    return await service.override(
        session, _change(caller, state), scope, evaluation_id, body.reason, datetime.now(UTC)
    )
