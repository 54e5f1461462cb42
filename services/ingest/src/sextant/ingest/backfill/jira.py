"""Jira REST: issues updated since the start, with their changelogs, through a JQL
search; and, for the boards named in the credentials, their sprints through the agile API.

Two searches: Jira Cloud removed ``/rest/api/2|3/search`` in 2025 (CHANGE-2046: it
answers 410) for ``/rest/api/3/search/jql``, paged by ``nextPageToken``, whose changelog
may be cut short (the rest is paged from the issue's own changelog); Data Center and
Server only have ``/rest/api/2/search``, paged by ``startAt``. An Atlassian Cloud address
starts with Cloud's, any other with Data Center's, and a 404 or 410 switches to the other.

A webhook carries the issue as it stood at that moment; the API gives it as it stands
now, with its history. So each history entry becomes the webhook Jira would have sent
then — the status set to what it was after that change, with its category from
``/rest/api/2/status`` — and the normalizer (and the fact ids) are the webhook's own.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from sextant.ingest.backfill.api import Api, ApiError, query
from sextant.ingest.backfill.pages import Page, start_of
from sextant.ingest.normalize.base import timestamp

log = structlog.get_logger()

CLOUD_SEARCH = "/rest/api/3/search/jql"
SERVER_SEARCH = "/rest/api/2/search"
# Everything a list view can show, custom fields included: story points live in a custom
# field whose id differs from site to site, and the new search returns only ids unless told.
FIELDS = "*navigable"


OAUTH = "oauth"  # credentials marked so sign in with the source's OAuth grant (StoredBearer)


def with_grant(credentials: dict[str, Any], api_url: str, cloud_id: str) -> dict[str, Any]:
    """The credentials of a source connected with OAuth 2.0: its JQL and boards as they
    are, the API at ``<api_url>/ex/jira/<cloud id>`` (Cloud's, signed in by the grant)."""
    site = f"{api_url.rstrip('/')}/ex/jira/{cloud_id}"
    return {**credentials, "site_url": site, OAUTH: True}


def missing(credentials: dict[str, Any]) -> list[str]:
    """The site, and a token (OAuth 2.0 or a Data Center PAT) or an Atlassian account's
    email with its API token — or a grant from connecting with OAuth 2.0."""
    lacking = [] if credentials.get("site_url") else ["site_url"]
    if credentials.get("token") or credentials.get(OAUTH):
        return lacking
    basic = ("email", "api_token")
    if any(credentials.get(name) for name in basic):
        return lacking + [name for name in basic if not credentials.get(name)]
    return [*lacking, "token (or email and api_token)"]


def connect(credentials: dict[str, Any], **options: Any) -> Api:
    """The site's API, signed in; an OAuth grant's bearer comes with ``options``' auth."""
    if credentials.get(OAUTH):
        return Api(str(credentials["site_url"]), {"Accept": "application/json"}, **options)
    if credentials.get("token"):
        authorization = f"Bearer {credentials['token']}"
    else:
        pair = f"{credentials['email']}:{credentials['api_token']}".encode()
        authorization = f"Basic {base64.b64encode(pair).decode()}"
    headers = {"Authorization": authorization, "Accept": "application/json"}
    return Api(str(credentials["site_url"]), headers, **options)


def searches(site_url: str, cloud: bool = False) -> tuple[str, str]:
    """The search endpoint to try first on this site (``cloud``: an OAuth grant's, always
    Cloud), and the one to fall back to."""
    host = httpx.URL(site_url).host
    if cloud or host.endswith(".atlassian.net") or host == "api.atlassian.com":
        return CLOUD_SEARCH, SERVER_SEARCH
    return SERVER_SEARCH, CLOUD_SEARCH


async def fetch(
    api: Api, credentials: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    categories = {
        status["name"]: status.get("statusCategory", {}).get("key", "undefined")
        for status in (await api.get("/rest/api/2/status")).json()
    }
    scope = credentials.get("jql")
    # JQL reads the time in the Jira user's own time zone, which is not known here: a day
    # earlier covers every zone, and what is read twice is the same facts, under one id.
    start = since - timedelta(days=1)
    jql = f'updated >= "{start.year:04d}-{start:%m-%d %H:%M}" ORDER BY updated ASC'
    if scope:
        jql = f"({scope}) AND {jql}"
    search = {"jql": jql, "expand": "changelog", "fields": FIELDS, "maxResults": 100}
    first, fallback = searches(str(credentials["site_url"]), bool(credentials.get(OAUTH)))
    url = start_of("issues", checkpoint, _first_page(first, search))
    while url:
        try:
            body = (await api.get(url)).json()
        except ApiError as exc:
            if exc.status not in (404, 410) or url.startswith(fallback):
                raise
            log.info("backfill.jira_search_moved", tried=url.partition("?")[0], then=fallback)
            url = _first_page(fallback, search)  # a new start: the same facts again are one
            continue
        issues = body.get("issues") or []
        page = Page("issues", _next_page(url, body, search, len(issues)), items=len(issues))
        for issue in issues:
            if url.startswith(CLOUD_SEARCH):
                issue = await _with_whole_changelog(api, issue)
            page.payloads.extend((None, payload) for payload in as_webhooks(issue, categories))
        yield page
        url = page.cursor
    for board in credentials.get("boards") or []:
        async for page in _sprints(api, str(board), since, checkpoint):
            yield page


def _first_page(endpoint: str, search: dict[str, Any]) -> str:
    offset = {} if endpoint == CLOUD_SEARCH else {"startAt": 0}  # Cloud's pages by token
    return query(endpoint, **search, **offset)


def _next_page(url: str, body: dict[str, Any], search: dict[str, Any], count: int) -> str | None:
    if url.startswith(CLOUD_SEARCH):
        token = body.get("nextPageToken")
        if token and not body.get("isLast"):
            return query(CLOUD_SEARCH, **search, nextPageToken=token)
        return None
    start, total = int(body.get("startAt", 0)), int(body.get("total", 0))
    if count and start + count < total:
        return query(SERVER_SEARCH, **search, startAt=start + count)
    return None


async def _with_whole_changelog(api: Api, issue: dict[str, Any]) -> dict[str, Any]:
    """The issue with all its history: Cloud's search may return only part of a long
    changelog (``total`` says how much there is); the issue's changelog pages the rest."""
    changelog = issue.get("changelog") or {}
    histories = changelog.get("histories") or []
    if int(changelog.get("total") or 0) <= len(histories):
        return issue
    path = f"/rest/api/3/issue/{issue['key']}/changelog"
    every: list[dict[str, Any]] = []
    while True:
        page = (await api.get(query(path, startAt=len(every), maxResults=100))).json()
        values = page.get("values") or []
        every.extend(values)
        if not values or page.get("isLast", True):
            return issue | {"changelog": {"startAt": 0, "total": len(every), "histories": every}}


async def _sprints(
    api: Api, board: str, since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    """A board's active and closed sprints (Jira Software's agile API), each with the
    issues it holds: started with its scope, closed with what was done and what was not."""
    resource = f"sprints:{board}"

    def sprints_from(start: int) -> str:
        path = f"/rest/agile/1.0/board/{board}/sprint"
        return query(path, state="active,closed", maxResults=50, startAt=start)

    url = start_of(resource, checkpoint, sprints_from(0))
    while url:
        body = (await api.get(url)).json()
        sprints = body.get("values") or []
        more = not body.get("isLast", True) and sprints
        page = Page(
            resource, sprints_from(int(body.get("startAt", 0)) + len(sprints)) if more else None
        )
        for sprint in sprints:
            ended = sprint.get("completeDate") or sprint.get("endDate")
            if ended and timestamp(ended, "sprint end") < since:
                continue  # over before the backfill's start
            page.items += 1
            issues = await _sprint_issues(api, sprint["id"])
            keys = [issue["key"] for issue in issues]
            if sprint.get("startDate"):
                page.payloads.append(
                    (
                        None,
                        {
                            "webhookEvent": "sprint_started",
                            "timestamp": sprint["startDate"],
                            "sprint": sprint,
                            "sextant": {"item_keys": keys},
                        },
                    )
                )
            if sprint.get("state") == "closed":
                done = {
                    issue["key"]
                    for issue in issues
                    if ((issue.get("fields") or {}).get("status") or {})
                    .get("statusCategory", {})
                    .get("key")
                    == "done"
                }
                page.payloads.append(
                    (
                        None,
                        {
                            "webhookEvent": "sprint_closed",
                            "timestamp": ended,
                            "sprint": sprint,
                            "sextant": {
                                "completed_keys": [k for k in keys if k in done],
                                "incomplete_keys": [k for k in keys if k not in done],
                            },
                        },
                    )
                )
        yield page
        url = page.cursor


async def _sprint_issues(api: Api, sprint_id: Any) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    start = 0
    while True:
        path = f"/rest/agile/1.0/sprint/{sprint_id}/issue"
        body = (await api.get(query(path, fields="status", maxResults=100, startAt=start))).json()
        batch = body.get("issues") or []
        issues.extend(batch)
        start += len(batch)
        if not batch or start >= int(body.get("total", 0)):
            return issues


def as_webhooks(issue: dict[str, Any], categories: dict[str, str]) -> list[dict[str, Any]]:
    """The webhooks this issue's creation and history would have sent, oldest first."""
    fields = issue.get("fields") or {}
    histories = sorted(
        (issue.get("changelog") or {}).get("histories") or [], key=lambda h: str(h.get("created"))
    )
    status_changes = [
        item
        for h in histories
        for item in h.get("items") or []
        if str(item.get("field")).lower() == "status"
    ]
    current = (fields.get("status") or {}).get("name")
    status = status_changes[0].get("fromString") if status_changes else current

    def as_of(name: str | None) -> dict[str, Any]:
        snapshot = {"name": name, "statusCategory": {"key": categories.get(str(name), "undefined")}}
        return {**issue, "fields": {**fields, "status": snapshot}}

    sent = [
        {
            "webhookEvent": "jira:issue_created",
            "timestamp": fields.get("created"),
            "user": fields.get("creator") or fields.get("reporter"),
            "issue": as_of(status),
        }
    ]
    for history in histories:
        for item in history.get("items") or []:
            if str(item.get("field")).lower() == "status":
                status = item.get("toString")
        sent.append(
            {
                "webhookEvent": "jira:issue_updated",
                "timestamp": history.get("created"),
                "user": history.get("author"),
                "issue": as_of(status),
                "changelog": {"id": history.get("id"), "items": history.get("items") or []},
                # the site's statuses, so a transition knows the category it left
                "sextant": {"status_categories": categories},
            }
        )
    return sent
