"""The gates' use cases behind the routes: set a policy, evaluate a SHA, override a failed
gate. Each runs in the request's one transaction and stages in it what it announces: a
``config.changed`` for the gateway's audit log (a policy set, an override) and the
``sextant.gates`` evidence events for partners."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.contracts.events.platform import (
    GateEvaluated,
    GateOverridden,
    GateRuleResult,
)
from sextant.insights.domain import dora
from sextant.insights.gates import db, rules
from sextant.insights.gates.schemas import (
    EvaluateRequest,
    Evaluation,
    Override,
    Policy,
    PolicyInput,
    PolicyRules,
    RuleView,
)
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import Conflict, Forbidden, NotFound
from sextant.runtime.outbox import Outbox
from sextant.runtime.scope import QueryScope


@dataclass(frozen=True)
class Change:
    """Who acts, in which tenant, and the outbox that announces it."""

    tenant: UUID
    actor: str
    role: str
    outbox: Outbox


# policies ------------------------------------------------------------------------------


def _policy(scope: str, row: Any | None) -> Policy:
    if row is None:
        return Policy(scope=scope, version=0, created_by=None, created_at=None)
    return Policy(
        **PolicyInput.model_validate(row.policy).model_dump(),
        scope=scope,
        version=row.version,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def current_policy(
    session: AsyncSession, tenant: UUID, scope: QueryScope, version: int | None = None
) -> Policy:
    """The scope's newest policy (or one version of it); the built-in default, version 0,
    while none was set. 404 for a version never stored."""
    row = await db.latest_policy(session, tenant, scope.text, version)
    if row is None and version not in (None, 0):
        raise NotFound(f"{scope.text} has no gate policy version {version}")
    return _policy(scope.text, row)


async def set_policy(
    session: AsyncSession, change: Change, scope: QueryScope, policy: PolicyInput, now: datetime
) -> Policy:
    """Store ``policy`` as the scope's next version and audit the change."""
    before = await db.latest_policy(session, change.tenant, scope.text)
    stored = policy.model_dump(mode="json")
    version = await db.add_policy(session, change.tenant, scope.text, stored, change.actor, now)
    audited = config_change(
        change.actor,
        "gates.policy.set",
        ("gate_policy", scope.text),
        before=None if before is None else {"version": before.version, **before.policy},
        after={"version": version, **stored},
    )
    await record_change(session, change.outbox, change.tenant, audited)
    return Policy(
        **policy.model_dump(),
        scope=scope.text,
        version=version,
        created_by=change.actor,
        created_at=now,
    )


# evaluation ----------------------------------------------------------------------------


async def _target(
    session: AsyncSession, tenant: UUID, scope: QueryScope, asked: EvaluateRequest
) -> db.Target:
    """The SHA asked about, or the one the change request stands at; 404 for a repository,
    SHA or change request the scope has not seen."""
    if asked.change_request is not None:
        head = await db.change_head(session, tenant, scope.workspaces, asked.change_request)
        if head is None or head[1] != asked.repository:
            raise NotFound(
                f"no change request {asked.change_request} of {asked.repository} in {scope.text}",
                parameter="change_request",
            )
        workspace, repository, sha = head
        if sha is None:
            raise NotFound(
                f"change request {asked.change_request} has no known head SHA yet",
                parameter="change_request",
            )
        return db.Target(workspace, repository, sha, asked.change_request)
    assert asked.sha is not None
    workspace_id = await db.repository_workspace(
        session, tenant, scope.workspaces, asked.repository
    )
    if workspace_id is None:
        raise NotFound(f"no repository {asked.repository} in {scope.text}", parameter="repository")
    sha = asked.sha.lower()
    change_id = await db.change_request_of_sha(session, tenant, workspace_id, asked.repository, sha)
    if change_id is None and not await db.sha_seen(
        session, tenant, workspace_id, asked.repository, sha
    ):
        raise NotFound(f"no commit {sha} seen in {asked.repository}", parameter="sha")
    return db.Target(workspace_id, asked.repository, sha, change_id)


