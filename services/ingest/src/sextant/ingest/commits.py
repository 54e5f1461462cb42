"""The commits of merged change requests that webhooks brought (issue #24).

GitHub's ``pull_request`` webhook and GitLab's merge request hook list no commits, so a
merge they bring carries the head SHA alone. When its source has API credentials the
normalizer says ``commits_source: pending`` and the delivery's statement queues a commit
list (``commit_lists``, :func:`repository.store_deliveries`), which wakes the listers at
its commit (queue_worker.py). A lister per replica (:class:`CommitLister`) leases due lists
and reads the commits page by page through the egress policy — GitHub
``/repos/{o}/{r}/pulls/{n}/commits``, GitLab
``/projects/{id}/merge_requests/{iid}/commits`` — each page committed with its cursor
(the checkpoint), so a retry resumes after the last page read, as a backfill does. The
tool's rate limits are waited out as the backfill client waits them (``Retry-After``,
``x-ratelimit-reset``), up to ``commit_list_max_wait_seconds``; a server error or a
longer limit is retried with backoff and jitter.

Once listed, the stored delivery is read again with the list passed as a backfill passes
it (``sextant.commit_shas``), and its merge published as a revision of the same fact
(:func:`reading.as_revision`: the same event under a new id), which consumers apply over
what it said. A list that cannot be had — the repository is gone (404), the credentials
are refused, or the tries run out — is marked failed with the reason, and the merge is
published again saying ``head_only``: it keeps its head SHA, and nobody waits for more.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

import structlog

from sextant.ingest.backfill import github, github_app, gitlab
from sextant.ingest.backfill.api import Api, ApiError, next_link, query
from sextant.ingest.db import commit_list_queue
from sextant.ingest.db import commits as repository
from sextant.ingest.db.commits import CommitListRow
from sextant.ingest.db.repository import SourceRow, get_delivery, get_source
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, pruned
from sextant.ingest.queue_worker import QueueWorker
from sextant.ingest.reading import MERGED, as_revision, read_delivery
from sextant.ingest.service import ingest_of, open_sealed
from sextant.ingest.settings import IngestSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.backoff import retry_delay
from sextant.runtime.egress import egress_policy
from sextant.runtime.outbox import Staged

log = structlog.get_logger()

MAX_PAGES = 50  # GitHub lists at most 250 commits of a pull request; GitLab pages of 100
GIVE_UP = {401, 403, 404, 410}  # answers a later try would get again (rate limits aside)


class Unlistable(Exception):
    """The list cannot be had, now or later; the message says why."""


def first_page(kind: str, repository: str, number: int) -> str:
    """The first page of a change request's commits, 100 a page."""
    if kind == "github":
        return query(f"/repos/{repository}/pulls/{number}/commits", per_page=100)
    project = quote(repository, safe="")
    return query(f"/projects/{project}/merge_requests/{number}/commits", per_page=100)


def shas_of(kind: str, page: Any) -> list[str]:
    """The SHAs of a page of commits (GitHub ``sha``, GitLab ``id``), as listed."""
    if not isinstance(page, list):
        raise Unlistable("the API's answer is not a list of commits")
    key = "sha" if kind == "github" else "id"
    return [str(commit[key]) for commit in page if isinstance(commit, dict) and commit.get(key)]


def signs_in(kind: str, credentials: dict[str, Any]) -> bool:
    """Whether the credentials can call the tool: a token, or (GitHub) an App installation."""
    if credentials.get("token"):
        return True
    return kind == "github" and all(credentials.get(name) for name in github_app.CREDENTIALS)


