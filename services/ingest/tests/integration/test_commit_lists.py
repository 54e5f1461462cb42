"""Commits for merges that webhooks bring (issue #24), against fake GitHub and GitLab APIs
on loopback. A GitHub merge from a source with credentials is published at once with its
head SHA (``pending``), then again — a revision of the same fact — with the pull
request's commits, read in pages through a rate limit (``Retry-After`` waited out) and
server errors (the list resumed at its checkpoint, its first page not asked again). A
GitLab project that is gone (404) ends the list with the reason kept and the merge said
``head_only``; a source without credentials says ``head_only`` from the start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sextant.contracts import Envelope
from sextant.ingest.commits import CommitLister
from sextant.runtime.testing.apps import served
from sextant.runtime.testing.plugin import InternalKeys

from ..fixtures import payloads
from ..fixtures.signing import sign
from .conftest import Ingest, running_ingest

HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"  # the pull request's head in the payload
LISTED = ["1" * 40, "2" * 40, HEAD]  # its three commits, in two pages
MERGED = "sextant.activity.change_request.merged.v1"


@dataclass
class FakeForge:
    """GitHub's pull request commits (pages of two, Link headers) and GitLab's merge
    request commits; ``trouble`` answers first, per (path, page), in order."""

    trouble: dict[tuple[str, str], list[Response]] = field(default_factory=dict)
    asked: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def github_commits(self, request: Request) -> Response:
        page = request.query_params.get("page", "1")
        if (answer := self._trouble(request, page)) is not None:
            return answer
        if page == "1":
            link = f'<{request.url.include_query_params(page=2)}>; rel="next"'
            return JSONResponse([{"sha": sha} for sha in LISTED[:2]], headers={"link": link})
        return JSONResponse([{"sha": LISTED[2]}])

    async def gitlab_commits(self, request: Request) -> Response:
        return self._trouble(request, "1") or JSONResponse([])

    def _trouble(self, request: Request, page: str) -> Response | None:
        auth = request.headers.get("authorization") or request.headers.get("private-token")
        self.asked.append((request.url.path, page, auth))
        queued = self.trouble.get((request.url.path, page))
        return queued.pop(0) if queued else None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/repos/{owner}/{repo}/pulls/{number}/commits", self.github_commits),
                Route("/projects/{project}/merge_requests/{iid}/commits", self.gitlab_commits),
            ]
        )


@pytest.fixture
async def ingest(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Ingest]:
    """Ingest reaching the fakes on 127.0.0.1 over plain http; lists retried fast. The
    fallback look is a minute away, beyond every wait here: a list is taken because its
    delivery's commit woke the lister, and a retry because its due time did (a draw of up
    to 0.3 s: later, nearly always, than the lister's next look for due lists)."""
    monkeypatch.setenv("SEXTANT_INGEST_COMMIT_LIST_POLL_SECONDS", "60")
    monkeypatch.setenv("SEXTANT_INGEST_COMMIT_LIST_BACKOFF_SECONDS", "0.3")
    async with running_ingest(
        database_url, internal_keys, tmp_path, egress_allow=["127.0.0.1"], egress_allow_http=True
    ) as trusting:
        yield trusting


