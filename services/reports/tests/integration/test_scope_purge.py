"""A purged tenant leaves no row in any reports table and none of its files: its rendered
reports and cover logo are gone from the object store (S3) once the purge committed,
another tenant's stay; a purge rolled back leaves them, and a delete the store refuses is
retried. A render that finishes after its tenant's purge leaves no file either, and an
expired file goes only once its report's soft delete committed. A purged
workspace keeps the rows (none has a workspace column) but leaves every job's and
schedule's list: a schedule left with none is paused, off the clock; a job keeps its
record, and a scheduler's pass that waited for the purge queues a job without it. The
roll-up grants other tenants gave a purged tenant go with it."""

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.reports.db import grants, report_schedules, reports, repository, schedules
from sextant.reports.main import SPEC
from sextant.reports.render import RenderWorker, file_key, logo_key
from sextant.reports.retention import PURGER, clear_forgotten
from sextant.reports.scheduler import Scheduler
from sextant.reports.settings import ReportsSettings
from sextant.runtime.app import ServiceState, create_service_app, current_service
from sextant.runtime.db import Database
from sextant.runtime.objectstore import S3ObjectStore
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing, scope_purge
from sextant.runtime.wiring import create_bus

# the render worker and scheduler off: they would take the queue's and clock's rows this
# test counts (a render claimed a row once, failing a count)
QUIET = replace(SPEC, on_start=(), on_stop=())


async def test_a_purged_tenant_leaves_no_row_and_no_file_in_reports(
    database_url: str, internal_keys: InternalKeys, s3_endpoint: str
) -> None:
    settings = service_settings(database_url, internal_keys)
    objects = S3ObjectStore(f"reports-{secrets.token_hex(4)}", endpoint_url=s3_endpoint)
    await objects.ensure_bucket()
    app = create_service_app(
        QUIET, settings, bus_factory=lambda: create_bus(settings), objects=objects
    )
    tenant, other = uuid7(), uuid7()
    for owner in (tenant, other):
        await objects.put(f"reports/{owner}/{uuid7()}.pdf", b"%PDF-1.7")
        await objects.put(logo_key(owner), b"\x89PNG")
    async with running_app(app):
        state: ServiceState = app.state.service
        entered = current_service.set(state)  # as the consumer runs handlers
        try:
            await check_a_rolled_back_purge_keeps_the_files(state, tenant)
            await check_a_render_done_after_its_tenants_purge_leaves_no_file(state, uuid7())
            await check_an_expiry_that_fails_to_commit_keeps_the_file(state, uuid7(), s3_endpoint)
            await check_scope_purges_leave_nothing(
                app.state.service.db,
                SPEC.handlers[LIFECYCLE.name],
                PURGER,
                tenant=tenant,
                other=other,
                workspace_tables=(),
                workspace_lists=(reports.c.scope_workspaces, report_schedules.c.scope_workspaces),
            )
            assert len(await files_of(objects, tenant)) == 2  # queued: the pass deletes them
            refusing = S3ObjectStore(f"absent-{secrets.token_hex(4)}", endpoint_url=s3_endpoint)
            assert await clear_forgotten(state.db, refusing) == 0  # no such bucket
            assert await clear_forgotten(state.db, objects) == 2  # its reports and its logo
            assert await files_of(objects, tenant) == []
            assert len(await files_of(objects, other)) == 2
            await check_a_schedule_of_nothing_is_paused(state, uuid7())
            await check_a_pass_waiting_on_a_purge_leaves_its_workspace_out(state, uuid7())
            await check_grants_given_to_a_purged_tenant_go(state, uuid7())
        finally:
            current_service.reset(entered)


async def files_of(objects: S3ObjectStore, tenant: UUID) -> list[str]:
    return [k for k in await objects.list() if str(tenant) in k]


async def check_a_rolled_back_purge_keeps_the_files(state: ServiceState, tenant: UUID) -> None:
    """The tenant's purge ran its hook, then its transaction failed: its reports stay, and
    so do their files (none was queued)."""
    assert state.objects is not None
    with pytest.raises(RuntimeError):
        async with state.db.transaction(tenant) as session:
            await SPEC.handlers[LIFECYCLE.name](session, scope_purge(tenant))
            raise RuntimeError("the purge's transaction fails after its hook")
    assert await clear_forgotten(state.db, state.objects) == 0
    assert len([k for k in await state.objects.list() if str(tenant) in k]) == 2


