"""Backfill jobs: fetch pages, normalize them like webhooks, commit each page's events
with the job's checkpoint and progress in one transaction — so a job stopped anywhere
(an error, a restart) resumes after its last committed page and keeps what it had."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import structlog

from sextant.ingest.backfill import github, gitlab, jira
from sextant.ingest.backfill.api import Api, ApiError
from sextant.ingest.backfill.pages import DONE, Fetch
from sextant.ingest.db import repository
from sextant.ingest.db.repository import BackfillRow, SourceRow
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context
from sextant.ingest.reading import notice, read_delivery
from sextant.runtime.app import ServiceState
from sextant.runtime.egress import STRICT, EgressPolicy, EgressRefused
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()


@dataclass(frozen=True)
class Tool:
    fetch: Fetch
    missing: Callable[[dict[str, Any]], list[str]]  # what the credentials lack, by name
    connect: Callable[..., Api]  # credentials, Api options -> the tool's API, signed in


URL_CREDENTIALS = ("api_url", "site_url")  # the credentials that say where to call


class CredentialsLacking(ValueError):
    """The credentials cannot make a backfill; the message names what they lack."""


TOOLS: dict[str, Tool] = {
    "github": Tool(github.fetch, github.missing, github.connect),
    "gitlab": Tool(gitlab.fetch, gitlab.missing, gitlab.connect),
    "jira": Tool(jira.fetch, jira.missing, jira.connect),
}


def check_credentials(kind: str, credentials: dict[str, Any] | None) -> None:
    """ValueError naming what a backfill of this kind of source is missing."""
    tool = TOOLS.get(kind)
    if tool is None:
        raise CredentialsLacking(f"a {kind} source has no API to backfill from")
    if not credentials:
        raise CredentialsLacking("the source has no API credentials; add them with PATCH first")
    missing = tool.missing(credentials)
    if missing:
        raise CredentialsLacking(f"the source's credentials lack: {', '.join(missing)}")


def refused_urls(credentials: dict[str, Any], egress: EgressPolicy) -> dict[str, str]:
    """The credentials' URLs the egress policy refuses without a lookup, each with why:
    set, they would only fail the backfill later. (The addresses a name resolves to are
    checked on every call.)"""
    refused = {}
    for name in URL_CREDENTIALS:
        url = credentials.get(name)
        if url is None or url == "":
            continue  # the tool's default, or lacking (said when a backfill starts)
        if not isinstance(url, str):
            refused[name] = "not a URL"
            continue
        try:
            egress.check_url(url)
        except EgressRefused as exc:
            refused[name] = str(exc)
    return refused


@dataclass
class Backfills:
    """The jobs running in this process, one per source, calling out under ``egress``."""

    egress: EgressPolicy = STRICT
    tasks: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)

    def running(self, source_id: UUID) -> bool:
        task = self.tasks.get(source_id)
        return task is not None and not task.done()

    def start(
        self,
        state: ServiceState,
        source: SourceRow,
        job: BackfillRow,
        credentials: dict[str, Any],
        auth: httpx.Auth | None = None,
    ) -> None:
        """Run the job in a task; ``auth`` signs its calls (an OAuth grant's bearer)."""
        self.tasks[source.id] = asyncio.create_task(
            run(state, source, job, credentials, egress=self.egress, auth=auth),
            name=f"backfill-{source.id}",
        )

    async def stop(self) -> None:
        await asyncio.gather(*(cancel_and_wait(task) for task in self.tasks.values()))


async def run(
    state: ServiceState,
    source: SourceRow,
    job: BackfillRow,
    credentials: dict[str, Any],
    api: Api | None = None,
    *,
    egress: EgressPolicy = STRICT,
    auth: httpx.Auth | None = None,
) -> None:
    """Run a job to its end, and record that end: whatever stops it — credentials the
    tool refuses, an API error, a bug — leaves it failed with the admins told, never
    "running" with no task behind it.

    The error the job keeps (and the admins are told) is ours: which call failed and how
    (:class:`ApiError`), or what the credentials lack — never the text of anything else,
    which may quote what the API answered (a value it could not read)."""
    status, error = "succeeded", None
    try:
        await _fetch_pages(state, source, job, credentials, api, egress, auth)
    except asyncio.CancelledError:
        status, error = "failed", "interrupted (the service stopped); start it again to resume"
        raise
    except (ApiError, CredentialsLacking) as exc:
        status, error = "failed", str(exc)
        log.warning("backfill.failed", source=str(source.id), error=error)
    except Exception as exc:
        status = "failed"
        error = (
            f"stopped by an answer it could not read, or a fault of its own "
            f"({type(exc).__name__}); the service's log has the details"
        )
        log.warning("backfill.failed", source=str(source.id), exc_info=True)
    finally:
        try:
            await _finish(state, source, job, status, error)
        except Exception as exc:  # the database is away: the next start resumes the job
            log.error("backfill.unrecorded", source=str(source.id), status=status, error=str(exc))


async def _fetch_pages(
    state: ServiceState,
    source: SourceRow,
    job: BackfillRow,
    credentials: dict[str, Any],
    api: Api | None,
    egress: EgressPolicy,
    auth: httpx.Auth | None = None,
) -> None:
    """Fetch, normalize and commit page after page, each with the job's checkpoint."""
    check_credentials(source.kind, credentials)
    tool = TOOLS[source.kind]
    ctx = Context(source.id, MappingRules.model_validate(source.mapping))
    checkpoint, progress = dict(job.checkpoint), {k: dict(v) for k, v in job.progress.items()}
    api = api or tool.connect(credentials, egress=egress, **({"auth": auth} if auth else {}))
    try:
        async for page in tool.fetch(api, credentials, job.since, checkpoint):
            events = []
            for event_name, payload in page.payloads:
                read = read_delivery(state.outbox, source, ctx, "backfill", event_name, payload)
                events.extend(read.events)
            counts = progress.setdefault(page.resource, {"pages": 0, "items": 0, "events": 0})
            counts["pages"] += 1
            counts["items"] += page.items
            counts["events"] += len(events)
            checkpoint[page.resource] = page.cursor or DONE
            async with state.db.transaction(source.tenant_id) as session:
                await state.outbox.add_all(session, events)
                await repository.save_backfill(
                    session, job.id, checkpoint=checkpoint, progress=progress, updated_at=_now()
                )
    finally:
        log.info(
            "backfill.api_used",
            source=str(source.id),
            requests=api.requests,
            waited_seconds=round(api.waited_seconds, 1),
        )
        await api.close()


async def _finish(
    state: ServiceState, source: SourceRow, job: BackfillRow, status: str, error: str | None
) -> None:
    async with state.db.transaction(source.tenant_id) as session:
        await repository.save_backfill(
            session, job.id, status=status, error=error, updated_at=_now(), finished_at=_now()
        )
        if status == "failed":
            warning = notice(
                state.outbox,
                source,
                "error",
                f"The backfill of '{source.name}' stopped",
                f"{error}. What it fetched is kept; start the backfill again to resume.",
            )
            await state.outbox.add_all(session, [warning])


def _now() -> datetime:
    return datetime.now(UTC)
