"""Tool payloads become canonical events that keep every identifier and SHA downstream
needs; what Sextant does not track is ignored with a reason, and what it cannot read
is reported as Malformed with what is wrong."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sextant.contracts.events.activity import (
    ChangeRequestMerged,
    CommitsPushed,
    DeploymentStatusChanged,
    WorkItemCreated,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, Malformed, normalize

from ..fixtures import payloads

SOURCE = uuid.UUID("01890000-0000-7000-8000-000000000001")
CTX = Context(SOURCE, MappingRules())
CORPORA = Path(__file__).resolve().parents[4].parent / "shared" / "corpora"


def only(kind: str, event: str | None, payload: dict[str, Any]) -> Any:
    [fact] = normalize(kind, CTX, event, payload).facts  # type: ignore[arg-type]
    return fact.event


def test_a_merged_pull_request_carries_merge_and_head_shas_and_the_authors_ids() -> None:
    merged = only("github", "pull_request", payloads.github_pull_request("closed", merged=True))
    assert isinstance(merged, ChangeRequestMerged)
    assert merged.merge_sha == "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
    assert merged.commit_shas == ["6dcb09b5b57875f334f61aebed695e2e4193db5e"]
    author = merged.change_request.author
    assert (author.account_id, author.login, author.is_bot) == ("583231", "octocat", False)
    assert merged.merged_by is not None and merged.merged_by.login == "hubot"


def test_a_push_lists_each_commit_with_its_author_email() -> None:
    pushed = only("github", "push", payloads.github_push())
    assert isinstance(pushed, CommitsPushed)
    assert [c.sha[:4] for c in pushed.commits] == ["1111", "6dcb"]
    assert pushed.commits[0].title == "Cache the widget"
    assert pushed.commits[0].author.email == "583231+octocat@users.noreply.github.com"
    assert pushed.commits[0].authored_at.isoformat() == "2026-03-02T09:05:00+00:00"


def test_a_jira_transition_carries_from_and_to_status_and_category() -> None:
    moved = only(
        "jira",
        None,
        payloads.jira_transitioned(
            "To Do", "In Progress", "indeterminate", changelog_id="1", at_ms=1772528400000
        ),
    )
    assert isinstance(moved, WorkItemTransitioned)
    assert (moved.from_status, moved.to_status, moved.to_category) == (
        "To Do",
        "In Progress",
        "in_progress",
    )
    assert moved.work_item.story_points == 3.0
    assert (
        moved.work_item.assignee is not None and moved.work_item.assignee.email == "ada@example.com"
    )


def test_a_jira_resolution_is_a_transition_and_a_resolution() -> None:
    facts = normalize(
        "jira",
        CTX,
        None,
        payloads.jira_transitioned(
            "In Progress", "Done", "done", changelog_id="2", at_ms=1772614800000, resolution="Fixed"
        ),
    ).facts
    kinds = {type(f.event) for f in facts}
    assert kinds == {WorkItemTransitioned, WorkItemResolved}


def test_mapping_rules_decide_item_types_and_production() -> None:
    created = only("jira", None, payloads.jira_created(issue_type="Outage"))
    assert isinstance(created, WorkItemCreated) and created.work_item.item_type == "outage"
    rules = MappingRules(incident_types=["Outage"], production_environments=["prod-*"])
    ctx = Context(SOURCE, rules)
    [fact] = normalize("jira", ctx, None, payloads.jira_created(issue_type="Outage")).facts
    assert fact.event.work_item.item_type == "incident"  # type: ignore[attr-defined]
    [deployed] = normalize("generic", ctx, None, payloads.generic_deployment("prod-eu")).facts
    assert isinstance(deployed.event, DeploymentStatusChanged) and deployed.event.is_production
    [staging] = normalize("generic", ctx, None, payloads.generic_deployment("staging")).facts
    assert not staging.event.is_production  # type: ignore[attr-defined]


def test_a_gitlab_merge_carries_the_merge_sha() -> None:
    merged = only("gitlab", "Merge Request Hook", payloads.gitlab_merge_request("merge"))
    assert isinstance(merged, ChangeRequestMerged)
    assert merged.merge_sha == "aa" * 20 and merged.commit_shas == ["bb" * 20]
    assert merged.change_request.repository.full_name == "group/app"


def test_the_same_fact_gets_the_same_event_id_every_time() -> None:
    body = payloads.github_pull_request("closed", merged=True)
    first = normalize("github", CTX, "pull_request", body).facts[0].event_id(SOURCE)
    again = (
        normalize("github", CTX, "pull_request", json.loads(json.dumps(body)))
        .facts[0]
        .event_id(SOURCE)
    )
    other_source = normalize("github", CTX, "pull_request", body).facts[0].event_id(uuid.uuid4())
    assert first == again != other_source


def test_what_sextant_does_not_track_is_ignored_with_a_reason() -> None:
    result = normalize("github", CTX, "ping", {"zen": "Keep it simple."})
    assert result.facts == [] and "hello" in (result.ignored or "")
    labelled = normalize("github", CTX, "pull_request", payloads.github_pull_request("locked"))
    assert "locked" in (labelled.ignored or "")


@pytest.mark.parametrize(
    ("kind", "event", "payload", "says"),
    [
        ("github", None, {"action": "opened"}, "X-GitHub-Event"),
        (
            "github",
            "pull_request",
            {"action": "opened", "repository": payloads.REPO},
            "pull_request",
        ),
        ("jira", None, {"issue": {}}, "webhookEvent"),
        ("generic", None, {"type": "deployment", "id": "x"}, "environment"),
        ("generic", None, {"type": "pager"}, "type"),
        ("github", "push", [1, 2], "JSON object"),
        (
            "github",
            "push",
            {
                "ref": "refs/heads/x",
                "after": "a",
                "repository": payloads.REPO,
                "commits": [{"id": "a", "timestamp": "yesterday"}],
            },
            "timestamp",
        ),
    ],
)
def test_an_unreadable_payload_says_what_is_wrong(
    kind: str, event: str | None, payload: Any, says: str
) -> None:
    with pytest.raises(Malformed, match=says):
        normalize(kind, CTX, event, payload)  # type: ignore[arg-type]


GITLAB_EVENTS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "issue": "Issue Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "deployment": "Deployment Hook",
    "milestone": "Milestone Hook",
    "member_add_to_group": "Member Hook",
    "note_commit": "Note Hook",
    "note_merge_request": "Note Hook",
    "note_issue": "Note Hook",
    "note_snippet": "Note Hook",
    "job": "Job Hook",
    "release": "Release Hook",
}


def corpus() -> list[tuple[str, str | None, Path]]:
    found: list[tuple[str, str | None, Path]] = []
    found += [
        ("github", p.parent.name, p) for p in sorted((CORPORA / "github-webhooks").glob("*/*.json"))
    ]
    found += [
        ("gitlab", GITLAB_EVENTS[p.stem], p)
        for p in sorted((CORPORA / "gitlab-webhooks").rglob("*.json"))
    ]
    found += [("jira", None, p) for p in sorted((CORPORA / "jira-webhooks").rglob("*.json"))]
    return found


@pytest.mark.skipif(
    not (CORPORA / "github-webhooks").exists(), reason="../shared/corpora is not here"
)
def test_every_real_payload_in_the_corpora_becomes_events_or_is_ignored_with_a_reason() -> None:
    events, ignored = 0, 0
    for kind, event, path in corpus():
        result = normalize(kind, CTX, event, json.loads(path.read_bytes()))  # type: ignore[arg-type]
        assert result.facts or result.ignored, path
        events += len(result.facts)
        ignored += bool(result.ignored)
    assert len(corpus()) >= 220
    assert events >= 70 and ignored >= 140  # 44 GitHub, 5 GitLab, 25 Jira events today