def november_job(tenant: UUID, workspace: UUID) -> repository.NewReport:
    """A tenant admin's DORA CSV of November 2026 over one workspace."""
    return repository.NewReport(
        uuid7(),
        tenant,
        "dora",
        "csv",
        f"workspace:{workspace}",
        [workspace],
        date(2026, 11, 1),
        date(2026, 11, 30),
        "UTC",
        "a@test",
        "tenant_admin",
    )


async def rendering(state: ServiceState, tenant: UUID) -> sa.Row[Any]:
    """A job of the tenant, queued then started, as the worker holds it while it renders."""
    now, job = datetime.now(UTC), november_job(tenant, uuid7())
    async with state.db.transaction(tenant) as session:
        await repository.create(session, job, now)
        started = await repository.start_attempt(session, job.id, now)
    assert started is not None
    return started


async def check_a_render_done_after_its_tenants_purge_leaves_no_file(
    state: ServiceState, tenant: UUID
) -> None:
    """The tenant's purge commits, and its pass clears the tenant's files, while a job of
    it renders; the render then stores its file and marks its job done: it finds the job
    gone and queues the file, which the next pass deletes."""
    assert state.objects is not None
    job = await rendering(state, tenant)
    async with state.db.transaction(tenant) as session:
        await SPEC.handlers[LIFECYCLE.name](session, scope_purge(tenant))
    assert await clear_forgotten(state.db, state.objects) == 2  # its (empty) files and logo
    await state.objects.put(file_key(job), b"metric\r\n")  # as the render stores it
    await RenderWorker(state, ReportsSettings())._done(job, b"metric\r\n", file_key(job))
    assert await clear_forgotten(state.db, state.objects) == 1
    assert await state.objects.list(f"reports/{tenant}/") == []


COMMIT_FAILS = (  # a deferred constraint trigger: the sweep's transaction fails at COMMIT
    "CREATE FUNCTION reports.refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the commit fails'; END $$",
    "CREATE CONSTRAINT TRIGGER commit_fails AFTER UPDATE ON reports.reports "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.deleted_at IS NOT NULL) "
    "EXECUTE FUNCTION reports.refuse()",
)


async def check_an_expiry_that_fails_to_commit_keeps_the_file(
    state: ServiceState, tenant: UUID, s3_endpoint: str
) -> None:
    """A file rendered 91 days ago: a sweep whose transaction fails at its commit leaves
    the report live and its file stored; the next sweep's commit queues the file, which a
    store refusing the delete keeps queued, and the pass after deletes."""
    objects = state.objects
    assert isinstance(objects, S3ObjectStore)
    job = await rendering(state, tenant)
    await objects.put(file_key(job), b"metric\r\n")
    await RenderWorker(state, ReportsSettings())._done(job, b"metric\r\n", file_key(job))
    sweeper, later = Scheduler(state, ReportsSettings()), datetime.now(UTC) + timedelta(days=91)
    owner = state.db.owner_engine()
    try:
        async with owner.begin() as conn:
            for statement in COMMIT_FAILS:
                await conn.execute(sa.text(statement))
        with pytest.raises(DBAPIError, match="the commit fails"):
            await sweeper.expire_files(later)
        async with owner.begin() as conn:
            await conn.execute(sa.text("DROP TRIGGER commit_fails ON reports.reports"))
    finally:
        await owner.dispose()
    async with state.db.transaction(tenant) as session:
        kept = await repository.get(session, tenant, job.id)
    assert kept is not None and kept.deleted_at is None
    assert await files_of(objects, tenant) == [file_key(job)]
    assert await sweeper.expire_files(later) == 1
    assert await files_of(objects, tenant) == [file_key(job)]  # queued, not yet deleted
    refusing = S3ObjectStore(f"absent-{secrets.token_hex(4)}", endpoint_url=s3_endpoint)
    assert await clear_forgotten(state.db, refusing) == 0
    assert await clear_forgotten(state.db, objects) == 1
    assert await files_of(objects, tenant) == []


