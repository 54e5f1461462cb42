"""What a merge says about its commits (``commits_source``), which merges are queued for
their commit list, and the pages the lister asks for and reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from sextant.contracts.events.activity import ChangeRequestMerged
from sextant.ingest.commits import Unlistable, first_page, shas_of, signs_in
from sextant.ingest.db import spine
from sextant.ingest.db.repository import CommitListAsk, SourceRow
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, normalize
from sextant.ingest.reading import commit_list_ask, read_delivery
from sextant.runtime.outbox import Outbox

from ..fixtures import payloads

SOURCE = uuid.UUID("0190f5c2-0000-7000-8000-000000000001")
HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


def merged(kind: str, *, lists_commits: bool, extra: dict[str, Any] | None = None) -> Any:
    ctx = Context(SOURCE, MappingRules(), lists_commits=lists_commits)
    if kind == "github":
        payload = payloads.github_pull_request("closed", merged=True)
        event = "pull_request"
    else:
        payload, event = payloads.gitlab_merge_request("merge"), "Merge Request Hook"
    [fact] = normalize(kind, ctx, event, payload | (extra or {})).facts  # type: ignore[arg-type]
    assert isinstance(fact.event, ChangeRequestMerged)
    return fact.event


@pytest.mark.parametrize("kind, head", [("github", HEAD), ("gitlab", "bb" * 20)])
def test_a_webhook_merge_says_whether_its_commit_list_will_follow(kind: str, head: str) -> None:
    pending = merged(kind, lists_commits=True)
    assert (pending.commit_shas, pending.commits_source) == ([head], "pending")
    head_only = merged(kind, lists_commits=False)
    assert (head_only.commit_shas, head_only.commits_source) == ([head], "head_only")


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_listed_merge_carries_the_tools_list(kind: str) -> None:
    listed = {"sextant": {"commit_shas": ["a" * 40, "b" * 40]}}
    for lists_commits in (True, False):
        event = merged(kind, lists_commits=lists_commits, extra=listed)
        assert (event.commit_shas, event.commits_source) == (["a" * 40, "b" * 40], "listed")


def _source(kind: str) -> SourceRow:
    return SourceRow(
        tenant_id=uuid.uuid4(),
        id=SOURCE,
        workspace_id=uuid.uuid4(),
        kind=kind,
        name="s",
        secret_sealed=b"",
        credentials_sealed=b"sealed",
        mapping={},
        signature_failures=0,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        disabled_at=None,
        deleted_at=None,
        suspended_at=None,
    )


@pytest.mark.parametrize(
    "kind, event, payload, expected",
    [
        (
            "github",
            "pull_request",
            payloads.github_pull_request("closed", merged=True),
            CommitListAsk(SOURCE, "octo-org/octo-repo", 42),
        ),
        (
            "gitlab",
            "Merge Request Hook",
            payloads.gitlab_merge_request("merge"),
            CommitListAsk(SOURCE, "15", 4),  # GitLab's API takes the project id
        ),
        ("github", "pull_request", payloads.github_pull_request("closed"), None),  # not merged
        ("github", "pull_request", payloads.github_pull_request("opened"), None),
    ],
)
def test_only_a_pending_merge_is_queued_for_its_commits(
    kind: str, event: str, payload: dict[str, Any], expected: CommitListAsk | None
) -> None:
    outbox = Outbox(spine.outbox, "ingest")
    ctx = Context(SOURCE, MappingRules(), lists_commits=True)
    read = read_delivery(outbox, _source(kind), ctx, "d-1", event, payload)
    assert commit_list_ask(_source(kind), read) == expected
    without = Context(SOURCE, MappingRules(), lists_commits=False)
    read = read_delivery(outbox, _source(kind), without, "d-1", event, payload)
    assert commit_list_ask(_source(kind), read) is None


def test_the_first_page_and_the_shas_of_a_page() -> None:
    assert first_page("github", "octo-org/octo-repo", 42) == (
        "/repos/octo-org/octo-repo/pulls/42/commits?per_page=100"
    )
    assert first_page("gitlab", "group/app", 4) == (
        "/projects/group%2Fapp/merge_requests/4/commits?per_page=100"
    )
    assert shas_of("github", [{"sha": "a"}, {"sha": "b"}, {"node_id": "x"}]) == ["a", "b"]
    assert shas_of("gitlab", [{"id": "c", "short_id": "c1"}]) == ["c"]
    with pytest.raises(Unlistable, match="not a list of commits"):
        shas_of("github", {"message": "Moved Permanently"})


def test_credentials_that_sign_in() -> None:
    assert signs_in("gitlab", {"token": "t"})
    assert not signs_in("gitlab", {"projects": ["a"]})
    app = {"app_id": "1", "private_key": "k", "installation_id": "2"}
    assert signs_in("github", app)
    assert not signs_in("github", {"app_id": "1"})