async def rule_results(
    session: AsyncSession,
    tenant: UUID,
    target: db.Target,
    environment: str,
    policy: PolicyRules,
    now: datetime,
) -> list[tuple[rules.RuleResult, bool]]:
    """Every rule the policy turns on, over the facts as they stand: (result, blocking)."""
    change = (
        None
        if target.change_request_id is None
        else await db.change_facts(session, tenant, target.change_request_id)
    )
    results: list[tuple[rules.RuleResult, bool]] = []

    def add(result: rules.RuleResult, blocking: bool) -> None:
        results.append((rules.enforce(result, blocking), blocking))

    if policy.reviews is not None:
        add(
            rules.reviews_rule(change, policy.reviews.minimum),
            policy.reviews.enforcement == "block",
        )
    if policy.work_item is not None:
        add(
            rules.work_item_rule(change, policy.work_item.pattern),
            policy.work_item.enforcement == "block",
        )
    if policy.builds is not None:
        found = await db.builds_of(
            session, tenant, target.workspace_id, target.repository, target.sha
        )
        add(rules.builds_rule(found), policy.builds.enforcement == "block")
    if policy.size is not None:
        add(rules.size_rule(change, policy.size.warn_over_lines), False)
    budget = policy.delivery_budget
    incidents: list[rules.Incident] = []
    if policy.incidents is not None or budget is not None:
        days = budget.window_days if budget is not None else 0
        since = now - timedelta(days=days) - dora.DEFAULT_ATTRIBUTION_WINDOW
        incidents = await db.incidents_since(session, tenant, target.workspace_id, since)
    if policy.incidents is not None:
        add(
            rules.incidents_rule(
                incidents, target.repository, policy.incidents.severity_at_least, now
            ),
            policy.incidents.enforcement == "block",
        )
    if budget is not None:
        definition = dora.DEFINITIONS[budget.definition]
        since = now - timedelta(days=budget.window_days)
        deployed = await db.production_deployments(
            session,
            tenant,
            target.workspace_id,
            target.repository,
            since - definition.attribution_window,
            now,
        )
        add(
            rules.delivery_budget_rule(
                definition,
                deployed,
                [
                    dora.Incident(i.id, target.repository, i.opened_at, i.resolved_at)
                    for i in incidents
                    if rules.same_service(target.repository, i.service)
                ],
                since,
                now,
                budget.max_change_failure_rate,
                budget.max_recovery_hours,
            ),
            budget.enforcement == "block",
        )
    freeze = policy.freeze
    if freeze is not None and (freeze.environments is None or environment in freeze.environments):
        add(rules.freeze_rule([w.as_rule() for w in freeze.windows], now), True)
    return results


def digest(results: list[tuple[rules.RuleResult, bool]]) -> str:
    """What makes two answers the same: every rule's outcome, reason and facts."""
    canonical = [
        [r.rule, r.outcome.value, blocking, r.reason, list(r.facts)] for r, blocking in results
    ]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def view(row: Any) -> Evaluation:
    """An evaluation as stored."""
    override = None
    if row.overridden_at is not None:
        override = Override(by=row.overridden_by, reason=row.override_reason, at=row.overridden_at)
    return Evaluation(
        id=row.id,
        scope=row.scope,
        workspace_id=row.workspace_id,
        repository=row.repository,
        sha=row.sha,
        environment=row.environment,
        change_request_id=row.change_request_id,
        policy_version=row.policy_version,
        verdict=row.verdict,
        rules=[RuleView.model_validate(r) for r in row.rules],
        evaluated_at=row.evaluated_at,
        requested_by=row.requested_by,
        override=override,
    )


async def evaluate(
    session: AsyncSession,
    change: Change,
    scope: QueryScope,
    asked: EvaluateRequest,
    now: datetime,
) -> tuple[Evaluation, bool]:
    """The gate's answer for the SHA: stored and announced when it differs from the
    question's latest answer (or the policy version moved); the latest stored one when the
    facts have not moved. True when new."""
    target = await _target(session, change.tenant, scope, asked)
    policy = await current_policy(session, change.tenant, scope)
    results = await rule_results(
        session, change.tenant, target, asked.environment, policy.rules, now
    )
    views = [
        RuleView(
            rule=r.rule,
            outcome=r.outcome.value,
            enforcement="block" if blocking else "warn",
            reason=r.reason,
            facts=list(r.facts),
        )
        for r, blocking in results
    ]
    values: dict[str, Any] = {
        "tenant_id": change.tenant,
        "id": uuid7(),
        "scope": scope.text,
        "workspace_id": target.workspace_id,
        "repository": target.repository,
        "sha": target.sha,
        "environment": asked.environment,
        "change_request_id": target.change_request_id,
        "policy_version": policy.version,
        "digest": digest(results),
        "verdict": rules.verdict(results).value,
        "rules": [v.model_dump(mode="json") for v in views],
        "evaluated_at": now,
        "requested_by": change.actor,
    }
    row = await db.store_evaluation(session, values)
    if row is None:
        latest = await db.latest_answer(session, values)
        assert latest is not None  # store_evaluation found it, under the question's lock
        return view(latest), False
    stored = view(row)
    await change.outbox.add(
        session,
        GateEvaluated(
            evaluation_id=stored.id,
            scope=stored.scope,
            repository=stored.repository,
            sha=stored.sha,
            environment=stored.environment,
            change_request_id=stored.change_request_id,
            policy_version=stored.policy_version,
            verdict=stored.verdict,
            rules=[GateRuleResult.model_validate(v.model_dump()) for v in views],
            requested_by=stored.requested_by,
            evaluated_at=stored.evaluated_at,
        ),
        tenant_id=change.tenant,
        workspace_id=stored.workspace_id,
        entity=f"gate_evaluation:{stored.id}",
        event_id=stored.id,
    )
    return stored, True


