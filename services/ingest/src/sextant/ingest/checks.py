"""Quality-gate results posted back to the tools (issue #26, "in pipelines"): a GitHub
check run, a GitLab commit status.

Ingest holds the sources' API credentials, so it consumes ``sextant.gates``: each
evaluation is recorded, in the event's transaction, for every GitHub and GitLab source
of the evaluation's workspace that has credentials (:func:`on_gate_evaluated`), which
wakes the posters at its commit (queue_worker.py). A poster per replica
(:class:`CheckRunPoster`) leases due rows, opens the credentials, and — when they list
the repository — posts the result through the egress policy: on GitHub it
creates the check run once (``external_id`` = the evaluation id) and PATCHes that same
check run for every later evaluation of the SHA and environment (a fail turned pass by
a late review); on GitLab it sets the commit status of the same name. Failures are
retried with backoff and jitter, then the row is marked failed with the reason.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.events.platform import GateEvaluated, GateOverridden
from sextant.ingest.backfill import github, gitlab
from sextant.ingest.backfill.api import ApiError
from sextant.ingest.db import check_run_queue
from sextant.ingest.db import checks as repository
from sextant.ingest.db.checks import CheckRunRow
from sextant.ingest.db.repository import get_source
from sextant.ingest.queue_worker import QueueWorker
from sextant.ingest.service import ingest_of, open_sealed
from sextant.ingest.settings import IngestSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.backoff import retry_delay
from sextant.runtime.egress import egress_policy

log = structlog.get_logger()

# GitHub's check-run conclusions and GitLab's commit-status states for each verdict; an
# "unknown" (facts not in yet) is still running, not a pass.
GITHUB_CONCLUSION = {"pass": "success", "warn": "neutral", "fail": "failure"}
GITLAB_STATE = {"pass": "success", "warn": "success", "fail": "failed", "unknown": "pending"}
MAX_SUMMARY = 60_000  # GitHub takes 65,535 characters of output summary


def check_name(environment: str) -> str:
    return f"Sextant gate ({environment})"


def summary_of(gate: GateEvaluated) -> str:
    """Each rule's outcome and reason, one line each (Markdown)."""
    lines = [f"**{gate.verdict}** for {gate.environment} (policy v{gate.policy_version})", ""]
    lines += [f"- `{r.rule}`: **{r.outcome}** — {r.reason}" for r in gate.rules]
    return "\n".join(lines)[:MAX_SUMMARY]


def github_check_run(check: CheckRunRow) -> dict[str, Any]:
    """The check-run body for the row's evaluation (create and update take the same)."""
    body: dict[str, Any] = {
        "name": check_name(check.environment),
        "head_sha": check.sha,
        "external_id": str(check.evaluation_id),
        "output": {"title": _title(check), "summary": check.summary},
    }
    if check.verdict in GITHUB_CONCLUSION:
        body |= {"status": "completed", "conclusion": GITHUB_CONCLUSION[check.verdict]}
    else:
        body["status"] = "in_progress"
    return body


def _title(check: CheckRunRow) -> str:
    overridden = check.summary.startswith("**overridden**")
    return "Gate overridden (break-glass)" if overridden else f"Gate {check.verdict}"


def gitlab_status(check: CheckRunRow) -> dict[str, Any]:
    return {
        "state": GITLAB_STATE[check.verdict],
        "name": check_name(check.environment),
        "description": f"{_title(check)} (evaluation {check.evaluation_id})"[:255],
    }


def lists_repository(kind: str, credentials: dict[str, Any], repository: str) -> bool:
    """Whether the credentials are for the repository (GitHub ``repositories``, GitLab
    ``projects``): a source posts only where it was set up to read."""
    listed = credentials.get("repositories" if kind == "github" else "projects") or []
    return repository.lower() in {str(name).lower() for name in listed}


# the consumer's side ---------------------------------------------------------------------