async def check_a_schedule_of_nothing_is_paused(state: ServiceState, tenant: UUID) -> None:
    """A schedule and a job naming only the purged workspace: the schedule is paused and
    off the clock, the job kept with an empty list."""
    gone, now = uuid7(), datetime.now(UTC)
    schedule = schedules.NewSchedule(
        uuid7(),
        tenant,
        "dora",
        "csv",
        f"workspace:{gone}",
        [gone],
        "weekly",
        1,
        time(9),
        "UTC",
        [],
        "a@test",
        "tenant_admin",
    )
    job = november_job(tenant, gone)
    async with state.db.transaction(tenant) as session:
        await schedules.create(session, schedule, now, now)
        await repository.create(session, job, now)
    async with state.db.transaction(tenant) as session:
        await SPEC.handlers[LIFECYCLE.name](session, scope_purge(tenant, gone))
    async with state.db.transaction(tenant) as session:
        paused = await schedules.get(session, tenant, schedule.id)
        kept = await repository.get(session, tenant, job.id)
        due = await schedules.due(session, now, 1000)
    assert paused is not None and paused.scope_workspaces == []
    assert (paused.paused_at is not None, paused.next_run_at) == (True, None)
    assert schedule.id not in {c.schedule_id for c in due}
    assert kept is not None and kept.scope_workspaces == []  # (the worker may have taken it)


async def check_grants_given_to_a_purged_tenant_go(state: ServiceState, grantee: UUID) -> None:
    """Another tenant granted the purged one (and a third): the purge, run as the purged
    tenant, deletes that grant, though the granter owns its row; the third's stays."""
    granter, third, now = uuid7(), uuid7(), datetime.now(UTC)
    async with state.db.transaction(granter) as session:  # as POST /v1/rollup-grants writes
        await grants.create(session, uuid7(), granter, grantee, "a@test", now)
        await grants.create(session, uuid7(), granter, third, "a@test", now)
    async with state.db.transaction(grantee) as session:
        await SPEC.handlers[LIFECYCLE.name](session, scope_purge(grantee))
    async with state.db.transaction(granter) as session:
        left = await grants.page(session, granter, None, 10)
    assert [g.grantee_tenant_id for g in left] == [third]


async def check_a_pass_waiting_on_a_purge_leaves_its_workspace_out(
    state: ServiceState, tenant: UUID
) -> None:
    """A due schedule of two workspaces, one being purged: the scheduler's pass, started
    while the purge's transaction holds the schedule's row, waits for it and queues a job
    of the other workspace alone (reading the schedule unlocked, it queued both)."""
    gone, kept, now = uuid7(), uuid7(), datetime.now(UTC)
    schedule = schedules.NewSchedule(
        uuid7(),
        tenant,
        "dora",
        "csv",
        "tenant",
        [gone, kept],
        "weekly",
        1,
        time(9),
        "UTC",
        [],
        "a@test",
        "tenant_admin",
    )
    async with state.db.transaction(tenant) as session:
        await schedules.create(session, schedule, now, now - timedelta(minutes=1))
    scheduler = Scheduler(state, ReportsSettings())
    async with state.db.transaction(tenant) as purge:
        await SPEC.handlers[LIFECYCLE.name](purge, scope_purge(tenant, gone))
        purging = await purge.scalar(sa.select(sa.func.pg_backend_pid()))
        one_pass = asyncio.create_task(scheduler._batch(now))  # a pass's one transaction
        while not one_pass.done() and not await waits_for(state.db, purging):
            pass  # the pass waits on the purge's row lock (each check yields to it)
    await one_pass
    async with state.db.transaction(tenant) as session:
        ran = await schedules.get(session, tenant, schedule.id)
        assert ran is not None and ran.last_report_id is not None
        job = await repository.get(session, tenant, ran.last_report_id)
    assert job is not None and job.scope_workspaces == [kept]


async def waits_for(db: Database, pid: int | None) -> bool:
    """Whether a session waits on a lock the backend ``pid`` holds."""
    async with db.transaction() as session:
        waiting = await session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
            ),
            {"pid": pid},
        )
    return bool(waiting)