def waits_recorded(ingest: Ingest) -> list[float]:
    """The lister's waits (rate limits, server-error backoff), recorded and not slept."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    lister: CommitLister = ingest.state.extras["commit_lister"]
    lister.sleep = record
    return waits


async def merges(ingest: Ingest, subject_part: str, count: int) -> list[Envelope]:
    """The merged events of one change request, in publication order, once ``count``."""
    found: list[Envelope] = []
    async with asyncio.timeout(20):
        while len(found) < count:
            published = await ingest.published("sextant.activity", 1)
            found = [
                e
                for e in published
                if e.type == MERGED and (e.subject or "").endswith(subject_part)
            ]
            await asyncio.sleep(0.05)
    return found


async def deliver_merge(ingest: Ingest, source: dict[str, Any], kind: str, delivery: str) -> None:
    if kind == "github":
        body = json.dumps(payloads.github_pull_request("closed", merged=True)).encode()
        headers = sign("github", source["secret"], body, delivery=delivery, event="pull_request")
    else:
        body = json.dumps(payloads.gitlab_merge_request("merge")).encode()
        headers = sign(
            "gitlab", source["secret"], body, delivery=delivery, event="Merge Request Hook"
        )
    response = await ingest.deliver(source, body, headers)
    assert response.status_code == 202, response.text


async def test_a_webhook_merge_gets_its_commits_as_a_revision_through_limits_and_errors(
    ingest: Ingest,
) -> None:
    forge = FakeForge()
    commits = "/repos/octo-org/octo-repo/pulls/42/commits"
    forge.trouble = {
        (commits, "1"): [JSONResponse({"message": "slow down"}, 429, headers={"Retry-After": "7"})],
        # four 502s use up one try's four attempts: the list is put back, and resumes here
        (commits, "2"): [JSONResponse({"message": "boom"}, 502) for _ in range(4)],
    }
    waits = waits_recorded(ingest)
    async with served(forge.app()) as url:
        source = await ingest.source(
            "github",
            credentials={
                "token": "gh-token",
                "repositories": ["octo-org/octo-repo"],
                "api_url": url,
            },
        )
        await deliver_merge(ingest, source, "github", "gh-merge")
        first, revision = await merges(ingest, ":42", 2)

    assert first.data["commits_source"] == "pending"
    assert first.data["commit_shas"] == [HEAD]
    assert revision.data["commits_source"] == "listed"
    assert revision.data["commit_shas"] == LISTED
    # a revision of the same fact: same type, subject and merge, a new id
    assert revision.id != first.id and revision.subject == first.subject
    assert revision.data["merge_sha"] == first.data["merge_sha"]
    assert revision.data["merged_at"] == first.data["merged_at"]

    pages = [page for path, page, _ in forge.asked if path == commits]
    assert pages == ["1", "1", "2", "2", "2", "2", "2"]  # page 1 never asked again
    assert {auth for *_, auth in forge.asked} == {"Bearer gh-token"}
    assert waits[0] == 7.0  # the Retry-After, waited out before asking again
    assert waits[1:] == [0.5, 1.0, 2.0]  # the server errors' backoff within one try
    [row] = await ingest.sql(
        "SELECT status, attempts, commit_shas, next_page, last_error,"
        " finished_at = updated_at AS finished FROM ingest.commit_lists"
    )
    assert (row["status"], row["attempts"], row["commit_shas"]) == ("listed", 2, LISTED)
    assert row["next_page"] is None and row["last_error"] is None
    assert row["finished"]  # retention's time: the list is raw data once published
    assert await ingest.sql("SELECT * FROM ingest.commit_list_queue") == []


async def test_a_gone_project_keeps_the_head_sha_and_no_credentials_say_so(
    ingest: Ingest,
) -> None:
    forge = FakeForge()
    commits = "/projects/15/merge_requests/4/commits"
    forge.trouble = {(commits, "1"): [JSONResponse({"message": "404 Project Not Found"}, 404)]}
    async with served(forge.app()) as url:
        lab = await ingest.source(
            "gitlab", credentials={"token": "gl-token", "projects": ["group/app"], "api_url": url}
        )
        await deliver_merge(ingest, lab, "gitlab", "gl-merge")
        first, given_up = await merges(ingest, ":4", 2)
    assert forge.asked == [(commits, "1", "gl-token")]  # a 404 is not asked again
    assert first.data["commits_source"] == "pending"
    assert given_up.data["commits_source"] == "head_only"
    assert given_up.data["commit_shas"] == first.data["commit_shas"] == ["bb" * 20]
    [row] = await ingest.sql(
        "SELECT status, attempts, last_error, finished_at = updated_at AS finished"
        " FROM ingest.commit_lists"
    )
    assert (row["status"], row["attempts"], row["finished"]) == ("failed", 1, True)
    assert "merge_requests/4/commits: HTTP 404, not found" in row["last_error"]
    [kept] = await ingest.sql("SELECT outcome FROM ingest.deliveries")
    assert kept["outcome"] == "normalized"

    bare = await ingest.source("github")
    await deliver_merge(ingest, bare, "github", "gh-bare")
    [merged] = await merges(ingest, ":42", 1)
    assert merged.data["commits_source"] == "head_only"
    assert merged.data["commit_shas"] == [HEAD]
    assert len(await ingest.sql("SELECT id FROM ingest.commit_lists")) == 1  # none queued
