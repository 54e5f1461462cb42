"""A Jira transition's ``from_category`` is the old status's category when the payload
shows that status with one (the changelog names the status, never its category), and None
when it does not: never a guess from the status's name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sextant.contracts.events.activity import WorkItemTransitioned
from sextant.ingest.normalize import normalize

from ..fixtures import payloads
from .test_normalize import CORPORA, CTX


def transition(payload: dict[str, Any]) -> WorkItemTransitioned:
    [moved] = [
        f.event
        for f in normalize("jira", CTX, None, payload).facts
        if isinstance(f.event, WorkItemTransitioned)
    ]
    return moved


def started(*, subtasks: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """ENG-7 moved from To Do (status id 1) to In Progress."""
    body = payloads.jira_transitioned(
        "To Do", "In Progress", "indeterminate", changelog_id="1", at_ms=1772528400000
    )
    body["issue"]["fields"]["subtasks"] = list(subtasks)
    return body


def test_the_old_status_shown_beside_a_subtask_gives_its_category() -> None:
    body = started(subtasks=(payloads.jira_subtask("ENG-9", "To Do", "1", "new"),))
    assert transition(body).from_category == "todo"


def test_a_status_of_the_same_name_but_another_id_tells_nothing() -> None:
    """Team-managed projects may each have a "To Do"; the changelog's id decides."""
    body = started(subtasks=(payloads.jira_subtask("ENG-9", "To Do", "10400", "indeterminate"),))
    assert transition(body).from_category is None


def test_the_statuses_a_backfill_lists_give_the_old_category_by_name() -> None:
    body = payloads.jira_transitioned(
        "In Progress", "Done", "done", changelog_id="2", at_ms=1772614800000
    )
    body["sextant"] = {"status_categories": {"In Progress": "indeterminate", "Done": "done"}}
    assert transition(body).from_category == "in_progress"


def test_an_old_status_the_payload_does_not_show_has_no_category() -> None:
    assert transition(started()).from_category is None


@pytest.mark.skipif(
    not (CORPORA / "jira-webhooks").exists(), reason="../shared/corpora is not here"
)
def test_a_real_webhook_shows_only_the_new_status_so_the_old_category_stays_unknown() -> None:
    path = CORPORA / "jira-webhooks/mattermost-plugin-jira/webhook-issue-updated-resolved.json"
    moved = transition(json.loads(path.read_bytes()))
    assert (moved.from_status, moved.to_status, moved.to_category) == (
        "In Progress",
        "Done",
        "done",
    )
    assert moved.from_category is None
