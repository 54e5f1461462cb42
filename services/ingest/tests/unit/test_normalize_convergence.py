"""A webhook and a backfill record of one entity version are one fact, with one event id,
however each tool spells the time: GitLab's hooks send ``2026-03-03 12:00:00 UTC``, its
REST API ``2026-03-03T12:00:00.789Z``; Jira's webhooks epoch milliseconds, its API ISO text.
The GitLab records go through the backfill's own reshaping into hooks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sextant.ingest.backfill import gitlab as gitlab_backfill
from sextant.ingest.normalize import normalize

from ..fixtures import payloads
from .test_normalize import CTX, SOURCE

MR_HOOK = "Merge Request Hook"


def event_ids(kind: str, event: str | None, payload: dict[str, Any]) -> list[uuid.UUID]:
    return [fact.event_id(SOURCE) for fact in normalize(kind, CTX, event, payload).facts]  # type: ignore[arg-type]


def backfilled(records: list[tuple[str, dict[str, Any]]]) -> list[list[uuid.UUID]]:
    """The event ids of each hook a GitLab backfill makes of one REST record."""
    return [event_ids("gitlab", event, body) for event, body in records]


PROJECT = payloads.GITLAB_PROJECT


@pytest.mark.parametrize(
    ("from_backfill", "from_webhooks"),
    [
        pytest.param(
            gitlab_backfill._merge_request(payloads.gitlab_rest_merge_request("closed"), PROJECT),
            [
                (MR_HOOK, payloads.gitlab_merge_request("open")),
                (MR_HOOK, payloads.gitlab_merge_request("close")),
            ],
            id="merge request opened, closed",
        ),
        pytest.param(
            gitlab_backfill._merge_request(payloads.gitlab_rest_merge_request("merged"), PROJECT),
            [
                (MR_HOOK, payloads.gitlab_merge_request("open")),
                (MR_HOOK, payloads.gitlab_merge_request("merge")),
            ],
            id="merge request opened, merged",
        ),
        pytest.param(
            gitlab_backfill._issue(payloads.gitlab_rest_issue(), PROJECT),
            [
                ("Issue Hook", payloads.gitlab_issue("open")),
                ("Issue Hook", payloads.gitlab_issue("close")),
            ],
            id="issue opened, closed",
        ),
        pytest.param(
            gitlab_backfill._pipeline(payloads.gitlab_rest_pipeline(), PROJECT),
            [("Pipeline Hook", payloads.gitlab_pipeline())],
            id="pipeline",
        ),
        pytest.param(
            gitlab_backfill._deployment(payloads.gitlab_rest_deployment(), PROJECT),
            [("Deployment Hook", payloads.gitlab_deployment())],
            id="deployment",
        ),
        pytest.param(
            # the hook's time is stamped after the commit, the API's at the save: they can
            # straddle a second, and the deployment's status alone is its version
            gitlab_backfill._deployment(
                payloads.gitlab_rest_deployment() | {"updated_at": "2026-03-03T12:09:59.990Z"},
                PROJECT,
            ),
            [("Deployment Hook", payloads.gitlab_deployment())],
            id="deployment, times a second apart",
        ),
    ],
)
def test_a_gitlab_webhook_and_its_backfill_record_get_the_same_event_ids(
    from_backfill: list[tuple[str, dict[str, Any]]],
    from_webhooks: list[tuple[str, dict[str, Any]]],
) -> None:
    assert [event for event, _ in from_backfill] == [event for event, _ in from_webhooks]
    expected = backfilled(from_webhooks)
    assert all(expected)  # each hook is a fact, not ignored
    assert backfilled(from_backfill) == expected


def closed_pull_request(closed_at: str) -> dict[str, Any]:
    body = payloads.github_pull_request("closed")
    body["pull_request"]["closed_at"] = closed_at
    return body


def generic_deployment(occurred_at: str) -> dict[str, Any]:
    return payloads.generic_deployment() | {"occurred_at": occurred_at}


@pytest.mark.parametrize(
    ("kind", "event", "one", "other"),
    [
        pytest.param(
            "jira",
            None,
            payloads.jira_assigned_without_changelog(1772528400123),
            payloads.jira_assigned_without_changelog("2026-03-03T09:00:00.000+0000"),
            id="jira update without a changelog id",
        ),
        pytest.param(
            "generic",
            None,
            generic_deployment("2026-03-05T09:00:00.250+01:00"),
            generic_deployment("2026-03-05T08:00:00Z"),
            id="generic deployment",
        ),
        pytest.param(
            "github",
            "pull_request",
            closed_pull_request("2026-03-04T16:30:00.500+01:00"),
            closed_pull_request("2026-03-04T15:30:00Z"),
            id="github pull request closed",
        ),
    ],
)
def test_one_instant_spelled_two_ways_gives_one_event_id(
    kind: str, event: str | None, one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert event_ids(kind, event, one) == event_ids(kind, event, other) != []


def test_a_whole_second_webhook_time_keeps_the_version_it_always_had() -> None:
    """Versions read as before for the times webhooks send, so stored event ids hold."""
    [build] = normalize("gitlab", CTX, "Pipeline Hook", payloads.gitlab_pipeline()).facts
    assert build.version == "success:2026-03-03T12:02:03+00:00"
    [closed] = normalize(
        "github", CTX, "pull_request", payloads.github_pull_request("closed")
    ).facts
    assert closed.version == "closed:2026-03-04T15:30:00+00:00"
