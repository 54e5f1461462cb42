"""The render worker: takes queued reports one at a time, reads what they need from the
other services on the requester's behalf, renders the file, stores it, and says so.

A job is leased from the render queue (sextant.reports.db.render_queue), so replicas share
the work and a worker that dies mid-render leaves the job to another once the lease runs
out. Progress is committed step by step, so ``GET /v1/reports/{id}`` shows it. The last
step writes the job's outcome, the ReportRendered or ReportFailed event and a
NotificationRaised in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from sextant.contracts import uuid7
from sextant.contracts.events.platform import (
    NotificationRaised,
    ReportFailed,
    ReportRendered,
    ReportRequested,
)
from sextant.reports.db import deletions, repository
from sextant.reports.domain.csv import csv_bytes
from sextant.reports.domain.kinds import (
    AuditEvidence,
    Period,
    ReportModel,
    compliance_report,
    developer_trends_report,
    dora_report,
    forecast_report,
    rollup_report,
    sprint_report,
)
from sextant.reports.domain.pdf import Cover, render_pdf
from sextant.reports.rollup import PLATFORM_TENANT, first_ungranted, tenant_figures
from sextant.reports.settings import ReportsSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.calls import OnBehalfOf, PeerCallFailed, PeerCalls
from sextant.runtime.objectstore import ObjectNotFound
from sextant.runtime.tasks import cancel_and_wait
from sextant.runtime.tokens import InternalTokenSigner, load_private_key

log = structlog.get_logger()

READS = ["insights", "forecast", "identity", "gateway"]
AUDIENCE: list[Any] = ["tenant_admin", "manager", "member"]
CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


async def announce_requested(session: Any, outbox: Any, row: sa.Row[Any]) -> None:
    """The ReportRequested event of a job just queued (asked for, retried or scheduled)."""
    await outbox.add(
        session,
        ReportRequested(
            report_id=row.id,
            definition=row.kind,
            format=row.format,
            scope=row.scope,
            requested_by=row.requested_by,
        ),
        tenant_id=row.tenant_id,
        entity=f"report/{row.id}",
    )


class RenderFailed(Exception):
    """A reason to give the requester (the job fails with it, and can be retried)."""


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def fetch_model(calls: PeerCalls, job: sa.Row[Any], on_behalf: OnBehalfOf) -> ReportModel:
    """What the job's kind needs, from the services that own it, as a table model."""
    since, until = Period(job.period_from, job.period_to, job.time_zone).moments()
    window = {"scope": job.scope, "since": utc_text(since), "until": utc_text(until)}
    if job.kind == "dora":
        reply = await calls.get_json("insights", "/v1/metrics/dora", window, on_behalf)
        return dora_report(reply)
    if job.kind == "compliance":
        # The list filters by opening; a change merged in the period opened before its end.
        listed = calls.pages(
            "insights",
            "/v1/change-requests",
            {"scope": job.scope, "state": "merged", "until": window["until"], "limit": "500"},
            on_behalf,
        )
        details = []
        async for change in listed:
            merged_at = datetime.fromisoformat(change["merged_at"])
            if since <= merged_at < until:
                details.append(
                    await calls.get_json(
                        "insights",
                        f"/v1/change-requests/{change['id']}",
                        {"scope": job.scope},
                        on_behalf,
                    )
                )
        deployments = [
            await calls.get_json(
                "insights", f"/v1/deployments/{d['id']}", {"scope": job.scope}, on_behalf
            )
            async for d in calls.pages(
                "insights",
                "/v1/deployments",
                {"production": "true", **window, "limit": "500"},
                on_behalf,
            )
        ]
        evaluations = [
            e
            async for e in calls.pages(
                "insights", "/v1/gates/evaluations", {"scope": job.scope, "limit": "500"}, on_behalf
            )
        ]
        audit = await _audit_evidence(calls, window, on_behalf)
        return compliance_report(details, since, until, deployments, evaluations, audit)
    if job.kind == "sprint":
        started = calls.pages(
            "forecast",
            "/v1/sprints",
            {
                "scope": job.scope,
                "starts_since": window["since"],
                "starts_before": window["until"],
                "limit": "500",
            },
            on_behalf,
        )
        sprints = [
            await calls.get_json(
                "forecast", f"/v1/sprints/{sprint['id']}", {"scope": job.scope}, on_behalf
            )
            async for sprint in started
        ]
        return sprint_report(sprints)
    if job.kind == "forecast":
        ahead = {"scope": job.scope, "until": job.period_to.isoformat()}
        how_many = await calls.get_json("forecast", "/v1/forecasts/how-many", ahead, on_behalf)
        when = None
        if job.items is not None:
            asked = {"scope": job.scope, "items": str(job.items)}
            when = await calls.get_json("forecast", "/v1/forecasts/when", asked, on_behalf)
        return forecast_report(how_many, when)
    if job.kind == "developer-trends":
        return await _developer_trends(calls, job, on_behalf)
    if job.kind == "rollup":
        period = {"since": window["since"], "until": window["until"]}
        definition = job.definition or "dora-2024"
        return rollup_report(
            [
                await tenant_figures(calls, job.requested_by, tenant, period, definition)
                for tenant in job.tenants
            ]
        )
    raise RenderFailed(f"unknown report kind {job.kind!r}")