# break-glass ---------------------------------------------------------------------------


async def override(
    session: AsyncSession,
    change: Change,
    scope: QueryScope,
    evaluation_id: UUID,
    reason: str,
    now: datetime,
) -> Evaluation:
    """Let a failed (or not yet decidable) gate through: only a role the scope's policy
    names, only once, audited and announced."""
    row = await db.evaluation(session, change.tenant, scope.workspaces, evaluation_id)
    if row is None:
        raise NotFound(f"no gate evaluation {evaluation_id} in {scope.text}")
    policy = await current_policy(session, change.tenant, QueryScope(row.scope, scope.workspaces))
    if change.role not in policy.override_roles:
        raise Forbidden(
            f"role '{change.role}' may not override a gate here; the policy of {row.scope} "
            f"allows: {', '.join(policy.override_roles)}"
        )
    if row.verdict not in ("fail", "unknown"):
        raise Conflict(f"the gate's verdict is {row.verdict}: only a fail or unknown is overridden")
    updated = await db.record_override(
        session, change.tenant, evaluation_id, change.actor, reason, now
    )
    if updated is None:
        raise Conflict(f"gate evaluation {evaluation_id} was already overridden")
    stored = view(updated)
    overridden = config_change(
        change.actor,
        "gates.override",
        ("gate_evaluation", evaluation_id),
        before={"verdict": stored.verdict, "overridden": False},
        after={"verdict": stored.verdict, "overridden": True, "reason": reason},
    )
    await record_change(session, change.outbox, change.tenant, overridden)
    await change.outbox.add(
        session,
        GateOverridden(
            evaluation_id=evaluation_id,
            repository=stored.repository,
            sha=stored.sha,
            environment=stored.environment,
            verdict=stored.verdict,
            overridden_by=change.actor,
            reason=reason,
            overridden_at=now,
        ),
        tenant_id=change.tenant,
        workspace_id=stored.workspace_id,
        entity=f"gate_evaluation:{evaluation_id}",
    )
    return stored


# re-evaluation from the event stream -------------------------------------------------

REEVALUATOR = "sextant:re-evaluation"
REEVALUATION_HORIZON = timedelta(days=7)


async def held_up(session: AsyncSession, tenant: UUID, workspaces: set[UUID]) -> set[UUID]:
    """Which of ``workspaces`` may have a question :func:`reevaluate` would ask again."""
    since = datetime.now(UTC) - REEVALUATION_HORIZON
    return await db.held_up_workspaces(session, tenant, workspaces, since)


async def reevaluate(
    session: AsyncSession,
    outbox: Outbox,
    tenant: UUID,
    workspace: UUID,
    repository_id: str | None,
    limit: int,
    service: str | None = None,
) -> int:
    """Ask again the questions of the repository still held up (its latest answer a fail
    or an unknown, not overridden, from the last week), now that its facts moved: a review
    approved later turns the fail into a pass without the pipeline asking. At most
    ``limit`` of them, the most recently answered first: a flood of held-up questions
    must not grow a consumer batch's work; the rest are asked when the repository's facts
    next move, or by their pipeline's retry. Given ``service`` instead of a repository (an
    incident opened or resolved on it), the questions of every repository that is that
    service. Runs in the consumer's batch transaction; a new answer is stored and announced
    as any other. Returns how many were asked."""
    if limit <= 0:
        return 0
    now = datetime.now(UTC)
    change = Change(tenant, REEVALUATOR, "system", outbox)
    held_up = await db.awaiting(
        session, tenant, workspace, repository_id, now - REEVALUATION_HORIZON, limit, service
    )
    for row in held_up:
        asked = EvaluateRequest(repository=row.repository, sha=row.sha, environment=row.environment)
        try:
            await evaluate(session, change, QueryScope(row.scope, [workspace]), asked, now)
        except NotFound:
            continue  # the repository's facts were purged since
    return len(held_up)
