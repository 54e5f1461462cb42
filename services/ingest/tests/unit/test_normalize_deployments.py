"""A deployment webhook becomes a status change that names its environment, the SHA it
deployed, its outcome in Sextant's terms, when it finished and who deployed it: DORA's
deployment frequency, lead time and failure rate read exactly these."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sextant.contracts.events.activity import DeploymentStatusChanged
from sextant.ingest.normalize import normalize

from ..fixtures import payloads
from .test_normalize import CORPORA, CTX

GITLAB_SHA = "aa" * 20


def deployment(kind: str, event: str, payload: dict[str, Any]) -> DeploymentStatusChanged:
    [fact] = normalize(kind, CTX, event, payload).facts  # type: ignore[arg-type]
    assert isinstance(fact.event, DeploymentStatusChanged)
    return fact.event


def summary(changed: DeploymentStatusChanged) -> tuple[str, str, str, bool]:
    return (changed.environment, changed.sha, changed.status, changed.is_production)


def test_a_github_deployment_status_names_environment_sha_status_and_times() -> None:
    changed = deployment("github", "deployment_status", payloads.github_deployment_status())
    assert summary(changed) == (
        "production",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "success",
        True,
    )
    assert changed.source.external_id == "145988746"
    assert changed.started_at == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    assert changed.finished_at == changed.occurred_at == datetime(2026, 3, 4, 16, 5, tzinfo=UTC)
    assert changed.deployed_by is not None and changed.deployed_by.login == "hubot"
    assert changed.repository is not None and changed.repository.full_name == "octo-org/octo-repo"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("queued", "in_progress"),
        ("pending", "in_progress"),
        ("in_progress", "in_progress"),
        ("failure", "failure"),
        ("error", "failure"),
    ],
)
def test_github_deployment_states_map_to_sextant_statuses(state: str, status: str) -> None:
    changed = deployment(
        "github", "deployment_status", payloads.github_deployment_status(state, "staging")
    )
    assert summary(changed)[1:] == ("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", status, False)
    assert changed.environment == "staging"
    assert (changed.finished_at is None) is (status == "in_progress")


def test_an_inactive_github_deployment_is_not_an_outcome() -> None:
    result = normalize(
        "github", CTX, "deployment_status", payloads.github_deployment_status("inactive")
    )
    assert result.facts == [] and "inactive" in (result.ignored or "")


def test_a_gitlab_deployment_names_environment_full_sha_status_and_utc_time() -> None:
    changed = deployment("gitlab", "Deployment Hook", payloads.gitlab_deployment())
    assert summary(changed) == ("production", GITLAB_SHA, "success", True)
    assert changed.source.external_id == "15"
    # "2026-03-03 13:10:00 +0100": the hook's offset, read as UTC
    assert changed.finished_at == changed.occurred_at == datetime(2026, 3, 3, 12, 10, tzinfo=UTC)
    assert changed.deployed_by is not None and changed.deployed_by.login == "root"
    assert changed.repository is not None and changed.repository.full_name == "group/app"


@pytest.mark.parametrize(
    ("gitlab_status", "status"),
    [("running", "in_progress"), ("failed", "failure"), ("canceled", "cancelled")],
)
def test_gitlab_deployment_statuses_map_to_sextant_statuses(
    gitlab_status: str, status: str
) -> None:
    changed = deployment(
        "gitlab", "Deployment Hook", payloads.gitlab_deployment("review/x", gitlab_status, None)
    )
    assert summary(changed) == ("review/x", GITLAB_SHA, status, False)
    assert (changed.finished_at is None) is (status == "in_progress")


def test_a_gitlab_production_tier_is_production_whatever_the_environment_is_called() -> None:
    changed = deployment(
        "gitlab", "Deployment Hook", payloads.gitlab_deployment("eu-1", tier="production")
    )
    assert changed.is_production


def test_a_gitlab_deployment_without_a_commit_url_keeps_the_short_sha() -> None:
    body = payloads.gitlab_deployment()
    del body["commit_url"]
    assert deployment("gitlab", "Deployment Hook", body).sha == "aaaaaaaa"


def test_a_gitlab_deployment_not_yet_running_is_not_an_outcome() -> None:
    result = normalize(
        "gitlab", CTX, "Deployment Hook", payloads.gitlab_deployment(status="created")
    )
    assert result.facts == [] and "created" in (result.ignored or "")


GITHUB_CORPUS_SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


@pytest.mark.skipif(not CORPORA.exists(), reason="../shared/corpora is not here")
@pytest.mark.parametrize(
    ("kind", "event", "path", "expected", "finished_at", "deployer"),
    [
        pytest.param(
            "github",
            "deployment_status",
            "github-webhooks/deployment_status/default.json",
            ("production", GITHUB_CORPUS_SHA, "success", True),
            datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC),
            "Codertocat",
            id="github success",
        ),
        pytest.param(
            "github",
            "deployment_status",
            "github-webhooks/deployment_status/gh-pages.json",
            ("github-pages", GITHUB_CORPUS_SHA, "in_progress", False),
            None,
            "github-pages[bot]",
            id="github pages in progress",
        ),
        pytest.param(
            "gitlab",
            "Deployment Hook",
            "gitlab-webhooks/deployment.json",
            ("staging", "279484c09fbe69ededfced8c1bb6e6d24616b468", "success", False),
            datetime(2021, 4, 28, 19, 50, tzinfo=UTC),  # sent as 21:50 +0200
            "root",
            id="gitlab success",
        ),
    ],
)
def test_real_deployment_webhooks(
    kind: str,
    event: str,
    path: str,
    expected: tuple[str, str, str, bool],
    finished_at: datetime | None,
    deployer: str,
) -> None:
    changed = deployment(kind, event, json.loads((CORPORA / path).read_bytes()))
    assert summary(changed) == expected
    assert changed.finished_at == finished_at
    assert changed.deployed_by is not None and changed.deployed_by.login == deployer
    assert changed.deployed_by.is_bot is deployer.endswith("[bot]")
