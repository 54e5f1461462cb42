"""Jira webhook payloads (Cloud and Server/Data Center; the event is in ``webhookEvent``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sextant.contracts.events.activity import (
    Sprint,
    SprintClosed,
    SprintScopeChanged,
    SprintStarted,
    WorkItem,
    WorkItemAssigned,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import Actor, SourceRef, StatusCategory
from sextant.ingest.normalize.base import (
    Context,
    Fact,
    Malformed,
    Normalized,
    maybe,
    maybe_timestamp,
    need,
    timestamp,
    version_time,
)

KIND = "jira"

# Jira's three status categories (``statusCategory.key``) map one to one.
CATEGORIES: dict[str, StatusCategory] = {
    "new": "todo",
    "undefined": "todo",
    "indeterminate": "in_progress",
    "done": "done",
}


def actor(ctx: Context, user: Any) -> Actor | None:
    """Cloud users have ``accountId``; Server users ``name`` and ``key``."""
    if not isinstance(user, dict):
        return None
    login = user.get("name") or user.get("key")
    account = user.get("accountId") or user.get("key")
    return Actor(
        kind=KIND,
        account_id=str(account) if account else None,
        login=login,
        email=user.get("emailAddress") or None,
        display_name=user.get("displayName"),
        is_bot=user.get("accountType") == "app"
        or ctx.rules.is_bot(login, user.get("displayName"), user.get("emailAddress")),
    )


def _site(issue: dict[str, Any]) -> str | None:
    self_url = str(issue.get("self") or "")
    return self_url.split("/rest/", 1)[0] if "/rest/" in self_url else None


def work_item(ctx: Context, issue: dict[str, Any], sent_at: datetime | None = None) -> WorkItem:
    """The issue as it stands; ``sent_at`` stands in for a creation time the payload lacks."""
    fields = need(issue, "fields")
    key = str(need(issue, "key"))
    labels = [str(label) for label in fields.get("labels") or []]
    category = str(maybe(fields, "status.statusCategory.key") or "undefined")
    site = _site(issue)
    return WorkItem(
        source=SourceRef(
            kind=KIND,
            source_id=ctx.source_id,
            external_id=str(need(issue, "id")),
            url=f"{site}/browse/{key}" if site else None,
        ),
        key=key,
        title=fields.get("summary") or "",
        item_type=ctx.rules.item_type(maybe(fields, "issuetype.name"), labels),
        project=maybe(fields, "project.key"),
        status=str(need(fields, "status.name")),
        status_category=CATEGORIES.get(category, "todo"),
        labels=labels,
        story_points=_story_points(fields),
        parent_key=maybe(fields, "parent.key"),
        assignee=actor(ctx, fields.get("assignee")),
        reporter=actor(ctx, fields.get("reporter")),
        created_at=timestamp(need(fields, "created"), "issue.fields.created")
        if fields.get("created") or sent_at is None
        else sent_at,
    )


def _story_points(fields: dict[str, Any]) -> float | None:
    for name in ("story_points", "storyPoints", "customfield_10016", "customfield_10002"):
        value = fields.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _sent_at(payload: dict[str, Any]) -> datetime | None:
    return maybe_timestamp(payload.get("timestamp"), "timestamp")


def _when(payload: dict[str, Any], fallback: datetime) -> datetime:
    return _sent_at(payload) or fallback


def issue_created(ctx: Context, payload: dict[str, Any]) -> Normalized:
    item = work_item(ctx, need(payload, "issue"), _sent_at(payload))
    created = WorkItemCreated(
        work_item=item, actor=actor(ctx, payload.get("user")), occurred_at=item.created_at
    )
    return Normalized([Fact(created, f"work_item:{item.key}", "created")])


def issue_updated(ctx: Context, payload: dict[str, Any]) -> Normalized:
    issue = need(payload, "issue")
    item = work_item(ctx, issue, _sent_at(payload))
    user = actor(ctx, payload.get("user"))
    at = _when(
        payload, timestamp(maybe(issue, "fields.updated") or item.created_at.isoformat(), "updated")
    )
    entity = f"work_item:{item.key}"
    changelog = payload.get("changelog") or {}
    version = f"{changelog.get('id') or version_time(at)}"
    facts: list[Fact] = []
    for change in changelog.get("items") or []:
        field = str(change.get("field") or "").lower()
        if field == "status":
            moved = WorkItemTransitioned(
                work_item=item,
                from_status=change.get("fromString"),
                to_status=change.get("toString") or item.status,
                from_category=_category_before(change, _statuses_shown(payload)),
                to_category=item.status_category,
                actor=user,
                occurred_at=at,
            )
            facts.append(Fact(moved, entity, f"{version}:status"))
        elif field == "resolution" and change.get("to"):
            resolved = WorkItemResolved(
                work_item=item, resolution=change.get("toString"), actor=user, occurred_at=at
            )
            facts.append(Fact(resolved, entity, f"{version}:resolution"))
        elif field == "assignee":
            assigned = WorkItemAssigned(
                work_item=item, assignee=item.assignee, actor=user, occurred_at=at
            )
            facts.append(Fact(assigned, entity, f"{version}:assignee"))
        elif field == "sprint":
            facts.extend(_sprint_moves(ctx, item, change, at, version))
    if not facts and payload.get("issue_event_type_name") == "issue_assigned":
        # Some Jira versions announce an assignment with an empty changelog.
        assigned = WorkItemAssigned(
            work_item=item, assignee=item.assignee, actor=user, occurred_at=at
        )
        facts.append(Fact(assigned, entity, f"{version}:assignee"))
    if not facts:
        kinds = sorted({str(c.get("field")) for c in changelog.get("items") or []})
        what = ", ".join(kinds) if kinds else payload.get("issue_event_type_name") or "nothing"
        return Normalized.ignore(f"the update changed {what}: nothing Sextant tracks")
    return Normalized(facts)


def _statuses_shown(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every status the payload shows with its category: the issue's own (as it is after
    the change), its parent's, its subtasks' and its linked issues', and the statuses a
    backfill lists from the site (``sextant.status_categories``: name to category key)."""
    fields = maybe(payload, "issue.fields") or {}
    links = [link for link in fields.get("issuelinks") or [] if isinstance(link, dict)]
    others = [
        fields.get("parent"),
        *(fields.get("subtasks") or []),
        *(link.get("inwardIssue") or link.get("outwardIssue") for link in links),
    ]
    shown = [fields.get("status"), *(maybe(other, "fields.status") for other in others)]
    listed = maybe(payload, "sextant.status_categories") or {}
    shown += [{"name": name, "statusCategory": {"key": key}} for name, key in listed.items()]
    return [status for status in shown if maybe(status, "statusCategory.key")]