async def _audit_evidence(
    calls: PeerCalls, window: dict[str, str], on_behalf: OnBehalfOf
) -> AuditEvidence:
    """The gateway's audit log over the period and its chain check; the gateway shows them
    to tenant admins (and a platform admin acting on the tenant) only, so for anyone else
    the pack says it was refused rather than failing."""
    period = {"since": window["since"], "until": window["until"], "limit": "500"}
    try:
        records = [
            r async for r in calls.pages("gateway", "/internal/audit-log", period, on_behalf)
        ]
        chain = await calls.get_json("gateway", "/internal/audit-log/verify", {}, on_behalf)
    except PeerCallFailed as refused:
        if refused.status != 403:
            raise
        return AuditEvidence(refused=str(refused))
    return AuditEvidence(records, chain)


async def tenant_name(calls: PeerCalls, on_behalf: OnBehalfOf) -> str:
    """The requester's tenant as the cover prints it: its name (the gateway holds it) and
    its id."""
    tenant = await calls.get_json("gateway", "/internal/tenant", {}, on_behalf)
    return f"{tenant['name']} ({tenant['id']})"


async def _developer_trends(
    calls: PeerCalls, job: sa.Row[Any], on_behalf: OnBehalfOf
) -> ReportModel:
    """The tenant's developers (identity) and the trends (insights, up to the period's end)
    of each one the requester may see: insights' privacy rules decide (:func:`shown`)."""
    until = {"until": (job.period_to + timedelta(days=1)).isoformat()}
    answers: list[tuple[dict[str, Any], Any, str | None]] = []
    async for developer in calls.pages("identity", "/v1/developers", {"limit": "500"}, on_behalf):
        path = f"/v1/developers/{developer['id']}/trends"
        try:
            trends = await calls.get_json("insights", path, until, on_behalf)
            answers.append((developer, trends, None))
        except PeerCallFailed as refused:
            if refused.status != 403:
                raise
            answers.append((developer, None, refused.detail))
    return developer_trends_report(shown(answers, f"{job.requested_by} ({job.requester_role})"))


def shown(
    answers: list[tuple[dict[str, Any], Any, str | None]], requester: str
) -> list[tuple[dict[str, Any], Any]]:
    """The developers whose trends insights gave (a member sees their own, a manager their
    teams'); those it refused are left out. When it refused every one, the report fails
    with insights' reason instead of coming out empty; with no developers at all there is
    nothing to hide and the report is made."""
    kept = [(developer, trends) for developer, trends, refusal in answers if refusal is None]
    refusals = [refusal for _, _, refusal in answers if refusal is not None]
    if refusals and not kept:
        raise RenderFailed(f"developer trends are not shown to {requester}: {refusals[-1]}")
    return kept


