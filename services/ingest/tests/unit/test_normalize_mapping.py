"""A source's mapping rules decide item types, production environments and bots in every
normalizer that reads them; a rule a source sets replaces the default, and what a tool
itself marks as a bot (GitHub's ``type: Bot`` and ``[bot]`` suffix) stays a bot whatever
the rules say."""

from __future__ import annotations

from typing import Any

import pytest

from sextant.contracts.events.common import Actor
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, normalize

from ..fixtures import payloads
from .test_normalize import SOURCE


def one_event(rules: MappingRules, kind: str, event: str | None, payload: dict[str, Any]) -> Any:
    [fact] = normalize(kind, Context(SOURCE, rules), event, payload).facts  # type: ignore[arg-type]
    return fact.event


def github_issue_opened(labels: list[str]) -> dict[str, Any]:
    issue = payloads.github_issue() | {"labels": [{"name": label} for label in labels]}
    return {
        "action": "opened",
        "issue": issue,
        "repository": payloads.REPO,
        "sender": payloads.OCTOCAT,
    }


def gitlab_issue_opened(labels: list[str]) -> dict[str, Any]:
    return payloads.gitlab_issue("open") | {"labels": [{"title": label} for label in labels]}


def item_type(rules: MappingRules, kind: str, labels: list[str], tool_type: str = "") -> str:
    """The item type a new issue with these labels (and, for Jira, this type) is mapped to."""
    if kind == "github":
        created = one_event(rules, "github", "issues", github_issue_opened(labels))
    elif kind == "gitlab":
        created = one_event(rules, "gitlab", "Issue Hook", gitlab_issue_opened(labels))
    else:
        body = payloads.jira_created(issue_type=tool_type or "Story")
        body["issue"]["fields"]["labels"] = labels
        created = one_event(rules, "jira", None, body)
    return str(created.work_item.item_type)


@pytest.mark.parametrize("kind", ["github", "gitlab", "jira"])
def test_an_incident_label_makes_an_incident_and_a_source_can_name_its_own(kind: str) -> None:
    assert item_type(MappingRules(), kind, ["Incident"]) == "incident"
    own = MappingRules(incident_labels=["sev1", "outage"])
    assert item_type(own, kind, ["SEV1"]) == "incident"
    assert item_type(own, kind, ["incident"]) != "incident"  # the source's list replaced it


@pytest.mark.parametrize("kind", ["github", "gitlab", "jira"])
def test_a_bug_label_makes_a_bug_and_a_source_can_name_its_own(kind: str) -> None:
    for label in ("bug", "Type: Bug", "kind/bug"):
        assert item_type(MappingRules(), kind, [label]) == "bug", label
    own = MappingRules(bug_labels=["defect-report"])
    assert item_type(own, kind, ["defect-report"]) == "bug"
    assert item_type(own, kind, ["kind/bug"]) != "bug"


def test_a_bug_type_makes_a_bug_and_a_source_can_name_its_own() -> None:
    assert item_type(MappingRules(), "jira", [], tool_type="Defect") == "bug"
    own = MappingRules(bug_types=["Problem"])
    assert item_type(own, "jira", [], tool_type="problem") == "bug"
    assert item_type(own, "jira", [], tool_type="Defect") == "defect"  # the tool's own type


def test_an_incident_rule_wins_over_a_bug_rule() -> None:
    assert item_type(MappingRules(), "jira", ["incident"], tool_type="Bug") == "incident"
    assert item_type(MappingRules(), "github", ["bug", "incident"]) == "incident"


@pytest.mark.parametrize(
    ("environment", "production"),
    [
        ("PROD-EU", True),  # case-insensitive
        ("prod-", True),  # * matches nothing too
        ("eu-live", True),
        ("dc-1", True),  # ? is one character
        ("dc-12", False),
        ("preprod-eu", False),  # the whole name must match
        ("production", False),  # the source's list replaced the defaults
        ("[canary]", True),  # brackets are literal, not a character class
        ("c", False),
    ],
)
def test_production_environments_are_globs_over_the_whole_name(
    environment: str, production: bool
) -> None:
    rules = MappingRules(production_environments=["prod-*", "*-live", "dc-?", "[canary]"])
    assert rules.is_production(environment) is production


@pytest.mark.parametrize(
    ("kind", "event", "payload"),
    [
        ("github", "deployment_status", payloads.github_deployment_status(environment="eu-live")),
        ("gitlab", "Deployment Hook", payloads.gitlab_deployment("eu-live", tier=None)),
        ("generic", None, payloads.generic_deployment("eu-live")),
    ],
)
def test_every_deployment_normalizer_asks_the_production_rules(
    kind: str, event: str | None, payload: dict[str, Any]
) -> None:
    live = MappingRules(production_environments=["*-live"])
    assert one_event(live, kind, event, payload).is_production
    assert not one_event(MappingRules(), kind, event, payload).is_production


def pr_author(user: dict[str, Any], rules: MappingRules | None = None) -> Actor:
    body = payloads.github_pull_request("opened", user=user)
    opened = one_event(rules or MappingRules(), "github", "pull_request", body)
    author: Actor = opened.change_request.author
    return author


def test_github_type_bot_alone_marks_a_bot() -> None:
    assert pr_author({"id": 5, "login": "release-train", "type": "Bot"}).is_bot


def test_a_bot_suffix_alone_marks_a_bot_even_under_patterns_that_leave_it_out() -> None:
    app = {"id": 6, "login": "acme-deployer[bot]", "type": "User"}
    assert pr_author(app).is_bot
    assert pr_author(app, MappingRules(bot_patterns=["ci-*"])).is_bot
    assert pr_author(app, MappingRules(bot_patterns=[])).is_bot


def test_a_source_pattern_marks_a_human_looking_login_as_a_bot() -> None:
    rules = MappingRules(bot_patterns=["ci-*"])
    assert pr_author({"id": 7, "login": "CI-Runner", "type": "User"}, rules).is_bot
    assert not pr_author(payloads.OCTOCAT, rules).is_bot
    assert not pr_author({"id": 7, "login": "ci-runner", "type": "User"}).is_bot


def test_a_commit_author_with_the_bot_suffix_is_a_bot_under_any_patterns() -> None:
    body = payloads.github_push()
    body["commits"][0]["author"] = {"name": "dependabot[bot]", "username": "dependabot[bot]"}
    pushed = one_event(MappingRules(bot_patterns=[]), "github", "push", body)
    assert [c.author.is_bot for c in pushed.commits] == [True, False]


def test_the_suffix_is_not_a_default_pattern_a_source_could_drop() -> None:
    assert not any("[bot]" in pattern for pattern in MappingRules().bot_patterns)
    assert MappingRules(bot_patterns=[]).is_bot(None, "renovate[bot]")
    assert not MappingRules(bot_patterns=[]).is_bot("bot", "robot", "[bot]er", None)