def _category_before(change: dict[str, Any], shown: list[dict[str, Any]]) -> StatusCategory | None:
    """The category of the status a changelog item left, when the payload shows that status.

    Jira's changelog names the old status (``from`` is its id, ``fromString`` its name) but
    not its category; a status has one category across the site, so wherever the payload
    shows it, it tells. Ids are compared when both sides have one (team-managed projects
    may reuse a name), names otherwise. A status the payload does not show stays None:
    guessing from a name like "Done" would be wrong wherever a site recategorised it.
    """
    old_id, old_name = change.get("from"), change.get("fromString")
    for status in shown:
        seen_id = status.get("id")
        if seen_id is not None and old_id is not None:
            same = str(seen_id) == str(old_id)
        else:
            same = old_name is not None and status.get("name") == old_name
        if same:
            return CATEGORIES.get(str(maybe(status, "statusCategory.key")))
    return None


def _sprint_moves(
    ctx: Context, item: WorkItem, change: dict[str, Any], at: datetime, version: str
) -> list[Fact]:
    """A Sprint changelog item lists sprint ids (``from``/``to``) and names, comma-separated."""

    def parse(ids: Any, names: Any) -> dict[str, str]:
        name_list = [n.strip() for n in str(names or "").split(",") if n.strip()]
        # Ids are the stable reference; some payloads carry only names, which then stand in.
        id_list = [i.strip() for i in str(ids or "").split(",") if i.strip()] or name_list
        return {i: (name_list[n] if n < len(name_list) else i) for n, i in enumerate(id_list)}

    before = parse(change.get("from"), change.get("fromString"))
    after = parse(change.get("to"), change.get("toString"))
    facts = []
    for sprint_id, name in {**before, **after}.items():
        if (sprint_id in before) == (sprint_id in after):
            continue
        sprint = Sprint(
            source=SourceRef(kind=KIND, source_id=ctx.source_id, external_id=sprint_id), name=name
        )
        moved = SprintScopeChanged(
            sprint=sprint,
            added_keys=[item.key] if sprint_id in after else [],
            removed_keys=[item.key] if sprint_id in before else [],
            occurred_at=at,
        )
        facts.append(Fact(moved, f"sprint:{sprint_id}", f"{version}:{item.key}"))
    return facts


