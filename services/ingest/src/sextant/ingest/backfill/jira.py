"""Jira REST: issues updated since the start, with their changelogs, through a JQL
search (``startAt`` paging, or ``nextPageToken`` on Cloud's newer search); and, for the
boards named in the credentials, their sprints through the agile API.

A webhook carries the issue as it stood at that moment; the API gives it as it stands
now, with its history. So each history entry becomes the webhook Jira would have sent
then — the status set to what it was after that change, with its category from
``/rest/api/2/status`` — and the normalizer (and the fact ids) are the webhook's own.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sextant.ingest.backfill.api import Api
from sextant.ingest.backfill.pages import Page, start_of
from sextant.ingest.normalize.base import timestamp


def missing(credentials: dict[str, Any]) -> list[str]:
    """The site, and a token (OAuth 2.0 or a Data Center PAT) or an Atlassian account's
    email with its API token."""
    lacking = [] if credentials.get("site_url") else ["site_url"]
    if credentials.get("token"):
        return lacking
    basic = ("email", "api_token")
    if any(credentials.get(name) for name in basic):
        return lacking + [name for name in basic if not credentials.get(name)]
    return [*lacking, "token (or email and api_token)"]


def connect(credentials: dict[str, Any]) -> Api:
    if credentials.get("token"):
        authorization = f"Bearer {credentials['token']}"
    else:
        pair = f"{credentials['email']}:{credentials['api_token']}".encode()
        authorization = f"Basic {base64.b64encode(pair).decode()}"
    headers = {"Authorization": authorization, "Accept": "application/json"}
    return Api(str(credentials["site_url"]), headers)


async def fetch(
    api: Api, credentials: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    categories = {
        status["name"]: status.get("statusCategory", {}).get("key", "undefined")
        for status in (await api.get("/rest/api/2/status")).json()
    }
    scope = credentials.get("jql")
    jql = f'updated >= "{since:%Y-%m-%d %H:%M}" ORDER BY updated ASC'
    if scope:
        jql = f"({scope}) AND {jql}"
    query = {"jql": jql, "expand": "changelog", "maxResults": 100, "fields": "*navigable"}
    url = start_of("issues", checkpoint, f"/rest/api/2/search?{urlencode(query | {'startAt': 0})}")
    while url:
        body = (await api.get(url)).json()
        issues = body.get("issues") or []
        page = Page("issues", _next(body, query, len(issues)), items=len(issues))
        for issue in issues:
            page.payloads.extend((None, payload) for payload in as_webhooks(issue, categories))
        yield page
        url = page.cursor
    for board in credentials.get("boards") or []:
        async for page in _sprints(api, str(board), since, checkpoint):
            yield page


async def _sprints(
    api: Api, board: str, since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    """A board's active and closed sprints (Jira Software's agile API), each with the
    issues it holds: started with its scope, closed with what was done and what was not."""
    resource = f"sprints:{board}"
    first = f"/rest/agile/1.0/board/{board}/sprint?state=active,closed&maxResults=50&startAt=0"
    url = start_of(resource, checkpoint, first)
    while url:
        body = (await api.get(url)).json()
        sprints = body.get("values") or []
        start = int(body.get("startAt", 0))
        more = not body.get("isLast", True) and sprints
        page = Page(
            resource,
            f"/rest/agile/1.0/board/{board}/sprint?state=active,closed&maxResults=50&startAt={start + len(sprints)}"
            if more
            else None,
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
        body = (
            await api.get(
                f"/rest/agile/1.0/sprint/{sprint_id}/issue?fields=status&maxResults=100&startAt={start}"
            )
        ).json()
        batch = body.get("issues") or []
        issues.extend(batch)
        start += len(batch)
        if not batch or start >= int(body.get("total", 0)):
            return issues


def _next(body: dict[str, Any], query: dict[str, Any], count: int) -> str | None:
    if body.get("nextPageToken"):
        return (
            f"/rest/api/3/search/jql?{urlencode(query | {'nextPageToken': body['nextPageToken']})}"
        )
    start, total = int(body.get("startAt", 0)), int(body.get("total", 0))
    if count and start + count < total:
        return f"/rest/api/2/search?{urlencode(query | {'startAt': start + count})}"
    return None


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
            }
        )
    return sent
