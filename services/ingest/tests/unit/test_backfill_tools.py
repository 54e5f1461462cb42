"""Each tool's backfill against its fake API in process (no servers, no database): the
payloads it hands the normalizers, and the choices it makes per site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from fastapi import FastAPI

from sextant.ingest.backfill import gitlab, jira
from sextant.ingest.backfill.api import Api
from sextant.ingest.backfill.pages import Fetch

from ..fixtures import fake_apis

SINCE = datetime(2026, 2, 1, tzinfo=UTC)


async def fetched(
    fetch: Fetch, app: FastAPI, credentials: dict[str, Any], base_url: str = "http://fake"
) -> list[tuple[str | None, dict[str, Any]]]:
    """Every payload of every page ``fetch`` yields against ``app``."""
    api = Api(base_url, {}, transport=httpx.ASGITransport(app))
    try:
        return [
            payload
            async for page in fetch(api, credentials, SINCE, {})
            for payload in page.payloads
        ]
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("site_url", "first"),
    [
        ("https://acme.atlassian.net", jira.CLOUD_SEARCH),
        ("https://api.atlassian.com/ex/jira/11223344-a1b2", jira.CLOUD_SEARCH),
        ("https://jira.example.org", jira.SERVER_SEARCH),
        ("http://127.0.0.1:8080/jira", jira.SERVER_SEARCH),
    ],
)
def test_a_jira_cloud_site_is_searched_the_cloud_way_first(site_url: str, first: str) -> None:
    assert jira.searches(site_url)[0] == first


async def test_a_cloud_address_that_answers_like_data_center_falls_back_to_its_search() -> None:
    """A site under an Atlassian address that has no ``/search/jql`` (404) is searched
    the Data Center way, with the same webhooks from it."""
    knobs = fake_apis.Knobs()
    sent = await fetched(
        jira.fetch,
        fake_apis.jira_app(knobs, "data_center"),
        {"site_url": "https://acme.atlassian.net"},
    )
    searched = [seen.partition("?")[0] for seen in knobs.seen if "/search" in seen]
    assert searched == ["/rest/api/3/search/jql", "/rest/api/2/search", "/rest/api/2/search"]
    assert [(p["webhookEvent"], p["issue"]["key"]) for _, p in sent] == [
        ("jira:issue_created", "ENG-7"),
        ("jira:issue_updated", "ENG-7"),
        ("jira:issue_updated", "ENG-7"),
        ("jira:issue_created", "ENG-8"),
    ]


async def test_a_merged_gitlab_merge_request_carries_its_commits_from_every_page() -> None:
    knobs = fake_apis.Knobs()
    credentials = {"token": "t", "projects": ["group/app"]}
    sent = await fetched(
        gitlab.fetch, fake_apis.gitlab_app(knobs), credentials, "http://fake/api/v4"
    )
    merges = [p for _, p in sent if p.get("object_attributes", {}).get("action") == "merge"]
    assert [(m["object_attributes"]["iid"], m["sextant"]) for m in merges] == [
        (4, {"commit_shas": ["c4" * 20, "bb" * 20]})
    ]
    asked = [seen.partition("?")[0] for seen in knobs.seen if "/commits" in seen]
    assert asked == ["/api/v4/projects/group/app/merge_requests/4/commits"] * 2  # two pages


def test_times_sent_to_the_tools_keep_four_digit_years() -> None:
    """``%Y`` writes year 1 as ``1`` on Linux, which no tool reads as a date."""
    from sextant.ingest.backfill.api import utc

    assert utc(datetime(1, 1, 2, tzinfo=UTC)) == "0001-01-02T00:00:00Z"
    east = timezone(timedelta(hours=2))
    assert utc(datetime(2026, 3, 4, 5, 6, 7, tzinfo=east)) == "2026-03-04T03:06:07Z"


async def test_a_jira_search_from_the_first_years_spells_its_date_in_full() -> None:
    knobs = fake_apis.Knobs()
    api = Api(
        "http://fake", {}, transport=httpx.ASGITransport(fake_apis.jira_app(knobs, "data_center"))
    )
    try:
        async for _ in jira.fetch(
            api, {"site_url": "https://jira.example.org"}, datetime(1, 1, 3, tzinfo=UTC), {}
        ):
            pass
    finally:
        await api.close()
    searches = [unquote_plus(seen) for seen in knobs.seen if "/search" in seen]
    assert searches, "the fake Jira saw no search"
    assert all('updated >= "0001-01-02 00:00"' in seen for seen in searches)