async def on_gate_evaluated(session: AsyncSession, envelope: Envelope) -> None:
    """Record the evaluation for each posting source of its workspace, due now; a
    break-glass override turns the overridden evaluation's check runs into a pass."""
    if envelope.type == "sextant.gates.overridden.v1":
        override = GateOverridden.model_validate(envelope.data)
        summary = (
            f"**overridden** by {override.overridden_by} (was {override.verdict}): "
            f"{override.reason}"
        )[:MAX_SUMMARY]
        await repository.record_override(
            session, override.evaluation_id, summary, datetime.now(UTC)
        )
        return
    if envelope.type != "sextant.gates.evaluated.v1" or envelope.workspaceid is None:
        return
    gate = GateEvaluated.model_validate(envelope.data)
    now = datetime.now(UTC)
    for source in await repository.posting_sources(session, envelope.workspaceid):
        await repository.record_evaluation(
            session,
            envelope.tenantid,
            source.id,
            repository=gate.repository,
            sha=gate.sha,
            environment=gate.environment,
            evaluation_id=gate.evaluation_id,
            evaluated_at=gate.evaluated_at,
            verdict=gate.verdict,
            summary=summary_of(gate),
            now=now,
        )


# the poster ------------------------------------------------------------------------------


class CheckRunPoster:
    """Posts due check runs; one per replica, started and stopped with ingest."""

    def __init__(self, state: ServiceState, settings: IngestSettings) -> None:
        self.state, self.settings = state, settings
        self.policy = egress_policy(state.settings)
        self.worker = QueueWorker(
            state.db,
            check_run_queue,
            self.post_due,
            listener=ingest_of(state).listener,
            fallback_seconds=settings.check_run_poll_seconds,
        )

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    async def post_due(self) -> int:
        """Post what is due, a few at a time; how many were taken."""
        lease = timedelta(seconds=self.settings.check_run_timeout_seconds + 30)
        async with self.state.db.transaction() as session:
            claimed = await repository.claim_due(session, limit=8, lease=lease)
        await asyncio.gather(*(self.post(check_id, tenant) for check_id, tenant in claimed))
        return len(claimed)

    async def post(self, check_id: UUID, tenant_id: UUID) -> None:
        async with self.state.db.transaction(tenant_id) as session:
            check = await repository.get_check_run(session, check_id)
            source = await get_source(session, check.source_id) if check else None
        if check is None:
            return
        status, ref, error = "skipped", check.external_ref, None
        if source is not None and source.credentials_sealed is not None:
            credentials = json.loads(
                open_sealed(ingest_of(self.state).box, source.credentials_sealed, source)
            )
            if lists_repository(source.kind, credentials, check.repository):
                status, ref, error = await self._send(source.kind, credentials, check)
        retry_at = None
        now = datetime.now(UTC)
        if status == "failed" and check.attempts + 1 < self.settings.check_run_max_attempts:
            wait = retry_delay(
                check.attempts + 1,
                self.settings.check_run_backoff_seconds,
                self.settings.check_run_backoff_cap_seconds,
                random.random(),  # jitter, not a secret
            )
            status, retry_at = "pending", now + timedelta(seconds=wait)
        async with self.state.db.transaction(tenant_id) as session:
            await repository.record_attempt(
                session, check, now, status=status, external_ref=ref, error=error, retry_at=retry_at
            )
        log.info("checks.posted", check_run_id=str(check.id), status=status, verdict=check.verdict)

    async def _send(
        self, kind: str, credentials: dict[str, Any], check: CheckRunRow
    ) -> tuple[str, str | None, str | None]:
        """(status, the check run's id, an error) of one try."""
        options = {"egress": self.policy, "timeout": self.settings.check_run_timeout_seconds}
        api = (github if kind == "github" else gitlab).connect(credentials, **options)
        try:
            if kind == "github":
                base = f"/repos/{check.repository}/check-runs"
                if check.external_ref is None:
                    reply = await api.send("POST", base, github_check_run(check))
                else:
                    reply = await api.send(
                        "PATCH", f"{base}/{check.external_ref}", github_check_run(check)
                    )
            else:
                project = quote(check.repository, safe="")
                path = f"/projects/{project}/statuses/{check.sha}"
                reply = await api.send("POST", path, gitlab_status(check))
        except ApiError as exc:
            return "failed", check.external_ref, str(exc)
        finally:
            await api.close()
        if reply.status_code >= 300:
            return "failed", check.external_ref, f"HTTP {reply.status_code}"
        ref = check.external_ref
        if kind == "github" and ref is None:
            ref = str(reply.json().get("id"))
        return "posted", ref, None


async def start(state: ServiceState) -> None:
    poster = CheckRunPoster(state, IngestSettings())
    state.extras["check_run_poster"] = poster
    await poster.start()


async def stop(state: ServiceState) -> None:
    poster = state.extras.get("check_run_poster")
    if poster is not None:
        await poster.stop()
