"""GitLab webhook payloads (the event name comes from ``X-Gitlab-Event``, e.g. ``Push Hook``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sextant.contracts.events.activity import (
    BuildFinished,
    ChangeRequest,
    ChangeRequestClosed,
    ChangeRequestMerged,
    ChangeRequestOpened,
    ChangeRequestUpdated,
    Commit,
    CommitsPushed,
    DeploymentStatusChanged,
    ReviewSubmitted,
    WorkItem,
    WorkItemAssigned,
    WorkItemCreated,
)
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.ingest.normalize.base import (
    Context,
    Fact,
    Malformed,
    Normalized,
    maybe,
    maybe_timestamp,
    merged_commits,
    need,
    open_or_closed,
    timestamp,
    version_time,
)

KIND = "gitlab"


def actor(ctx: Context, user: Any) -> Actor | None:
    if not isinstance(user, dict):
        return None
    login = user.get("username")
    return Actor(
        kind=KIND,
        account_id=str(user["id"]) if user.get("id") is not None else None,
        login=login,
        email=user.get("email") or None,
        display_name=user.get("name"),
        is_bot=bool(user.get("bot"))
        or ctx.rules.is_bot(login, user.get("name"), user.get("email")),
    )


def project(payload: dict[str, Any]) -> Repository:
    proj = need(payload, "project")
    return Repository(
        external_id=str(
            proj.get("id") or payload.get("project_id") or need(proj, "path_with_namespace")
        ),
        full_name=need(proj, "path_with_namespace"),
        url=proj.get("web_url"),
    )


def _labels(payload: dict[str, Any]) -> list[str]:
    return [label["title"] for label in payload.get("labels") or [] if "title" in label]


def merge_request(ctx: Context, payload: dict[str, Any]) -> Normalized:
    attrs = need(payload, "object_attributes")
    action = attrs.get("action")
    user = actor(ctx, payload.get("user"))
    author = user if action == "open" and user else None
    if author is None or str(attrs.get("author_id", author.account_id)) != author.account_id:
        author = Actor(kind=KIND, account_id=str(need(attrs, "author_id")))
    target = need(attrs, "target_branch")
    cr = ChangeRequest(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(attrs, "id")),
            url=attrs.get("url"),
        ),
        repository=project(payload),
        number=need(attrs, "iid"),
        title=attrs.get("title") or "",
        author=author,
        base_branch=target,
        into_default_branch=ctx.rules.is_default_branch(
            target,  # the target project's (the hook's project is the target project too)
            maybe(attrs, "target.default_branch") or maybe(payload, "project.default_branch"),
        ),
        head_branch=need(attrs, "source_branch"),
        head_sha=(attrs.get("last_commit") or {}).get("id"),
        draft=bool(attrs.get("draft") or attrs.get("work_in_progress")),
        labels=_labels(payload),
        created_at=timestamp(need(attrs, "created_at"), "object_attributes.created_at"),
    )
    entity = f"change_request:{cr.repository.external_id}:{cr.number}"
    # The hook has no closed_at or merged_at: its updated_at is the time of the action,
    # and a backfill passes the REST API's closed_at or merged_at as updated_at.
    updated_at = timestamp(
        attrs.get("updated_at") or attrs["created_at"], "object_attributes.updated_at"
    )
    version = f"{action}:{version_time(updated_at)}"
    if action == "open":  # versioned by creation time, which a backfill sees too
        opened = ChangeRequestOpened(change_request=cr, occurred_at=cr.created_at)
        return Normalized([Fact(opened, entity, f"open:{version_time(cr.created_at)}")])
    if action == "reopen":
        opened = ChangeRequestOpened(change_request=cr, occurred_at=updated_at)
        return Normalized([Fact(opened, entity, version)])
    if action == "merge":
        # The hook lists no commits; a backfill or the commit lister adds the merge
        # request's own (sextant.commit_shas), so squash merges keep their lead time.
        shas, commits_source = merged_commits(ctx, payload, cr.head_sha)
        merged = ChangeRequestMerged(
            change_request=cr,
            merge_sha=attrs.get("merge_commit_sha") or need(attrs, "last_commit.id"),
            commit_shas=shas,
            commits_source=commits_source,
            merged_by=user,
            merged_at=updated_at,
        )
        return Normalized([Fact(merged, entity, "merged")])
    if action == "close":
        closed = ChangeRequestClosed(change_request=cr, closed_by=user, closed_at=updated_at)
        return Normalized([Fact(closed, entity, version)])
    if action in ("approved", "approval"):
        if user is None:
            raise Malformed("an approval names no user")
        review = ReviewSubmitted(
            change_request=cr,
            review_id=f"approval:{user.account_id}:{version_time(updated_at)}",
            reviewer=user,
            state="approved",
            occurred_at=updated_at,
        )
        return Normalized([Fact(review, entity, version)])
    if action == "update":
        changes = sorted((payload.get("changes") or {}).keys())
        updated = ChangeRequestUpdated(
            change_request=cr, changes=changes, actor=user, occurred_at=updated_at
        )
        return Normalized([Fact(updated, entity, version)])
    return Normalized.ignore(f"merge request action {action!r} changes nothing Sextant tracks")


def push(ctx: Context, payload: dict[str, Any]) -> Normalized:
    ref = str(need(payload, "ref"))
    if not ref.startswith("refs/heads/"):
        return Normalized.ignore(f"a push to {ref} is not a branch push")
    after = str(need(payload, "after"))
    if set(after) == {"0"}:
        return Normalized.ignore(f"{ref} was deleted; no commits arrived")
    repo = project(payload)
    commits = [
        Commit(
            sha=need(raw, "id"),
            title=raw.get("title") or str(raw.get("message") or "").split("\n", 1)[0],
            author=Actor(
                kind=KIND,
                email=(raw.get("author") or {}).get("email"),
                display_name=(raw.get("author") or {}).get("name"),
                is_bot=ctx.rules.is_bot(
                    (raw.get("author") or {}).get("name"), (raw.get("author") or {}).get("email")
                ),
            ),
            authored_at=timestamp(need(raw, "timestamp"), "commits[].timestamp"),
        )
        for raw in payload.get("commits") or []
    ]
    pusher = Actor(
        kind=KIND,
        account_id=str(payload["user_id"]) if payload.get("user_id") is not None else None,
        login=payload.get("user_username"),
        email=payload.get("user_email") or None,
        display_name=payload.get("user_name"),
        is_bot=ctx.rules.is_bot(payload.get("user_username"), payload.get("user_name")),
    )
    latest = max((c.authored_at for c in commits), default=None)
    if latest is None:
        return Normalized.ignore(
            "a push with no commits listed (e.g. a new branch at an old commit)"
        )
    branch = ref.removeprefix("refs/heads/")
    pushed = CommitsPushed(
        source=SourceRef(
            kind=KIND, source_id=ctx.source_id, external_id=f"{repo.external_id}:{ref}:{after}"
        ),
        repository=repo,
        branch=branch,
        into_default_branch=ctx.rules.is_default_branch(
            branch, maybe(payload, "project.default_branch")
        ),
        before_sha=payload.get("before"),
        after_sha=after,
        pusher=pusher,
        commits=commits,
        occurred_at=latest,
    )
    return Normalized([Fact(pushed, f"branch:{repo.external_id}:{pushed.branch}", after)])


def issue(ctx: Context, payload: dict[str, Any]) -> Normalized:
    attrs = need(payload, "object_attributes")
    action = attrs.get("action")
    repo = project(payload)
    labels = _labels(payload)
    state = str(attrs.get("state") or "opened")
    assignees = payload.get("assignees") or []
    item = WorkItem(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(attrs, "id")),
            url=attrs.get("url"),
        ),
        key=f"{repo.full_name}#{need(attrs, 'iid')}",
        title=attrs.get("title") or "",
        item_type=ctx.rules.item_type(attrs.get("type") or attrs.get("issue_type"), labels),
        project=repo.full_name,
        status=state,
        status_category="done" if state == "closed" else "todo",
        labels=labels,
        assignee=actor(ctx, assignees[0]) if assignees else None,
        reporter=Actor(kind=KIND, account_id=str(attrs["author_id"]))
        if attrs.get("author_id") is not None
        else None,
        created_at=timestamp(need(attrs, "created_at"), "object_attributes.created_at"),
    )
    user = actor(ctx, payload.get("user"))
    at = timestamp(attrs.get("updated_at") or attrs["created_at"], "object_attributes.updated_at")
    entity, version = f"work_item:{item.key}", f"{action}:{version_time(at)}"
    if action == "open":
        return Normalized(
            [
                Fact(
                    WorkItemCreated(work_item=item, actor=user, occurred_at=item.created_at),
                    entity,
                    "created",
                )
            ]
        )
    if action in ("close", "reopen"):
        if action == "close":  # versioned by closed_at, which a backfill sees too
            at = maybe_timestamp(attrs.get("closed_at"), "closed_at") or at
            version = f"close:{version_time(at)}"
        return open_or_closed(
            item, closed=action == "close", open_status="opened", by=user, at=at, version=version
        )
    if action == "update" and "assignees" in (payload.get("changes") or {}):
        return Normalized(
            [
                Fact(
                    WorkItemAssigned(
                        work_item=item, assignee=item.assignee, actor=user, occurred_at=at
                    ),
                    entity,
                    version,
                )
            ]
        )
    return Normalized.ignore(f"issue action {action!r} changes nothing Sextant tracks")


PIPELINE_STATUSES = {"success": "success", "failed": "failed", "canceled": "cancelled"}


def pipeline(ctx: Context, payload: dict[str, Any]) -> Normalized:
    attrs = need(payload, "object_attributes")
    status = str(need(attrs, "status"))
    if status not in PIPELINE_STATUSES:
        return Normalized.ignore(f"a pipeline in status {status!r} has not finished")
    finished = timestamp(need(attrs, "finished_at"), "object_attributes.finished_at")
    build = BuildFinished(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(attrs, "id")),
            url=attrs.get("url"),
        ),
        repository=project(payload),
        name=attrs.get("name") or f"pipeline {attrs['id']}",
        status=PIPELINE_STATUSES[status],
        sha=attrs.get("sha"),
        branch=attrs.get("ref"),
        started_at=maybe_timestamp(attrs.get("created_at"), "object_attributes.created_at"),
        finished_at=finished,
        duration_seconds=attrs.get("duration"),
        triggered_by=actor(ctx, payload.get("user")),
    )
    return Normalized([Fact(build, f"build:{attrs['id']}", f"{status}:{version_time(finished)}")])


DEPLOYMENT_STATUSES = {
    "running": "in_progress",
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
}


def deployment(ctx: Context, payload: dict[str, Any]) -> Normalized:
    status = str(need(payload, "status"))
    if status not in DEPLOYMENT_STATUSES:
        return Normalized.ignore(f"deployment status {status!r} is not an outcome")
    at = timestamp(need(payload, "status_changed_at"), "status_changed_at")
    commit_url = str(payload.get("commit_url") or "")
    sha = commit_url.rsplit("/", 1)[-1] if "/commit/" in commit_url else need(payload, "short_sha")
    environment = str(need(payload, "environment"))
    mapped = DEPLOYMENT_STATUSES[status]
    changed = DeploymentStatusChanged(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(payload, "deployment_id")),
            url=payload.get("deployable_url"),
        ),
        repository=project(payload),
        environment=environment,
        is_production=payload.get("environment_tier") == "production"
        or ctx.rules.is_production(environment),
        sha=sha,
        status=mapped,
        finished_at=at if mapped != "in_progress" else None,
        deployed_by=actor(ctx, payload.get("user")),
        occurred_at=at,
    )
    # A deployment reaches each status once (a retry is a new deployment), so the status
    # is its version: the hook's status_changed_at is stamped after the commit and the
    # API's updated_at at the save, and the two can fall in different seconds.
    return Normalized([Fact(changed, f"deployment:{payload['deployment_id']}", status)])


IGNORED = {
    "Tag Push Hook": "tags carry no new commits on a branch",
    "Note Hook": "comments are not tracked",
    "Confidential Note Hook": "comments are not tracked",
    "Job Hook": "CI outcomes come from pipelines (per pipeline, not per job)",
    "Release Hook": "releases are not deployments (DORA counts deployments)",
    "Milestone Hook": "milestones are not tracked",
    "Member Hook": "membership is configuration, not activity",
    "Subgroup Hook": "groups are configuration, not activity",
    "Wiki Page Hook": "wiki edits are not tracked",
    "Feature Flag Hook": "feature flags are not tracked",
    "Emoji Hook": "reactions are not tracked",
}

HANDLERS: dict[str, Callable[[Context, dict[str, Any]], Normalized]] = {
    "Merge Request Hook": merge_request,
    "Push Hook": push,
    "Issue Hook": issue,
    "Confidential Issue Hook": issue,
    "Pipeline Hook": pipeline,
    "Deployment Hook": deployment,
}


def normalize(ctx: Context, event: str | None, payload: dict[str, Any]) -> Normalized:
    if not event:
        raise Malformed("the X-Gitlab-Event header is missing")
    if event in IGNORED:
        return Normalized.ignore(IGNORED[event])
    handler = HANDLERS.get(event)
    if handler is None:
        return Normalized.ignore(f"GitLab event {event!r} is not one Sextant reads")
    return handler(ctx, payload)
