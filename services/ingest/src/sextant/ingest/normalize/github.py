"""GitHub webhook payloads (the event name comes from ``X-GitHub-Event``)."""

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
    WorkItemDeleted,
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

KIND = "github"


def actor(ctx: Context, user: Any) -> Actor | None:
    if not isinstance(user, dict):
        return None
    login = user.get("login") or user.get("username")
    return Actor(
        kind=KIND,
        account_id=str(user["id"]) if user.get("id") is not None else None,
        login=login,
        email=user.get("email"),
        display_name=user.get("name"),
        is_bot=user.get("type") == "Bot" or ctx.rules.is_bot(login, user.get("email")),
    )


def repository(payload: dict[str, Any]) -> Repository:
    repo = need(payload, "repository")
    return Repository(
        external_id=str(need(repo, "id")),
        full_name=need(repo, "full_name"),
        url=repo.get("html_url"),
    )


def account(ctx: Context, payload: Any, path: str) -> Actor:
    """The account at ``path``, required: :class:`Malformed` naming it when it is missing
    or is not an object (an ``assert`` here was a 500 for a signed delivery)."""
    found = actor(ctx, need(payload, path))
    if found is None:
        raise Malformed(f"the payload's {path} is not an account object")
    return found


def change_request(ctx: Context, payload: dict[str, Any]) -> ChangeRequest:
    pr = need(payload, "pull_request")
    author = account(ctx, payload, "pull_request.user")
    base = need(pr, "base.ref")
    return ChangeRequest(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(pr, "id")),
            url=pr.get("html_url"),
        ),
        repository=repository(payload),
        number=need(pr, "number"),
        title=pr.get("title") or "",
        author=author,
        base_branch=base,
        into_default_branch=ctx.rules.is_default_branch(
            base, maybe(payload, "repository.default_branch")
        ),
        head_branch=need(pr, "head.ref"),
        head_sha=maybe(pr, "head.sha"),
        draft=bool(pr.get("draft")),
        labels=[label["name"] for label in pr.get("labels") or [] if "name" in label],
        created_at=timestamp(need(pr, "created_at"), "pull_request.created_at"),
    )


UPDATE_ACTIONS = {
    "synchronize": ["head_sha"],
    "edited": [],
    "labeled": ["labels"],
    "unlabeled": ["labels"],
    "ready_for_review": ["draft"],
    "converted_to_draft": ["draft"],
    "assigned": ["assignees"],
    "unassigned": ["assignees"],
    "review_requested": ["reviewers"],
    "review_request_removed": ["reviewers"],
}


def pull_request(ctx: Context, payload: dict[str, Any]) -> Normalized:
    action = payload.get("action")
    cr = change_request(ctx, payload)
    pr = payload["pull_request"]
    entity = f"change_request:{cr.repository.external_id}:{cr.number}"
    sender = actor(ctx, payload.get("sender"))
    if action in ("opened", "reopened"):
        at = (
            cr.created_at if action == "opened" else timestamp(need(pr, "updated_at"), "updated_at")
        )
        return Normalized(
            [
                Fact(
                    ChangeRequestOpened(change_request=cr, occurred_at=at),
                    entity,
                    f"{action}:{version_time(at)}",
                )
            ]
        )
    if action == "closed":
        if pr.get("merged"):
            merged_at = timestamp(need(pr, "merged_at"), "pull_request.merged_at")
            # The webhook lists no commits; a backfill or the commit lister adds the
            # tool's list, so squash merges keep lead time.
            shas, commits_source = merged_commits(ctx, payload, cr.head_sha)
            merged = ChangeRequestMerged(
                change_request=cr,
                merge_sha=need(pr, "merge_commit_sha"),
                commit_shas=shas,
                commits_source=commits_source,
                merged_by=actor(ctx, pr.get("merged_by")) or sender,
                merged_at=merged_at,
            )
            return Normalized([Fact(merged, entity, "merged")])
        closed_at = timestamp(need(pr, "closed_at"), "pull_request.closed_at")
        closed = ChangeRequestClosed(change_request=cr, closed_by=sender, closed_at=closed_at)
        return Normalized([Fact(closed, entity, f"closed:{version_time(closed_at)}")])
    if action in UPDATE_ACTIONS:
        at = timestamp(need(pr, "updated_at"), "pull_request.updated_at")
        changes = UPDATE_ACTIONS[action] or sorted((payload.get("changes") or {}).keys())
        updated = ChangeRequestUpdated(
            change_request=cr, changes=changes, actor=sender, occurred_at=at
        )
        return Normalized([Fact(updated, entity, f"{action}:{version_time(at)}")])
    return Normalized.ignore(f"pull_request action {action!r} changes nothing Sextant tracks")


REVIEW_STATES = {
    "approved": "approved",
    "changes_requested": "changes_requested",
    "commented": "commented",
}