def report_prefix(tenant_id: Any) -> str:
    """Where a tenant's rendered files are kept in the object store (each ``<id>.<format>``)."""
    return f"reports/{tenant_id}/"


def file_key(job: sa.Row[Any]) -> str:
    """Where a job's rendered file is kept in the object store."""
    return f"{report_prefix(job.tenant_id)}{job.id}.{job.format}"


def logo_key(tenant_id: Any) -> str:
    """Where a tenant's cover logo is kept in the object store."""
    return f"branding/{tenant_id}/logo"


def render_file(
    model: ReportModel, job: sa.Row[Any], logo: bytes | None = None, tenant: str | None = None
) -> bytes:
    """The job's file in its format (CPU work: run it off the event loop); ``tenant`` is the
    name the PDF's cover prints (the id when none is given)."""
    if job.format == "csv":
        section = model.sections[0]
        return csv_bytes(section.header, section.rows)
    cover = Cover(
        tenant=tenant or str(job.tenant_id),
        scope=job.scope,
        period=f"{job.period_from.isoformat()} to {job.period_to.isoformat()} ({job.time_zone})",
        generated_for=job.requested_by,
        logo=logo,
    )
    return render_pdf(model, cover)


class RenderWorker:
    """One per replica; started and stopped with the service."""

    def __init__(self, state: ServiceState, settings: ReportsSettings) -> None:
        self.state, self.settings = state, settings
        self.wake = asyncio.Event()
        self.calls: PeerCalls | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        key = self.state.settings.internal_token_private_key
        if key is not None:
            self.calls = PeerCalls.build(
                InternalTokenSigner(load_private_key(key.get_secret_value())),
                READS,
                urls=self.settings.service_urls,
                apps=self.state.peers,  # live: the embedded gateway joins after start
                timeout=self.settings.call_timeout_seconds,
            )
        self._task = asyncio.create_task(self._run(), name="reports-render-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self.calls is not None:
            await self.calls.close()

    async def _run(self) -> None:
        while True:
            try:
                while await self.render_next():
                    pass
            except Exception as exc:
                log.warning("reports.worker_failed", error=str(exc))
            try:
                async with asyncio.timeout(self.settings.worker_poll_seconds):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()

    async def render_next(self) -> bool:
        """Render one queued report; False when none is waiting."""
        lease = timedelta(seconds=self.settings.render_lease_seconds)
        async with self.state.db.transaction() as session:
            claimed = await repository.claim_next(session, lease)
        if claimed is None:
            return False
        report_id, tenant_id = claimed
        async with self.state.db.transaction(tenant_id) as session:
            job = await repository.start_attempt(session, report_id, datetime.now(UTC))
        if job is None:
            return True  # purged with its tenant since it was leased: the next one
        try:
            data, object_key = await self._render(job)
        except (RenderFailed, PeerCallFailed) as exc:
            await self._fail(job, str(exc))
        except Exception as exc:
            log.error("reports.render_crashed", report_id=str(report_id), error=repr(exc))
            await self._fail(job, f"the renderer failed: {type(exc).__name__}")
        else:
            await self._done(job, data, object_key)
        return True

    async def _step(self, job: sa.Row[Any], percent: int, step: str) -> None:
        async with self.state.db.transaction(job.tenant_id) as session:
            await repository.progress(session, job.id, percent, step, datetime.now(UTC))

    async def _render(self, job: sa.Row[Any]) -> tuple[bytes, str]:
        if self.calls is None:
            raise RenderFailed(
                "reports cannot call other services: SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY is not set"
            )
        if self.state.objects is None:
            raise RenderFailed("no object store is configured for report files")
        on_behalf = OnBehalfOf(
            subject=job.requested_by,
            role=job.requester_role,
            tenant_id=job.tenant_id,
            scope_workspaces=list(job.scope_workspaces),
        )
        await self._step(job, 10, "reading")
        if job.kind == "rollup":
            revoked = await first_ungranted(self.state.db, job.tenant_id, list(job.tenants))
            if revoked is not None:
                raise RenderFailed(
                    f"tenant {revoked} no longer grants this tenant its roll-up metrics (its "
                    "grant was revoked after the report was asked for)"
                )
        model = await fetch_model(self.calls, job, on_behalf)
        await self._step(job, 60, "rendering")
        logo, tenant = None, None
        if job.format == "pdf" and job.tenant_id == PLATFORM_TENANT:
            tenant = f"the platform, for {job.requested_by}"
        elif job.format == "pdf":
            tenant = await tenant_name(self.calls, on_behalf)
            with suppress(ObjectNotFound):  # no logo uploaded: the cover goes without
                logo = await self.state.objects.get(logo_key(job.tenant_id))
        data = await asyncio.to_thread(render_file, model, job, logo, tenant)
        await self._step(job, 90, "storing")
        object_key = file_key(job)
        await self.state.objects.put(object_key, data, CONTENT_TYPES[job.format])
        return data, object_key

    async def _done(self, job: sa.Row[Any], data: bytes, object_key: str) -> None:
        """Mark the job done with its stored file, announced; or, when its tenant's purge
        took the job as it rendered (and may have cleared the tenant's files before this
        one was stored), queue the file for deletion in the same transaction instead."""
        digest = hashlib.sha256(data).hexdigest()
        now = datetime.now(UTC)
        async with self.state.db.transaction(job.tenant_id) as session:
            if not await repository.finish(
                session,
                job.id,
                now,
                object_key=object_key,
                size_bytes=len(data),
                sha256=digest,
                expires_at=now + timedelta(days=self.settings.file_retention_days),
            ):
                await deletions.queue(session, [object_key])
                log.info("reports.render_purged", report_id=str(job.id))
                return
            await self._announce(
                session,
                job,
                ReportRendered(
                    report_id=job.id,
                    object_key=object_key,
                    format=job.format,
                    size_bytes=len(data),
                    sha256=digest,
                ),
                NotificationRaised(
                    notification_id=uuid7(),
                    severity="info",
                    audience=job.notify or AUDIENCE,
                    title=f"Report ready: {job.kind} for {job.scope}",
                    body=f"{job.kind} report {job.period_from} to {job.period_to} is ready.",
                    link=f"/v1/reports/{job.id}/file",
                    raised_by="reports",
                ),
            )
        log.info("reports.rendered", report_id=str(job.id), bytes=len(data))

    async def _fail(self, job: sa.Row[Any], reason: str) -> None:
        async with self.state.db.transaction(job.tenant_id) as session:
            if not await repository.finish(session, job.id, datetime.now(UTC), reason=reason):
                log.info("reports.render_purged", report_id=str(job.id))
                return  # its tenant's purge took the job: nobody to tell
            await self._announce(
                session,
                job,
                ReportFailed(report_id=job.id, reason=reason[:2000]),
                NotificationRaised(
                    notification_id=uuid7(),
                    severity="warning",
                    audience=job.notify or AUDIENCE,
                    title=f"Report failed: {job.kind} for {job.scope}",
                    body=f"{reason[:1000]} (retry with POST /v1/reports/{job.id}/retry)",
                    link=f"/v1/reports/{job.id}",
                    raised_by="reports",
                ),
            )
        log.warning("reports.failed", report_id=str(job.id), reason=reason)

    async def _announce(self, session: Any, job: sa.Row[Any], *events: Any) -> None:
        for event in events:
            await self.state.outbox.add(
                session, event, tenant_id=job.tenant_id, entity=f"report/{job.id}"
            )


def worker_of(state: ServiceState) -> RenderWorker:
    worker: RenderWorker = state.extras["render_worker"]
    return worker


async def start(state: ServiceState) -> None:
    worker = RenderWorker(state, ReportsSettings())
    state.extras["render_worker"] = worker
    await worker.start()


async def stop(state: ServiceState) -> None:
    await worker_of(state).stop()
