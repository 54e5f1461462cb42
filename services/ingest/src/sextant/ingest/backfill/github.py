"""GitHub REST: pull requests (with reviews and commits), issues, deployments (with
statuses), per repository in the source's ``repositories`` list; signed in with a token
or as a GitHub App installation (:mod:`.github_app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sextant.ingest.backfill import github_app
from sextant.ingest.backfill.api import Api, every_item, next_link, query, utc
from sextant.ingest.backfill.pages import Page, start_of, unlisted
from sextant.ingest.normalize.base import timestamp

DEFAULT_API = "https://api.github.com"


def missing(credentials: dict[str, Any]) -> list[str]:
    """A token, or a GitHub App installation (app_id, private_key, installation_id);
    and the repositories."""
    lacking = unlisted(credentials, "repositories")
    if credentials.get("token"):
        return lacking
    if not any(credentials.get(name) for name in github_app.CREDENTIALS):
        return [*lacking, "token (or app_id, private_key and installation_id)"]
    lacking += [name for name in github_app.CREDENTIALS if not credentials.get(name)]
    if credentials.get("private_key"):
        try:
            github_app.private_key(str(credentials["private_key"]))
        except ValueError as exc:
            lacking.append(f"a usable private_key ({exc})")
    return lacking


def connect(credentials: dict[str, Any], **options: Any) -> Api:
    api_url = str(credentials.get("api_url") or DEFAULT_API)
    if credentials.get("token"):
        token = {"Authorization": f"Bearer {credentials['token']}"}
        return Api(api_url, github_app.HEADERS | token, **options)
    auth = github_app.InstallationAuth(
        api_url,
        str(credentials["app_id"]),
        github_app.private_key(str(credentials["private_key"])),
        str(credentials["installation_id"]),
    )
    return Api(api_url, github_app.HEADERS, auth=auth, **options)


async def fetch(
    api: Api, credentials: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    for name in credentials.get("repositories") or []:
        repo = (await api.get(f"/repos/{name}")).json()
        async for page in _pulls(api, name, repo, since, checkpoint):
            yield page
        async for page in _issues(api, name, repo, since, checkpoint):
            yield page
        async for page in _deployments(api, name, repo, since, checkpoint):
            yield page


async def _pulls(
    api: Api, name: str, repo: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    resource = f"{name}:pulls"
    first = query(
        f"/repos/{name}/pulls", state="all", sort="updated", direction="desc", per_page=100
    )
    url = start_of(resource, checkpoint, first)
    while url:
        response = await api.get(url)
        page = Page(resource, next_link(response))
        for pr in response.json():
            if timestamp(pr["updated_at"], "updated_at") < since:
                page.cursor = None  # newest first: the rest is older than the backfill
                break
            page.items += 1
            base = {"pull_request": pr, "repository": repo, "sender": pr.get("user")}
            page.payloads.append(("pull_request", base | {"action": "opened"}))
            if pr.get("merged_at"):
                commits = await every_item(
                    api, f"/repos/{name}/pulls/{pr['number']}/commits?per_page=100"
                )
                merged = pr | {"merged": True}
                page.payloads.append(
                    (
                        "pull_request",
                        {
                            **base,
                            "action": "closed",
                            "pull_request": merged,
                            "sextant": {"commit_shas": [c["sha"] for c in commits]},
                        },
                    )
                )
            elif pr.get("closed_at"):
                page.payloads.append(("pull_request", base | {"action": "closed"}))
            for review in await every_item(
                api, f"/repos/{name}/pulls/{pr['number']}/reviews?per_page=100"
            ):
                page.payloads.append(
                    ("pull_request_review", base | {"action": "submitted", "review": review})
                )
        yield page
        url = page.cursor


async def _issues(
    api: Api, name: str, repo: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    resource = f"{name}:issues"
    first = query(
        f"/repos/{name}/issues",
        state="all",
        sort="updated",
        direction="asc",
        per_page=100,
        since=utc(since),
    )
    url = start_of(resource, checkpoint, first)
    while url:
        response = await api.get(url)
        page = Page(resource, next_link(response))
        for issue in response.json():
            if "pull_request" in issue:
                continue  # pull requests are read from /pulls
            page.items += 1
            base = {"issue": issue, "repository": repo, "sender": issue.get("user")}
            page.payloads.append(("issues", base | {"action": "opened"}))
            if issue.get("state") == "closed" and issue.get("closed_at"):
                page.payloads.append(
                    ("issues", base | {"action": "closed", "sender": issue.get("closed_by")})
                )
        yield page
        url = page.cursor


async def _deployments(
    api: Api, name: str, repo: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    resource = f"{name}:deployments"
    url = start_of(resource, checkpoint, query(f"/repos/{name}/deployments", per_page=100))
    while url:
        response = await api.get(url)
        page = Page(resource, next_link(response))
        for deployment in response.json():
            if timestamp(deployment["created_at"], "created_at") < since:
                page.cursor = None  # newest first
                break
            page.items += 1
            for status in await every_item(
                api, f"/repos/{name}/deployments/{deployment['id']}/statuses?per_page=100"
            ):
                page.payloads.append(
                    (
                        "deployment_status",
                        {"deployment_status": status, "deployment": deployment, "repository": repo},
                    )
                )
        yield page
        url = page.cursor
