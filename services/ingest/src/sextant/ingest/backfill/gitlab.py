"""GitLab REST (v4): merge requests, issues, pipelines and deployments updated since the
start, per project in the source's ``projects`` list (ids or full paths). Each object is
reshaped into the webhook GitLab sends for it, so one normalizer serves both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from sextant.ingest.backfill.api import Api, every_item, next_link, query, utc
from sextant.ingest.backfill.pages import Page, start_of, unlisted

DEFAULT_API = "https://gitlab.com/api/v4"


def missing(credentials: dict[str, Any]) -> list[str]:
    return ([] if credentials.get("token") else ["token"]) + unlisted(credentials, "projects")


def connect(credentials: dict[str, Any], **options: Any) -> Api:
    headers = {"PRIVATE-TOKEN": str(credentials["token"])}
    return Api(str(credentials.get("api_url") or DEFAULT_API), headers, **options)


async def fetch(
    api: Api, credentials: dict[str, Any], since: datetime, checkpoint: dict[str, str]
) -> AsyncIterator[Page]:
    for ref in credentials.get("projects") or []:
        project_id = quote(str(ref), safe="")
        project = (await api.get(f"/projects/{project_id}")).json()
        base = f"/projects/{project_id}"
        common = {
            "updated_after": utc(since),
            "order_by": "updated_at",
            "sort": "asc",
            "per_page": 100,
        }
        readers = (
            (
                "merge_requests",
                query(f"{base}/merge_requests", scope="all", **common),
                _merge_request,
            ),
            ("issues", query(f"{base}/issues", scope="all", **common), _issue),
            ("pipelines", query(f"{base}/pipelines", **common), _pipeline),
            ("deployments", query(f"{base}/deployments", **common), _deployment),
        )
        for name, first, reshape in readers:
            url = start_of(f"{ref}:{name}", checkpoint, first)
            while url:
                response = await api.get(url)
                page = Page(f"{ref}:{name}", next_page(response))
                for item in response.json():
                    page.items += 1
                    page.payloads.extend(reshape(await _in_full(api, base, name, item), project))
                yield page
                url = page.cursor


async def _in_full(api: Api, base: str, name: str, item: dict[str, Any]) -> dict[str, Any]:
    """What a list leaves out and the webhook needs: a pipeline's finished_at (from the
    pipeline itself), a merged merge request's commits (lead time follows the commits
    through a squash merge, as GitHub's backfill does)."""
    if name == "pipelines":
        detail: dict[str, Any] = (await api.get(f"{base}/pipelines/{item['id']}")).json()
        return detail
    if name == "merge_requests" and item.get("merged_at"):
        commits = query(f"{base}/merge_requests/{item['iid']}/commits", per_page=100)
        return item | {"commits": await every_item(api, commits, next_page)}
    return item


def next_page(response: httpx.Response) -> str | None:
    """The URL just asked with GitLab's ``X-Next-Page``: its Link header names the host
    GitLab believes it has, which behind a proxy may be one we cannot reach; the Link
    only when there is no page number (keyset pagination)."""
    number = response.headers.get("x-next-page")
    if number:
        return str(response.request.url.copy_set_param("page", number))
    return next_link(response)


def _labels(item: dict[str, Any]) -> list[dict[str, str]]:
    return [{"title": label} for label in item.get("labels") or []]


def _merge_request(mr: dict[str, Any], project: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def hook(action: str, at: str, user: Any, **extra: Any) -> tuple[str, dict[str, Any]]:
        attributes = {
            "id": mr["id"],
            "iid": mr["iid"],
            "title": mr.get("title"),
            "author_id": (mr.get("author") or {}).get("id"),
            "source_branch": mr["source_branch"],
            "target_branch": mr["target_branch"],
            "state": mr.get("state"),
            "action": action,
            "draft": mr.get("draft", False),
            "merge_commit_sha": mr.get("merge_commit_sha") or mr.get("squash_commit_sha"),
            "last_commit": {"id": mr.get("sha")},
            "url": mr.get("web_url"),
            "created_at": mr["created_at"],
            "updated_at": at,
        }
        body = {
            "object_kind": "merge_request",
            "user": user,
            "project": project,
            "object_attributes": attributes,
            "labels": _labels(mr),
            **extra,
        }
        return ("Merge Request Hook", body)

    hooks = [hook("open", mr["created_at"], mr.get("author"))]
    if mr.get("merged_at"):
        # Not in GitLab's hook: the commits, passed as GitHub's backfill passes them.
        commits = {"commit_shas": [commit["id"] for commit in mr.get("commits") or []]}
        merged_by = mr.get("merged_by") or mr.get("merge_user")
        hooks.append(hook("merge", mr["merged_at"], merged_by, sextant=commits))
    elif mr.get("closed_at"):
        hooks.append(hook("close", mr["closed_at"], mr.get("closed_by")))
    return hooks


def _issue(issue: dict[str, Any], project: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def hook(action: str, user: Any) -> tuple[str, dict[str, Any]]:
        attributes = {
            "id": issue["id"],
            "iid": issue["iid"],
            "title": issue.get("title"),
            "state": "closed" if action == "close" else "opened",
            "action": action,
            "author_id": (issue.get("author") or {}).get("id"),
            "type": issue.get("issue_type"),
            "created_at": issue["created_at"],
            "updated_at": issue.get("updated_at"),
            "closed_at": issue.get("closed_at"),
            "url": issue.get("web_url"),
        }
        body = {
            "object_kind": "issue",
            "user": user,
            "project": project,
            "object_attributes": attributes,
            "labels": _labels(issue),
            "assignees": issue.get("assignees") or [],
        }
        return ("Issue Hook", body)

    hooks = [hook("open", issue.get("author"))]
    if issue.get("state") == "closed" and issue.get("closed_at"):
        hooks.append(hook("close", issue.get("closed_by")))
    return hooks


def _pipeline(
    pipeline: dict[str, Any], project: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    attributes = {
        "id": pipeline["id"],
        "status": pipeline.get("status"),
        "ref": pipeline.get("ref"),
        "sha": pipeline.get("sha"),
        "created_at": pipeline.get("created_at"),
        "finished_at": pipeline.get("finished_at") or pipeline.get("updated_at"),
        "duration": pipeline.get("duration"),
        "url": pipeline.get("web_url"),
        "name": pipeline.get("name"),
    }
    body = {
        "object_kind": "pipeline",
        "object_attributes": attributes,
        "project": project,
        "user": pipeline.get("user"),
    }
    return [("Pipeline Hook", body)]


def _deployment(
    deployment: dict[str, Any], project: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    environment = deployment.get("environment") or {}
    body = {
        "object_kind": "deployment",
        "status": deployment.get("status"),
        "status_changed_at": deployment.get("updated_at"),
        "deployment_id": deployment["id"],
        "environment": environment.get("name"),
        "environment_tier": environment.get("tier"),
        "commit_url": f"{project.get('web_url')}/-/commit/{deployment.get('sha')}",
        "short_sha": str(deployment.get("sha") or "")[:8],
        "project": project,
        "user": deployment.get("user"),
    }
    return [("Deployment Hook", body)]