def pull_request_review(ctx: Context, payload: dict[str, Any]) -> Normalized:
    if payload.get("action") != "submitted":
        return Normalized.ignore(
            f"pull_request_review action {payload.get('action')!r} is not a submission"
        )
    review = need(payload, "review")
    state = str(need(review, "state")).lower()
    if state not in REVIEW_STATES:
        return Normalized.ignore(f"a review in state {state!r} is not a verdict")
    cr = change_request(ctx, payload)
    reviewer = account(ctx, payload, "review.user")
    submitted = ReviewSubmitted(
        change_request=cr,
        review_id=str(need(review, "id")),
        reviewer=reviewer,
        state=REVIEW_STATES[state],
        occurred_at=timestamp(need(review, "submitted_at"), "review.submitted_at"),
    )
    entity = f"change_request:{cr.repository.external_id}:{cr.number}"
    return Normalized([Fact(submitted, entity, f"review:{submitted.review_id}")])


def _commit_person(ctx: Context, person: Any) -> Actor:
    person = person if isinstance(person, dict) else {}
    return Actor(
        kind=KIND,
        login=person.get("username"),
        email=person.get("email"),
        display_name=person.get("name"),
        is_bot=ctx.rules.is_bot(person.get("username"), person.get("name"), person.get("email")),
    )


def push(ctx: Context, payload: dict[str, Any]) -> Normalized:
    ref = str(need(payload, "ref"))
    if not ref.startswith("refs/heads/"):
        return Normalized.ignore(f"a push to {ref} is not a branch push")
    if payload.get("deleted"):
        return Normalized.ignore(f"{ref} was deleted; no commits arrived")
    repo = repository(payload)
    commits = []
    for raw in payload.get("commits") or []:
        authored = timestamp(need(raw, "timestamp"), "commits[].timestamp")
        commits.append(
            Commit(
                sha=need(raw, "id"),
                title=str(raw.get("message") or "").split("\n", 1)[0],
                author=_commit_person(ctx, raw.get("author")),
                committer=_commit_person(ctx, raw.get("committer")),
                authored_at=authored,
            )
        )
    pusher_raw = payload.get("pusher") or {}
    sender = actor(ctx, payload.get("sender"))
    pusher = Actor(
        kind=KIND,
        account_id=sender.account_id if sender and sender.login == pusher_raw.get("name") else None,
        login=pusher_raw.get("name"),
        email=pusher_raw.get("email"),
        is_bot=ctx.rules.is_bot(pusher_raw.get("name"), pusher_raw.get("email")),
    )
    head = payload.get("head_commit") or {}
    occurred = head.get("timestamp") or (commits[-1].authored_at.isoformat() if commits else None)
    if occurred is None:
        occurred = need(payload, "repository.pushed_at")
    branch = ref.removeprefix("refs/heads/")
    pushed = CommitsPushed(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=f"{repo.external_id}:{ref}:{need(payload, 'after')}",
            url=payload.get("compare"),
        ),
        repository=repo,
        branch=branch,
        into_default_branch=ctx.rules.is_default_branch(
            branch, maybe(payload, "repository.default_branch")
        ),
        before_sha=payload.get("before"),
        after_sha=need(payload, "after"),
        forced=bool(payload.get("forced")),
        pusher=pusher,
        commits=commits,
        occurred_at=timestamp(occurred, "push time"),
    )
    return Normalized(
        [Fact(pushed, f"branch:{repo.external_id}:{pushed.branch}", pushed.after_sha)]
    )


def work_item(ctx: Context, payload: dict[str, Any]) -> WorkItem:
    issue = need(payload, "issue")
    repo = repository(payload)
    labels = [label["name"] for label in issue.get("labels") or [] if "name" in label]
    state = str(issue.get("state") or "open")
    return WorkItem(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(issue, "id")),
            url=issue.get("html_url"),
        ),
        key=f"{repo.full_name}#{need(issue, 'number')}",
        title=issue.get("title") or "",
        item_type=ctx.rules.item_type(maybe(issue, "type.name"), labels),
        project=repo.full_name,
        status=state,
        status_category="done" if state == "closed" else "todo",
        labels=labels,
        assignee=actor(ctx, issue.get("assignee")),
        reporter=actor(ctx, issue.get("user")),
        created_at=timestamp(need(issue, "created_at"), "issue.created_at"),
    )


def issues(ctx: Context, payload: dict[str, Any]) -> Normalized:
    action = payload.get("action")
    if "pull_request" in (payload.get("issue") or {}):
        return Normalized.ignore(
            "an issue event about a pull request; pull_request events cover it"
        )
    item = work_item(ctx, payload)
    entity = f"work_item:{item.key}"
    sender = actor(ctx, payload.get("sender"))
    issue = payload["issue"]
    at = timestamp(issue.get("updated_at") or issue["created_at"], "issue.updated_at")
    version = f"{action}:{version_time(at)}"
    if action == "opened":
        return Normalized(
            [
                Fact(
                    WorkItemCreated(work_item=item, actor=sender, occurred_at=item.created_at),
                    entity,
                    "created",
                )
            ]
        )
    if action in ("closed", "reopened"):
        if action == "closed":  # versioned by closed_at, which a backfill sees too
            at = maybe_timestamp(issue.get("closed_at"), "issue.closed_at") or at
            version = f"closed:{version_time(at)}"
        return open_or_closed(
            item,
            closed=action == "closed",
            open_status="open",
            by=sender,
            at=at,
            version=version,
            resolution=issue.get("state_reason"),
        )
    if action in ("assigned", "unassigned"):
        assigned = WorkItemAssigned(
            work_item=item, assignee=item.assignee, actor=sender, occurred_at=at
        )
        return Normalized([Fact(assigned, entity, version)])
    if action == "deleted":
        deleted = WorkItemDeleted(source=item.source, key=item.key, actor=sender, occurred_at=at)
        return Normalized([Fact(deleted, entity, "deleted")])
    return Normalized.ignore(f"issues action {action!r} changes nothing Sextant tracks")


