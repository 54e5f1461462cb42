"""Backfills against local servers that answer like GitHub, GitLab and Jira: paging,
rate limits honoured by waiting, partial data kept on failure, resumable, and the same
facts (the same event ids) as the webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import pytest

from sextant.contracts import uuid7
from sextant.ingest import service
from sextant.ingest.backfill import runner
from sextant.ingest.db import repository
from sextant.ingest.db.repository import BackfillRow
from sextant.runtime.testing.plugin import InternalKeys

from ..fixtures import fake_apis, payloads
from ..fixtures.signing import sign
from .conftest import TENANT, Ingest, running_ingest

SINCE = "2026-02-01T00:00:00Z"


@pytest.fixture
async def ingest(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> AsyncIterator[Ingest]:
    """Ingest letting backfills reach 127.0.0.1 over plain http, where the fake APIs
    listen — in this module only: by default the egress policy refuses both
    (test_backfill_egress.py)."""
    async with running_ingest(
        database_url, internal_keys, tmp_path, egress_allow=["127.0.0.1"], egress_allow_http=True
    ) as trusting:
        yield trusting


async def backfill(ingest: Ingest, source: dict[str, Any]) -> dict[str, Any]:
    """Start a backfill and wait for it to finish; its last progress reply."""
    admin = ingest.as_role("tenant_admin")
    started = await ingest.client.post(
        f"/v1/sources/{source['id']}/backfill", json={"since": SINCE}, headers=admin
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    for _ in range(200):
        progress = (
            await ingest.client.get(f"/v1/sources/{source['id']}/backfill", headers=admin)
        ).json()
        if progress["status"] != "running":
            return progress
        await asyncio.sleep(0.05)
    raise AssertionError(f"the backfill did not finish: {progress}")


async def test_github_backfill_pages_waits_out_a_rate_limit_and_converges_with_webhooks(
    ingest: Ingest,
) -> None:
    knobs = fake_apis.Knobs(rate_limit_once={"/repos/octo-org/octo-repo/pulls?"})
    async with fake_apis.serving(fake_apis.github_app(knobs)) as url:
        credentials = {"token": "ghp-test", "api_url": url, "repositories": ["octo-org/octo-repo"]}
        source = await ingest.source("github", credentials=credentials)
        progress = await backfill(ingest, source)
    assert progress["status"] == "succeeded", progress
    assert {name: r["done"] for name, r in progress["resources"].items()} == {
        "octo-org/octo-repo:pulls": True,
        "octo-org/octo-repo:issues": True,
        "octo-org/octo-repo:deployments": True,
    }
    assert progress["resources"]["octo-org/octo-repo:pulls"] == {
        "pages": 2,
        "items": 2,
        "events": 4,
        "done": True,
    }
    # Issues updated since the start, as a time the API reads (the fake refuses a since
    # whose "+00:00" arrived as " 00:00"): one, the older one and the pull request left out.
    assert progress["resources"]["octo-org/octo-repo:issues"]["items"] == 1
    assert (
        sum(1 for seen in knobs.seen if seen.startswith("/repos/octo-org/octo-repo/pulls?")) == 3
    )  # one 403
    assert knobs.early == [] and knobs.waited["/repos/octo-org/octo-repo/pulls?"] >= 1
    assert knobs.tokens == {"Bearer ghp-test"}
    events = await ingest.published("sextant.activity", 8)
    assert len(events) == 8
    by_type = {e.type.split(".")[2] + "." + e.type.split(".")[3]: e for e in events}
    merged = by_type["change_request.merged"]
    assert merged.data["commit_shas"] == ["1" * 40, "6dcb09b5b57875f334f61aebed695e2e4193db5e"]
    assert by_type["deployment.status_changed"].data["is_production"] is True
    assert by_type["change_request.review_submitted"].data["state"] == "approved"
    assert "work_item.transitioned" in by_type and "work_item.created" in by_type

    # The same merge arriving by webhook is the same fact: the same event id.
    body = json.dumps(payloads.github_pull_request("closed", merged=True)).encode()
    reply = await ingest.deliver(
        source, body, sign("github", source["secret"], body, event="pull_request")
    )
    assert reply.status_code == 202
    again = [
        e
        for e in await ingest.published("sextant.activity", len(events) + 1)
        if e.type == merged.type
    ]
    assert {e.id for e in again} == {merged.id}


async def test_a_github_app_installation_backfills_with_the_token_it_is_issued(
    ingest: Ingest,
) -> None:
    private_key, public_key = fake_apis.app_key_pair()
    installation = fake_apis.Installation(app_id="1234", public_key=public_key)
    knobs = fake_apis.Knobs()
    async with fake_apis.serving(fake_apis.github_app(knobs, installation)) as url:
        credentials = {
            "app_id": 1234,
            "private_key": private_key,
            "installation_id": installation.installation_id,
            "api_url": url,
            "repositories": ["octo-org/octo-repo"],
        }
        source = await ingest.source("github", credentials=credentials)
        progress = await backfill(ingest, source)
    assert progress["status"] == "succeeded", progress
    assert list(installation.issued) == ["ghs_1"]  # one exchange, the token kept for all
    api_tokens = {t for t in knobs.tokens if not t.startswith("Bearer ey")}  # not the JWT
    assert api_tokens == {"Bearer ghs_1"}
    assert len(await ingest.published("sextant.activity", 8)) == 8


async def test_a_failing_backfill_keeps_its_pages_tells_the_admins_and_resumes(
    ingest: Ingest,
) -> None:
    knobs = fake_apis.Knobs(
        server_errors={
            "/repos/octo-org/octo-repo/pulls?state=all&sort=updated&direction=desc&per_page=100&page=2": 10
        }
    )
    async with fake_apis.serving(fake_apis.github_app(knobs)) as url:
        credentials = {"token": "t", "api_url": url, "repositories": ["octo-org/octo-repo"]}
        source = await ingest.source("github", credentials=credentials)
        failed = await backfill(ingest, source)
        assert failed["status"] == "failed" and "HTTP 502 after 4 attempts" in failed["error"]
        # Page 1 (two pull requests: one open, one merged and reviewed) is kept.
        pulls = failed["resources"]["octo-org/octo-repo:pulls"]
        assert pulls == {"pages": 1, "items": 2, "events": 4, "done": False}
        kept = await ingest.published("sextant.activity", 4)
        assert sorted(e.type.split(".", 2)[2] for e in kept) == [
            "change_request.merged.v1",
            "change_request.opened.v1",
            "change_request.opened.v1",
            "change_request.review_submitted.v1",
        ]
        [warning] = await ingest.published("sextant.notifications", 1)
        assert "backfill" in warning.data["title"] and "502" in warning.data["body"]

        knobs.server_errors.clear()
        resumed = await backfill(ingest, source)
    assert resumed["status"] == "succeeded" and resumed["id"] == failed["id"]
    assert resumed["resources"]["octo-org/octo-repo:pulls"]["pages"] == 2
    events = await ingest.published("sextant.activity", 8)
    assert len({e.id for e in events}) == len(events) == 8, "a resumed page was fetched twice"


@pytest.mark.parametrize(
    ("flavour", "second_page"),
    [
        ("data_center", "/rest/api/2/search?startAt=1"),
        ("cloud", "/rest/api/3/search/jql?nextPageToken=page-1"),
    ],
)
async def test_jira_backfill_replays_each_history_entry_with_the_status_it_had(
    ingest: Ingest, flavour: str, second_page: str
) -> None:
    knobs = fake_apis.Knobs(rate_limit_once={second_page})
    async with fake_apis.serving(fake_apis.jira_app(knobs, flavour)) as url:
        credentials = {
            "email": "ada@example.com",
            "api_token": "secret",
            "site_url": url,
            "jql": "project = ENG",
            "boards": [3],
        }
        source = await ingest.source("jira", credentials=credentials)
        progress = await backfill(ingest, source)
    assert progress["status"] == "succeeded", progress
    assert progress["resources"]["issues"] == {"pages": 2, "items": 2, "events": 5, "done": True}
    # A 429 with Retry-After: 1 was waited out, not failed.
    assert knobs.early == [] and knobs.waited[second_page] >= 1
    searched = [seen.partition("?")[0] for seen in knobs.seen if "/search" in seen]
    if flavour == "cloud":  # the old search is gone (410): the new one, and whole changelogs
        assert searched[0] == "/rest/api/2/search" and set(searched[1:]) == {
            "/rest/api/3/search/jql"
        }
        assert any(seen.startswith("/rest/api/3/issue/ENG-7/changelog?") for seen in knobs.seen)
    else:
        assert set(searched) == {"/rest/api/2/search"}
    events = await ingest.published("sextant.activity", 5)
    moves = [
        (e.data["from_status"], e.data["from_category"], e.data["to_status"], e.data["to_category"])
        for e in events
        if e.type.endswith("transitioned.v1")
    ]
    # the category each transition left comes from the site's statuses, which the backfill reads
    assert moves == [
        ("To Do", "todo", "In Progress", "in_progress"),
        ("In Progress", "in_progress", "Done", "done"),
    ]
    # Two items are two keys: their order across partitions is not defined.
    created = [e.data["work_item"] for e in events if e.type.endswith("created.v1")]
    assert sorted((w["key"], w["status"], w["status_category"]) for w in created) == [
        ("ENG-7", "To Do", "todo"),
        ("ENG-8", "To Do", "todo"),
    ]
    assert any("project+%3D+ENG" in seen for seen in knobs.seen)
    # The board's sprints since the start (Sprint 1 ended before it): scope and outcome.
    assert progress["resources"]["sprints:3"] == {"pages": 2, "items": 2, "events": 3, "done": True}
    sprints = {
        (e.type.split(".")[3], e.data["sprint"]["name"]): e.data
        for e in await ingest.published("sextant.activity", 8)
        if ".sprint." in e.type
    }
    assert sorted(sprints) == [
        ("closed", "Sprint 7"),
        ("started", "Sprint 7"),
        ("started", "Sprint 8"),
    ]
    assert sprints[("started", "Sprint 7")]["item_keys"] == ["ENG-7", "ENG-8"]
    closed = sprints[("closed", "Sprint 7")]
    assert (closed["completed_keys"], closed["incomplete_keys"]) == (["ENG-7"], ["ENG-8"])


async def test_gitlab_backfill_pages_through_each_list_and_reads_every_kind(
    ingest: Ingest,
) -> None:
    knobs = fake_apis.Knobs(rate_limit_once={"/api/v4/projects/group/app/deployments"})
    async with fake_apis.serving(fake_apis.gitlab_app(knobs)) as url:
        credentials = {"token": "glpat", "api_url": f"{url}/api/v4", "projects": ["group/app"]}
        source = await ingest.source("gitlab", credentials=credentials)
        progress = await backfill(ingest, source)
    assert progress["status"] == "succeeded", progress
    assert {name: (r["pages"], r["items"]) for name, r in progress["resources"].items()} == {
        "group/app:merge_requests": (2, 2),
        "group/app:issues": (2, 2),
        "group/app:pipelines": (1, 1),
        "group/app:deployments": (1, 1),
    }
    # Page 2 was asked of the address the source names, by X-Next-Page (the Link header
    # names a host behind GitLab's proxy).
    assert any(
        seen.startswith("/api/v4/projects/group/app/issues?") and "page=2" in seen
        for seen in knobs.seen
    )
    events = await ingest.published("sextant.activity", 9)
    assert sorted(e.type.split(".", 2)[2] for e in events) == [
        "build.finished.v1",
        "change_request.merged.v1",
        "change_request.opened.v1",
        "change_request.opened.v1",
        "deployment.status_changed.v1",
        "work_item.created.v1",
        "work_item.created.v1",
        "work_item.resolved.v1",
        "work_item.transitioned.v1",
    ]
    [merged] = [e.data for e in events if e.type.endswith("merged.v1")]
    assert merged["commit_shas"] == ["c4" * 20, "bb" * 20]  # both pages of its commits
    # Issues reshaped into the Issue Hook: created as opened, the closed one closed then.
    items = [e.data for e in events if ".work_item." in e.type]
    assert sorted((d["work_item"]["key"], d["work_item"]["status"]) for d in items) == [
        ("group/app#23", "closed"),
        ("group/app#23", "closed"),
        ("group/app#23", "opened"),
        ("group/app#24", "opened"),
    ]
    [closed] = [d for d in items if "to_status" in d]
    assert (closed["from_status"], closed["to_status"]) == ("opened", "closed")
    assert closed["occurred_at"].startswith("2026-03-04T15:35:00")
    assert knobs.tokens == {"glpat"}
    # A 429 naming its RateLimit-Reset was waited out until then, not failed.
    assert knobs.early == [] and knobs.waited["/api/v4/projects/group/app/deployments"] >= 1


async def test_a_server_error_that_clears_on_retry_leaves_nothing_out(ingest: Ingest) -> None:
    knobs = fake_apis.Knobs(server_errors={"/api/v4/projects/group/app/issues?page=2": 2})
    async with fake_apis.serving(fake_apis.gitlab_app(knobs)) as url:
        credentials = {"token": "glpat", "api_url": f"{url}/api/v4", "projects": ["group/app"]}
        source = await ingest.source("gitlab", credentials=credentials)
        progress = await backfill(ingest, source)
    assert progress["status"] == "succeeded" and progress["error"] is None, progress
    assert progress["resources"]["group/app:issues"] == {
        "pages": 2,
        "items": 2,
        "events": 4,
        "done": True,
    }
    assert knobs.server_errors == {"/api/v4/projects/group/app/issues?page=2": 0}
    assert len(await ingest.published("sextant.activity", 9)) == 9


async def test_a_failed_gitlab_page_keeps_what_came_before_and_the_backfill_resumes_after_it(
    ingest: Ingest,
) -> None:
    knobs = fake_apis.Knobs(server_errors={"/api/v4/projects/group/app/issues?page=2": 10})
    async with fake_apis.serving(fake_apis.gitlab_app(knobs)) as url:
        credentials = {"token": "glpat", "api_url": f"{url}/api/v4", "projects": ["group/app"]}
        source = await ingest.source("gitlab", credentials=credentials)
        failed = await backfill(ingest, source)
        assert failed["status"] == "failed" and "HTTP 502 after 4 attempts" in failed["error"]
        resources = failed["resources"]
        assert resources["group/app:merge_requests"]["done"] is True
        assert resources["group/app:issues"] == {"pages": 1, "items": 1, "events": 3, "done": False}
        [warning] = await ingest.published("sextant.notifications", 1)
        assert "502" in warning.data["body"]

        knobs.server_errors.clear()
        asked = len(knobs.seen)
        resumed = await backfill(ingest, source)
    assert resumed["status"] == "succeeded" and resumed["id"] == failed["id"]
    assert resumed["resources"]["group/app:issues"]["pages"] == 2
    asked_again = [
        (seen.partition("?")[0].rsplit("/", 1)[1], parse_qs(seen.partition("?")[2]).get("page"))
        for seen in knobs.seen[asked:]
    ]
    assert ("merge_requests", None) not in asked_again, "a finished list was fetched again"
    assert ("issues", None) not in asked_again, "a committed page was fetched again"
    assert ("issues", ["2"]) in asked_again
    events = await ingest.published("sextant.activity", 9)
    assert len(events) == len({e.id for e in events}) == 9


async def test_an_api_that_stays_rate_limited_fails_the_backfill_which_resumes_later(
    ingest: Ingest,
) -> None:
    knobs = fake_apis.Knobs(rate_limit_always={"/rest/api/2/search?startAt=1"})
    async with fake_apis.serving(fake_apis.jira_app(knobs)) as url:
        credentials = {"token": "t", "site_url": url}
        source = await ingest.source("jira", credentials=credentials)
        failed = await backfill(ingest, source)
        assert failed["status"] == "failed" and "still rate limited" in failed["error"]
        assert failed["resources"]["issues"] == {"pages": 1, "items": 1, "events": 4, "done": False}
        [warning] = await ingest.published("sextant.notifications", 1)
        assert "rate limited" in warning.data["body"]

        knobs.rate_limit_always.clear()
        resumed = await backfill(ingest, source)
    assert resumed["status"] == "succeeded" and resumed["id"] == failed["id"]
    assert resumed["resources"]["issues"] == {"pages": 2, "items": 2, "events": 5, "done": True}
    assert len(await ingest.published("sextant.activity", 5)) == 5


@pytest.mark.parametrize(
    ("kind", "credentials", "says"),
    [
        ("github", None, "no API credentials"),
        ("github", {"token": "t"}, "lack: repositories"),
        ("github", {"token": "t", "repositories": "octo-org/octo-repo"}, "repositories (a list)"),
        ("gitlab", {"projects": ["group/app"]}, "lack: token"),
        ("jira", {"token": "t"}, "lack: site_url"),
        ("jira", {"site_url": "https://x.example", "email": "ada@example.com"}, "lack: api_token"),
        ("jira", {"site_url": "https://x.example"}, "lack: token (or email and api_token)"),
        ("generic", {"token": "t"}, "no API to backfill from"),
    ],
)
async def test_a_backfill_without_what_it_needs_is_refused(
    ingest: Ingest, kind: str, credentials: Any, says: str
) -> None:
    extra = {"credentials": credentials} if credentials else {}
    source = await ingest.source(kind, **extra)
    response = await ingest.client.post(
        f"/v1/sources/{source['id']}/backfill",
        json={"since": SINCE},
        headers=ingest.as_role("tenant_admin"),
    )
    assert response.status_code == 400 and says in response.json()["detail"], response.text
    missing = await ingest.client.get(
        f"/v1/sources/{source['id']}/backfill", headers=ingest.as_role("manager")
    )
    assert missing.status_code == 404


async def test_a_backfill_that_cannot_even_start_is_failed_and_told_not_left_running(
    ingest: Ingest,
) -> None:
    """Whatever stops a job while it sets up (here credentials that slipped past the
    check) ends it failed, with the admins told."""
    source = await ingest.source(
        "jira", credentials={"token": "t", "site_url": "https://x.example"}
    )
    async with ingest.state.db.transaction(TENANT) as session:
        row = await service.source_or_404(session, UUID(source["id"]))
        now = datetime.now(UTC)
        job = BackfillRow(uuid7(), TENANT, row.id, now, "running", {}, {}, None, now, now, None)
        await repository.add_backfill(session, job)
    await runner.run(
        ingest.state, row, job, {"site_url": "https://x.example", "email": "ada@example.com"}
    )

    progress = await ingest.client.get(
        f"/v1/sources/{source['id']}/backfill", headers=ingest.as_role("manager")
    )
    assert progress.json()["status"] == "failed"
    assert progress.json()["error"] == "the source's credentials lack: api_token"
    [warning] = await ingest.published("sextant.notifications", 1)
    assert "backfill" in warning.data["title"] and "lack: api_token" in warning.data["body"]


SECRET = "pg-superuser-password-5f1c"  # what an internal service might answer


async def backfill_records(ingest: Ingest, source: dict[str, Any]) -> list[str]:
    """Everything the failed job left for people to read: the progress reply, the stored
    row, the notification."""
    progress = await ingest.client.get(
        f"/v1/sources/{source['id']}/backfill", headers=ingest.as_role("manager")
    )
    rows = await ingest.sql("SELECT error FROM ingest.backfills")
    notices = await ingest.published("sextant.notifications", 1)
    assert progress.json()["status"] == "failed" and rows and notices  # found something
    return [
        progress.text,
        *(str(r["error"]) for r in rows),
        *(n.model_dump_json() for n in notices),
    ]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ((404, {"message": f"Not Found: {SECRET}"}), "HTTP 404, not found"),
        ((401, SECRET), "HTTP 401, the credentials were refused"),
        ((422, {"errors": [SECRET]}), "HTTP 422"),
        # read, but not as the API's: the value it could not read is not quoted either
        ((200, [{"number": 1, "updated_at": SECRET}]), "an answer it could not read"),
    ],
)
async def test_a_failed_backfill_never_repeats_what_the_api_answered(
    ingest: Ingest, answer: tuple[int, Any], says: str
) -> None:
    knobs = fake_apis.Knobs(answers={"/repos/octo-org/octo-repo/pulls": answer})
    async with fake_apis.serving(fake_apis.github_app(knobs)) as url:
        credentials = {"token": "t", "api_url": url, "repositories": ["octo-org/octo-repo"]}
        source = await ingest.source("github", credentials=credentials)
        failed = await backfill(ingest, source)
    assert failed["status"] == "failed" and says in failed["error"], failed
    if answer[0] != 200:  # the status and where, host included
        assert failed["error"].startswith(
            f"127.0.0.1/repos/octo-org/octo-repo/pulls: HTTP {answer[0]}"
        )
    for record in await backfill_records(ingest, source):
        assert SECRET not in record


async def test_a_redirect_to_a_host_off_the_allow_list_is_refused_and_never_followed(
    ingest: Ingest,
) -> None:
    """127.0.0.1 is allowed here, ``localhost`` is not: the API's redirect there is
    refused, and the server behind it never asked."""
    elsewhere = fake_apis.Knobs()
    async with fake_apis.serving(fake_apis.github_app(elsewhere)) as hidden:
        knobs = fake_apis.Knobs(
            redirects={
                "/repos/octo-org/octo-repo": hidden.replace("127.0.0.1", "localhost")
                + "/repos/octo-org/octo-repo"
            }
        )
        async with fake_apis.serving(fake_apis.github_app(knobs)) as url:
            credentials = {"token": "t", "api_url": url, "repositories": ["octo-org/octo-repo"]}
            source = await ingest.source("github", credentials=credentials)
            failed = await backfill(ingest, source)
    assert failed["status"] == "failed", failed
    # plain http to a host off the list (over https: a loopback name)
    assert (
        failed["error"] == "refused by the egress policy: http://localhost: only https is allowed"
    )
    assert knobs.seen == ["/repos/octo-org/octo-repo?"] and elsewhere.seen == []