def issue_deleted(ctx: Context, payload: dict[str, Any]) -> Normalized:
    issue = need(payload, "issue")
    item = work_item(ctx, issue, _sent_at(payload))
    at = _when(payload, item.created_at)
    deleted = WorkItemDeleted(
        source=item.source, key=item.key, actor=actor(ctx, payload.get("user")), occurred_at=at
    )
    return Normalized([Fact(deleted, f"work_item:{item.key}", "deleted")])


def sprint_event(ctx: Context, payload: dict[str, Any]) -> Normalized:
    raw = need(payload, "sprint")
    sprint_id = str(need(raw, "id"))
    sprint = Sprint(
        source=SourceRef(
            kind=KIND, source_id=ctx.source_id, external_id=sprint_id, url=raw.get("self")
        ),
        name=str(need(raw, "name")),
        board=str(raw["originBoardId"]) if raw.get("originBoardId") is not None else None,
        goal=raw.get("goal") or None,
        starts_at=maybe_timestamp(raw.get("startDate"), "sprint.startDate"),
        ends_at=maybe_timestamp(raw.get("endDate"), "sprint.endDate"),
    )
    # Webhooks name no issues; a backfill adds them (``sextant.*_keys``) from the sprint.
    extra = payload.get("sextant") or {}
    if payload["webhookEvent"] == "sprint_started":
        at = sprint.starts_at or timestamp(need(payload, "timestamp"), "timestamp")
        started = SprintStarted(
            sprint=sprint, item_keys=extra.get("item_keys") or [], occurred_at=at
        )
        return Normalized([Fact(started, f"sprint:{sprint_id}", "started")])
    at = maybe_timestamp(raw.get("completeDate"), "sprint.completeDate") or timestamp(
        need(payload, "timestamp"), "timestamp"
    )
    closed = SprintClosed(
        sprint=sprint,
        completed_keys=extra.get("completed_keys") or [],
        incomplete_keys=extra.get("incomplete_keys") or [],
        occurred_at=at,
    )
    return Normalized([Fact(closed, f"sprint:{sprint_id}", "closed")])


IGNORED_PREFIXES = (
    "comment_",
    "worklog_",
    "issuelink_",
    "attachment_",
    "project_",
    "version_",
    "user_",
    "board_",
    "option_",
)


def normalize(ctx: Context, event: str | None, payload: dict[str, Any]) -> Normalized:
    name = payload.get("webhookEvent")
    if not isinstance(name, str) or not name:
        raise Malformed("the payload has no webhookEvent")
    if name == "jira:issue_created":
        return issue_created(ctx, payload)
    if name == "jira:issue_updated":
        return issue_updated(ctx, payload)
    if name == "jira:issue_deleted":
        return issue_deleted(ctx, payload)
    if name in ("sprint_started", "sprint_closed"):
        return sprint_event(ctx, payload)
    if name.startswith(IGNORED_PREFIXES):
        return Normalized.ignore(f"Jira {name} is not activity Sextant tracks")
    return Normalized.ignore(f"Jira event {name!r} is not one Sextant reads")