DEPLOYMENT_STATES = {
    "pending": "in_progress",
    "queued": "in_progress",
    "in_progress": "in_progress",
    "success": "success",
    "failure": "failure",
    "error": "failure",
}


def deployment_status(ctx: Context, payload: dict[str, Any]) -> Normalized:
    status = need(payload, "deployment_status")
    deployment = need(payload, "deployment")
    state = str(need(status, "state"))
    if state not in DEPLOYMENT_STATES:
        return Normalized.ignore(
            f"deployment state {state!r} (superseded or unknown) is not an outcome"
        )
    environment = status.get("environment") or need(deployment, "environment")
    at = timestamp(
        status.get("updated_at") or need(status, "created_at"), "deployment_status.created_at"
    )
    mapped = DEPLOYMENT_STATES[state]
    changed = DeploymentStatusChanged(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(deployment, "id")),
            url=status.get("target_url") or None,
        ),
        repository=repository(payload),
        environment=environment,
        is_production=ctx.rules.is_production(environment),
        sha=need(deployment, "sha"),
        status=mapped,
        started_at=maybe_timestamp(deployment.get("created_at"), "deployment.created_at"),
        finished_at=at if mapped != "in_progress" else None,
        deployed_by=actor(ctx, deployment.get("creator")),
        occurred_at=at,
    )
    return Normalized(
        [Fact(changed, f"deployment:{deployment['id']}", f"{state}:{version_time(at)}")]
    )


BUILD_CONCLUSIONS = {
    "success": "success",
    "failure": "failed",
    "timed_out": "failed",
    "startup_failure": "failed",
    "cancelled": "cancelled",
}


def workflow_run(ctx: Context, payload: dict[str, Any]) -> Normalized:
    if payload.get("action") != "completed":
        return Normalized.ignore("only completed workflow runs are builds")
    run = need(payload, "workflow_run")
    conclusion = str(run.get("conclusion"))
    if conclusion not in BUILD_CONCLUSIONS:
        return Normalized.ignore(f"a workflow run concluded {conclusion!r} did not build")
    started = maybe_timestamp(run.get("run_started_at"), "workflow_run.run_started_at")
    finished = timestamp(need(run, "updated_at"), "workflow_run.updated_at")
    build = BuildFinished(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(run, "id")),
            url=run.get("html_url"),
        ),
        repository=repository(payload),
        name=run.get("name") or maybe(payload, "workflow.name") or f"run {run['id']}",
        status=BUILD_CONCLUSIONS[conclusion],
        sha=run.get("head_sha"),
        branch=run.get("head_branch"),
        started_at=started,
        finished_at=finished,
        duration_seconds=max((finished - started).total_seconds(), 0) if started else None,
        triggered_by=actor(ctx, run.get("triggering_actor") or run.get("actor")),
    )
    return Normalized([Fact(build, f"build:{run['id']}", f"{run.get('run_attempt', 1)}")])


IGNORED = {
    "ping": "GitHub's hello when the hook is created",
    "deployment": "deployments count from their deployment_status events",
    "check_run": "CI outcomes come from workflow_run",
    "check_suite": "CI outcomes come from workflow_run",
    "workflow_job": "CI outcomes come from workflow_run (per run, not per job)",
    "status": "commit statuses are not builds Sextant tracks",
    "create": "branch and tag creation carries no commits",
    "delete": "branch and tag deletion carries no commits",
    "release": "releases are not deployments (DORA counts deployments)",
    "issue_comment": "comments are not tracked",
    "pull_request_review_comment": "review comments are not tracked (reviews are)",
    "installation": "app installation is configuration, not activity",
    "member": "repository membership is configuration, not activity",
    "repository": "repository settings are configuration, not activity",
}

HANDLERS: dict[str, Callable[[Context, dict[str, Any]], Normalized]] = {
    "pull_request": pull_request,
    "pull_request_review": pull_request_review,
    "push": push,
    "issues": issues,
    "deployment_status": deployment_status,
    "workflow_run": workflow_run,
}


def normalize(ctx: Context, event: str | None, payload: dict[str, Any]) -> Normalized:
    if not event:
        raise Malformed("the X-GitHub-Event header is missing")
    if event in IGNORED:
        return Normalized.ignore(IGNORED[event])
    handler = HANDLERS.get(event)
    if handler is None:
        return Normalized.ignore(f"GitHub event {event!r} is not one Sextant reads")
    return handler(ctx, payload)
