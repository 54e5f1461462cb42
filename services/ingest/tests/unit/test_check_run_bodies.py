"""What a gate result becomes on GitHub (a check run) and GitLab (a commit status), and
which source may post it: worked examples from the two APIs' documented fields."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from sextant.ingest.checks import github_check_run, gitlab_status, lists_repository
from sextant.ingest.db.checks import CheckRunRow

EVALUATION = UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")


def row(verdict: str, external_ref: str | None = None) -> CheckRunRow:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    return CheckRunRow(
        tenant_id=EVALUATION,
        id=EVALUATION,
        source_id=EVALUATION,
        repository="acme/web",
        sha="f" * 40,
        environment="production",
        evaluation_id=EVALUATION,
        evaluated_at=at,
        verdict=verdict,
        summary="- `reviews`: **fail** — no review",
        external_ref=external_ref,
        status="pending",
        attempts=0,
        last_error=None,
        updated_at=at,
    )


@pytest.mark.parametrize(
    ("verdict", "status", "conclusion"),
    [
        ("pass", "completed", "success"),
        ("warn", "completed", "neutral"),
        ("fail", "completed", "failure"),
        ("unknown", "in_progress", None),  # the facts are not in: not a pass
    ],
)
def test_a_verdict_becomes_a_check_run_status_and_conclusion(
    verdict: str, status: str, conclusion: str | None
) -> None:
    body = github_check_run(row(verdict))
    assert body["status"] == status
    assert body.get("conclusion") == conclusion
    assert body["name"] == "Sextant gate (production)"
    assert body["head_sha"] == "f" * 40
    assert body["external_id"] == "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert body["output"] == {
        "title": f"Gate {verdict}",
        "summary": "- `reviews`: **fail** — no review",
    }


@pytest.mark.parametrize(
    ("verdict", "state"),
    [("pass", "success"), ("warn", "success"), ("fail", "failed"), ("unknown", "pending")],
)
def test_a_verdict_becomes_a_gitlab_commit_state(verdict: str, state: str) -> None:
    body = gitlab_status(row(verdict))
    assert body["state"] == state and body["name"] == "Sextant gate (production)"


@pytest.mark.parametrize(
    ("kind", "credentials", "listed"),
    [
        ("github", {"repositories": ["Acme/Web"]}, True),  # GitHub names ignore case
        ("github", {"repositories": ["acme/api"]}, False),
        ("github", {"projects": ["acme/web"]}, False),  # a GitLab field on a GitHub source
        ("gitlab", {"projects": ["acme/web"]}, True),
        ("gitlab", {}, False),
    ],
)
def test_a_source_posts_only_for_a_repository_its_credentials_list(
    kind: str, credentials: dict[str, list[str]], listed: bool
) -> None:
    assert lists_repository(kind, credentials, "acme/web") is listed