class CommitLister:
    """Lists due commit lists; one per replica, started and stopped with ingest."""

    def __init__(
        self,
        state: ServiceState,
        settings: IngestSettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.state, self.settings, self.sleep = state, settings, sleep
        self.policy = egress_policy(state.settings)
        self.worker = QueueWorker(
            state.db,
            commit_list_queue,
            self.list_due,
            listener=ingest_of(state).listener,
            fallback_seconds=settings.commit_list_poll_seconds,
        )

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    def lease(self) -> timedelta:
        """Long enough for a list's pages, their retries and its rate-limit waits."""
        s = self.settings
        return timedelta(
            seconds=s.commit_list_max_wait_seconds + 8 * s.commit_list_timeout_seconds + 60
        )

    async def list_due(self) -> int:
        """List what is due, one at a time (one replica's calls never race each other
        into a tool's rate limit); how many were taken."""
        async with self.state.db.transaction() as session:
            claimed = await repository.claim_due(session, limit=4, lease=self.lease())
        for commit_list_id, tenant_id in claimed:
            await self.list_one(commit_list_id, tenant_id)
        return len(claimed)

    async def list_one(self, commit_list_id: UUID, tenant_id: UUID) -> None:
        async with self.state.db.transaction(tenant_id) as session:
            row = await repository.get_commit_list(session, commit_list_id)
            source = await get_source(session, row.source_id) if row else None
        if row is None:
            return
        try:
            if source is None or source.deleted_at is not None:
                raise Unlistable("the source is deleted")
            if source.credentials_sealed is None:
                raise Unlistable("the source has no API credentials")
            shas = await self._read_pages(source, row)
            if not shas:
                raise Unlistable("the API listed no commits")
        except Unlistable as exc:
            await self._give_up(source, row, str(exc))
        except ApiError as exc:
            if exc.status in GIVE_UP and not exc.rate_limited:
                await self._give_up(source, row, str(exc))
            else:
                await self._later(source, row, str(exc))
        except Exception as exc:  # an answer it could not read, or a fault of its own
            log.warning("commits.list_failed", commit_list_id=str(row.id), exc_info=True)
            await self._later(source, row, f"stopped by {type(exc).__name__}; see the log")
        else:
            await self._publish(source, row, shas)

    async def _read_pages(self, source: SourceRow, row: CommitListRow) -> list[str]:
        """Every SHA, page by page from the checkpoint, each page saved with its cursor."""
        credentials = json.loads(
            open_sealed(ingest_of(self.state).box, source.credentials_sealed or b"", source)
        )
        if not signs_in(source.kind, credentials):
            raise Unlistable(f"the {source.kind} source's credentials hold no token to sign in")
        tool = github if source.kind == "github" else gitlab
        api: Api = tool.connect(
            credentials,
            egress=self.policy,
            timeout=self.settings.commit_list_timeout_seconds,
            max_wait_seconds=self.settings.commit_list_max_wait_seconds,
            sleep=self.sleep,
        )
        shas, url = list(row.commit_shas), row.next_page
        if url is None:
            url = first_page(source.kind, row.repository, row.number)
        try:
            for _ in range(MAX_PAGES):
                response = await api.get(url)
                shas += shas_of(source.kind, response.json())
                following = (
                    next_link(response) if source.kind == "github" else gitlab.next_page(response)
                )
                async with self.state.db.transaction(source.tenant_id) as session:
                    await repository.save_page(session, row.id, shas, following)
                if not following:
                    break
                url = following
            else:
                log.warning("commits.list_cut_short", commit_list_id=str(row.id), shas=len(shas))
        finally:
            await api.close()
        return shas

    async def _publish(self, source: SourceRow, row: CommitListRow, shas: list[str]) -> None:
        async with self.state.db.transaction(source.tenant_id) as session:
            revision = await self._revision(session, source, row, {"commit_shas": shas})
            await self.state.outbox.add_all(session, revision)
            await repository.finish(session, row.id, status="listed", error=None)
        log.info("commits.listed", commit_list_id=str(row.id), commits=len(shas))

    async def _give_up(self, source: SourceRow | None, row: CommitListRow, why: str) -> None:
        """Failed for good: the reason kept, and the merge said ``head_only`` (it keeps
        its head SHA)."""
        async with self.state.db.transaction(row.tenant_id) as session:
            if source is not None:
                revision = await self._revision(session, source, row, None)
                await self.state.outbox.add_all(session, revision)
            await repository.finish(session, row.id, status="failed", error=why)
        log.warning("commits.unlisted", commit_list_id=str(row.id), error=why)

    async def _later(self, source: SourceRow | None, row: CommitListRow, why: str) -> None:
        """Tried again after a backoff with jitter, or given up after the last try."""
        s = self.settings
        if row.attempts + 1 >= s.commit_list_max_attempts:
            await self._give_up(source, row, f"{why} ({row.attempts + 1} tries)")
            return
        wait = retry_delay(
            row.attempts + 1,
            s.commit_list_backoff_seconds,
            s.commit_list_backoff_cap_seconds,
            random.random(),  # jitter, not a secret
        )
        async with self.state.db.transaction(row.tenant_id) as session:
            due = datetime.now(UTC) + timedelta(seconds=wait)
            await repository.retry_at(session, row.id, why, due)
        log.info("commits.retry", commit_list_id=str(row.id), error=why, wait_seconds=round(wait))

    async def _revision(
        self,
        session: Any,
        source: SourceRow,
        row: CommitListRow,
        listed: dict[str, Any] | None,
    ) -> list[Staged]:
        """The merge of the row's delivery, read again with the list (``listed``) or as
        one that will have none, as a revision under ids the row makes (the same ids
        however often this is repeated). Nothing when the delivery is no longer kept."""
        stored = await get_delivery(session, row.delivery_id)
        if stored is None:
            return []
        payload = pruned.parse(source.kind, stored.event, stored.body)
        if listed is not None:
            payload["sextant"] = listed
        rules = MappingRules.model_validate(source.mapping)
        ctx = Context(source.id, rules, lists_commits=False)
        outbox = self.state.outbox
        read = read_delivery(outbox, source, ctx, stored.delivery_id, stored.event, payload)
        return [s for s in as_revision(read, row.id) if s.envelope.type == MERGED]


async def start(state: ServiceState) -> None:
    lister = CommitLister(state, IngestSettings())
    state.extras["commit_lister"] = lister
    await lister.start()


async def stop(state: ServiceState) -> None:
    lister = state.extras.get("commit_lister")
    if lister is not None:
        await lister.stop()
