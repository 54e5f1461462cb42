"""Change requests and pushes say whether their branch is a default branch — the
repository's own, as the tool names it, or one the source's mapping adds — and say
nothing (None) when neither tells."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sextant.ingest.backfill import gitlab as gitlab_backfill
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, normalize

from ..fixtures import payloads
from .test_normalize import CORPORA, SOURCE

RELEASE = MappingRules(default_branches=["release"])


def into_default(
    kind: str, event: str, payload: dict[str, Any], rules: MappingRules | None = None
) -> list[bool | None]:
    """``into_default_branch`` of each change request or push the payload becomes."""
    facts = normalize(kind, Context(SOURCE, rules or MappingRules()), event, payload).facts  # type: ignore[arg-type]
    return [getattr(fact.event, "change_request", fact.event).into_default_branch for fact in facts]


def github_pr(base: str, *, default: str | None = "main") -> dict[str, Any]:
    body = payloads.github_pull_request("opened")
    body["pull_request"]["base"]["ref"] = base
    body["repository"] = payloads.REPO | {"default_branch": default}
    return body


def gitlab_mr(target: str, *, default: str | None = "main") -> dict[str, Any]:
    body = payloads.gitlab_merge_request("open")
    body["object_attributes"]["target_branch"] = target
    body["project"]["default_branch"] = default
    return body


def github_push(branch: str, *, default: str | None = "main") -> dict[str, Any]:
    body = payloads.github_push() | {"ref": f"refs/heads/{branch}"}
    body["repository"] = payloads.REPO | {"default_branch": default}
    return body


def gitlab_push(branch: str, *, default: str | None = "main") -> dict[str, Any]:
    body = payloads.gitlab_push(branch)
    body["project"]["default_branch"] = default
    return body


CASES = [
    pytest.param("github", "pull_request", github_pr, id="github pull request"),
    pytest.param("gitlab", "Merge Request Hook", gitlab_mr, id="gitlab merge request"),
    pytest.param("github", "push", github_push, id="github push"),
    pytest.param("gitlab", "Push Hook", gitlab_push, id="gitlab push"),
]


@pytest.mark.parametrize(("kind", "event", "made"), CASES)
def test_the_repositorys_default_branch_is_a_default_branch(
    kind: str, event: str, made: Any
) -> None:
    assert into_default(kind, event, made("main")) == [True]
    assert into_default(kind, event, made("faster-widget")) == [False]


@pytest.mark.parametrize(("kind", "event", "made"), CASES)
def test_a_branch_the_mapping_names_is_a_default_branch_too(
    kind: str, event: str, made: Any
) -> None:
    assert into_default(kind, event, made("release"), RELEASE) == [True]
    assert into_default(kind, event, made("release", default=None), RELEASE) == [True]
    assert into_default(kind, event, made("main"), RELEASE) == [True]


@pytest.mark.parametrize(("kind", "event", "made"), CASES)
def test_without_the_repositorys_default_another_branch_is_unknown(
    kind: str, event: str, made: Any
) -> None:
    assert into_default(kind, event, made("main", default=None)) == [None]
    assert into_default(kind, event, made("faster-widget", default=None), RELEASE) == [None]


def test_a_gitlab_merge_request_reads_its_target_projects_default_branch() -> None:
    body = gitlab_mr("trunk", default="main")
    body["object_attributes"]["target"] = {
        "path_with_namespace": "group/app",
        "default_branch": "trunk",
    }
    assert into_default("gitlab", "Merge Request Hook", body) == [True]


def test_a_backfilled_merge_request_knows_its_projects_default_branch() -> None:
    rest = payloads.gitlab_rest_merge_request("merged")
    hooks = gitlab_backfill._merge_request(rest, payloads.GITLAB_PROJECT)
    assert [into_default("gitlab", event, body) for event, body in hooks] == [[True], [True]]


@pytest.mark.skipif(
    not (CORPORA / "github-webhooks").exists(), reason="../shared/corpora is not here"
)
def test_real_payloads_into_master_are_into_the_default_branch() -> None:
    def read(path: str) -> dict[str, Any]:
        return json.loads((CORPORA / path).read_bytes())

    assert into_default(
        "github", "pull_request", read("github-webhooks/pull_request/opened.json")
    ) == [True]
    assert into_default(
        "github", "push", read("github-webhooks/push/default.with-new-branch.json")
    ) == [True]
    assert into_default(
        "gitlab", "Merge Request Hook", read("gitlab-webhooks/merge_request.json")
    ) == [True]
    assert into_default("gitlab", "Push Hook", read("gitlab-webhooks/push.json")) == [True]
