"""A demo team's history as the webhooks its tools would have sent, ending at ``now``.

Deterministic: the same ``now`` and seed give the same deliveries, byte for byte. A team
of people works through Jira issues in two-week sprints (created → assigned and added to
the sprint → In Progress → In Review → Done, resolved), each issue past review has a
GitHub pull request (a branch push, a CI run, the pull request opened, reviewed by a
teammate and merged, the merge pushed to main), and production is deployed most
weekdays. The last issue of each person is still under way at ``now``, a few issues are
stuck In Progress for weeks (stale work), and a backlog waits in To Do.

Deliveries come in *threads*: one per issue, pull request, sprint or deployment, each in
the order the tool sent them; threads are independent of each other, so a sender may
post them concurrently.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

SourceKind = Literal["github", "jira"]
JIRA_SITE = "https://acme-demo.atlassian.net"
PROJECT = "ENG"
REPOSITORIES: tuple[dict[str, Any], ...] = (
    {"id": 700001, "full_name": "acme-demo/web", "default_branch": "main"},
    {"id": 700002, "full_name": "acme-demo/api", "default_branch": "main"},
)
SPRINT_DAYS = 14
BOARD_ID = 7

# Jira statuses: (id, name, category key)
TO_DO = ("10000", "To Do", "new")
IN_PROGRESS = ("3", "In Progress", "indeterminate")
IN_REVIEW = ("10001", "In Review", "indeterminate")
DONE = ("10002", "Done", "done")

PEOPLE = (
    ("Ada Lovelace", "ada"),
    ("Grace Hopper", "grace"),
    ("Alan Turing", "alan"),
    ("Katherine Johnson", "katherine"),
    ("Edsger Dijkstra", "edsger"),
    ("Barbara Liskov", "barbara"),
    ("Donald Knuth", "donald"),
    ("Margaret Hamilton", "margaret"),
    ("Ken Thompson", "ken"),
    ("Frances Allen", "frances"),
    ("John Backus", "john"),
    ("Radia Perlman", "radia"),
)
TITLES = (
    "Export the dashboard as CSV",
    "Paginate the audit log",
    "Retry failed payouts",
    "Show the build duration trend",
    "Fix the timezone of weekly reports",
    "Cache the permission lookups",
    "Let admins rename workspaces",
    "Alert when the queue backs up",
    "Speed up the search index rebuild",
    "Validate webhook URLs on save",
    "Archive closed projects",
    "Add SSO login for partners",
    "Remove the legacy billing job",
    "Keep filters when paging",
    "Explain forecast ranges in the UI",
    "Handle empty sprints in charts",
)


@dataclass(frozen=True)
class Member:
    """One person, known by the same email to Jira and GitHub (so identity merges them)."""

    name: str
    login: str
    email: str
    jira_account_id: str
    github_id: int

    def jira_user(self) -> dict[str, Any]:
        return {
            "accountId": self.jira_account_id,
            "displayName": self.name,
            "emailAddress": self.email,
            "accountType": "atlassian",
        }

    def github_user(self) -> dict[str, Any]:
        return {"id": self.github_id, "login": self.login, "type": "User"}

    def git_person(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "username": self.login}


@dataclass(frozen=True)
class Delivery:
    """One webhook as the tool sends it: the body, its event header and delivery id."""

    source: SourceKind
    event: str | None
    payload: dict[str, Any]
    delivery_id: str
    at: datetime


@dataclass
class DemoHistory:
    """The deliveries (threads in send order) and what they amount to."""

    now: datetime
    team: list[Member]
    threads: list[list[Delivery]] = field(default_factory=list)
    done_keys: list[str] = field(default_factory=list)
    in_progress_keys: list[str] = field(default_factory=list)
    in_review_keys: list[str] = field(default_factory=list)
    stale_keys: list[str] = field(default_factory=list)
    backlog_keys: list[str] = field(default_factory=list)
    sprints: int = 0
    deployments: int = 0

    def deliveries(self) -> Iterator[Delivery]:
        for thread in self.threads:
            yield from thread

    def count(self, source: SourceKind) -> int:
        return sum(1 for d in self.deliveries() if d.source == source)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def jira_time(at: datetime) -> str:
    """Jira's own format: 2026-03-02T09:00:00.000+0000."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class _Generator:
    def __init__(self, now: datetime, seed: int, weeks: int, team_size: int) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not 1 <= team_size <= len(PEOPLE):
            raise ValueError(f"team_size must be 1-{len(PEOPLE)}")
        if not 2 <= weeks <= 104:
            raise ValueError("weeks must be 2-104")
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.seed = seed
        self.rng = random.Random(seed)
        self.start = self.now - timedelta(weeks=weeks)
        # sprints begin on Mondays at 09:00, the first on or before the history's start
        monday = (self.start - timedelta(days=self.start.weekday())).replace(
            hour=9, minute=0, second=0
        )
        self.first_sprint = monday if monday <= self.start else monday - timedelta(days=7)
        team = [
            Member(
                name=name,
                login=f"{login}-demo",
                email=f"{login}@acme-demo.example.org",
                jira_account_id=f"5b10ac8d82e05b22cc7d{n:04x}",
                github_id=9_100_000 + n,
            )
            for n, (name, login) in enumerate(PEOPLE[:team_size])
        ]
        self.history = DemoHistory(now=self.now, team=team)
        self.next_key = 1
        self.next_pr = 1
        self.next_run = 0
        self.merges: list[tuple[datetime, dict[str, Any], str]] = []

    # identifiers ------------------------------------------------------------------------

    def sha(self, *parts: object) -> str:
        text = "|".join(str(p) for p in (self.seed, *parts))
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def delivery_id(self) -> str:
        """A GUID-shaped id, as GitHub and Atlassian send."""
        value = self.rng.getrandbits(128)
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"

    def delivery(
        self, source: SourceKind, event: str | None, payload: dict[str, Any], at: datetime
    ) -> Delivery:
        return Delivery(source, event, payload, self.delivery_id(), at)

    # sprints ----------------------------------------------------------------------------

    def sprint_of(self, at: datetime) -> tuple[int, str]:
        index = max(int((at - self.first_sprint) / timedelta(days=SPRINT_DAYS)), 0)
        return 100 + index, f"{PROJECT} Sprint {index + 1}"

    def sprints(self) -> None:
        index = 0
        while (begins := self.first_sprint + timedelta(days=SPRINT_DAYS * index)) < self.now:
            ends = begins + timedelta(days=SPRINT_DAYS)
            sprint_id, name = self.sprint_of(begins)
            raw = {
                "id": sprint_id,
                "self": f"{JIRA_SITE}/rest/agile/1.0/sprint/{sprint_id}",
                "state": "active",
                "name": name,
                "startDate": iso(begins),
                "endDate": iso(ends),
                "originBoardId": BOARD_ID,
                "goal": f"Sprint {index + 1} goal",
            }
            thread = [
                self.delivery(
                    "jira",
                    None,
                    {"timestamp": millis(begins), "webhookEvent": "sprint_started", "sprint": raw},
                    begins,
                )
            ]
            if ends <= self.now:
                closed = raw | {"state": "closed", "completeDate": iso(ends)}
                thread.append(
                    self.delivery(
                        "jira",
                        None,
                        {
                            "timestamp": millis(ends),
                            "webhookEvent": "sprint_closed",
                            "sprint": closed,
                        },
                        ends,
                    )
                )
            self.history.threads.append(thread)
            self.history.sprints += 1
            index += 1

    # Jira issues ------------------------------------------------------------------------

    def issue_type(self) -> str:
        roll = self.rng.random()
        return "Story" if roll < 0.6 else "Bug" if roll < 0.85 else "Task"

    def issue(
        self,
        key: str,
        number: int,
        title: str,
        kind: str,
        points: int,
        status: tuple[str, str, str],
        created: datetime,
        updated: datetime,
        reporter: Member,
        assignee: Member | None,
        sprint: tuple[int, str] | None,
        resolved: bool = False,
    ) -> dict[str, Any]:
        status_id, status_name, category = status
        fields: dict[str, Any] = {
            "summary": title,
            "issuetype": {"name": kind},
            "project": {"key": PROJECT},
            "status": {"id": status_id, "name": status_name, "statusCategory": {"key": category}},
            "labels": ["demo"],
            "assignee": assignee.jira_user() if assignee else None,
            "reporter": reporter.jira_user(),
            "created": jira_time(created),
            "updated": jira_time(updated),
            "customfield_10016": float(points),
            "resolution": {"name": "Done"} if resolved else None,
        }
        if sprint is not None:
            fields["customfield_10020"] = [{"id": sprint[0], "name": sprint[1]}]
        return {
            "id": str(10_000 + number),
            "key": key,
            "self": f"{JIRA_SITE}/rest/api/2/issue/{10_000 + number}",
            "fields": fields,
        }

    def work_item(
        self,
        owner: Member,
        created: datetime,
        started: datetime | None,
        in_review: datetime | None,
        done: datetime | None,
    ) -> str:
        """One issue's Jira thread, up to the last of its steps that happened before now,
        and its pull request's GitHub thread once it reached review."""
        number = self.next_key
        self.next_key += 1
        key = f"{PROJECT}-{number}"
        kind = self.issue_type()
        title = self.rng.choice(TITLES) + ("" if kind != "Bug" else " (regression)")
        points = self.rng.choice((1, 2, 3, 3, 5, 8))
        reporter = self.rng.choice(self.history.team)
        sprint = self.sprint_of(started) if started else None
        changelog = 0

        def payload(
            event: str,
            status: tuple[str, str, str],
            at: datetime,
            items: list[dict[str, Any]] | None,
            assignee: Member | None,
            resolved: bool = False,
        ) -> dict[str, Any]:
            nonlocal changelog
            body: dict[str, Any] = {
                "timestamp": millis(at),
                "webhookEvent": event,
                "issue_event_type_name": "issue_created" if items is None else "issue_generic",
                "user": (assignee or reporter).jira_user(),
                "issue": self.issue(
                    key,
                    number,
                    title,
                    kind,
                    points,
                    status,
                    created,
                    at,
                    reporter,
                    assignee,
                    sprint if assignee else None,
                    resolved,
                ),
            }
            if items is not None:
                changelog += 1
                body["changelog"] = {"id": str(number * 100 + changelog), "items": items}
            return body

        thread = [
            self.delivery(
                "jira", None, payload("jira:issue_created", TO_DO, created, None, None), created
            )
        ]
        if started is None:
            self.history.threads.append(thread)
            self.history.backlog_keys.append(key)
            return key
        assert sprint is not None
        assigned = max(started - timedelta(hours=2), created + timedelta(minutes=5))
        thread.append(
            self.delivery(
                "jira",
                None,
                payload(
                    "jira:issue_updated",
                    TO_DO,
                    assigned,
                    [
                        {
                            "field": "assignee",
                            "fieldtype": "jira",
                            "from": None,
                            "fromString": None,
                            "to": owner.jira_account_id,
                            "toString": owner.name,
                        },
                        {
                            "field": "Sprint",
                            "fieldtype": "custom",
                            "from": "",
                            "fromString": "",
                            "to": str(sprint[0]),
                            "toString": sprint[1],
                        },
                    ],
                    owner,
                ),
                assigned,
            )
        )
        steps = [
            (started, TO_DO, IN_PROGRESS),
            (in_review, IN_PROGRESS, IN_REVIEW),
            (done, IN_REVIEW, DONE),
        ]
        reached = TO_DO
        for at, before, after in steps:
            if at is None or at > self.now:
                break
            items: list[dict[str, Any]] = [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "from": before[0],
                    "fromString": before[1],
                    "to": after[0],
                    "toString": after[1],
                }
            ]
            if after is DONE:
                items.append(
                    {
                        "field": "resolution",
                        "fieldtype": "jira",
                        "from": None,
                        "fromString": None,
                        "to": "10000",
                        "toString": "Done",
                    }
                )
            thread.append(
                self.delivery(
                    "jira",
                    None,
                    payload("jira:issue_updated", after, at, items, owner, after is DONE),
                    at,
                )
            )
            reached = after
        self.history.threads.append(thread)
        {
            IN_PROGRESS: self.history.in_progress_keys,
            IN_REVIEW: self.history.in_review_keys,
            DONE: self.history.done_keys,
        }.get(reached, self.history.backlog_keys).append(key)
        if reached in (IN_REVIEW, DONE):
            assert in_review is not None
            self.pull_request(key, title, owner, in_review, done if reached is DONE else None)
        return key

    # GitHub -----------------------------------------------------------------------------

    def pull_request(
        self, key: str, title: str, author: Member, in_review: datetime, merged: datetime | None
    ) -> None:
        repo = dict(self.rng.choice(REPOSITORIES))
        repo["html_url"] = f"https://github.com/{repo['full_name']}"
        number = self.next_pr
        self.next_pr += 1
        branch = f"{key.lower()}-{number}"
        commits = [self.sha(key, "commit", n) for n in range(self.rng.randint(1, 3))]
        head = commits[-1]
        pushed = in_review - timedelta(hours=2)
        opened = in_review - timedelta(minutes=30)
        reviewer = self.rng.choice([m for m in self.history.team if m != author] or [author])

        def commit(sha: str, n: int) -> dict[str, Any]:
            return {
                "id": sha,
                "message": f"{key}: {title} (part {n + 1})",
                "timestamp": iso(pushed - timedelta(minutes=20 * (len(commits) - n))),
                "author": author.git_person(),
                "committer": author.git_person(),
            }

        push = {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": head,
            "created": True,
            "deleted": False,
            "forced": False,
            "compare": f"{repo['html_url']}/compare/{branch}",
            "commits": [commit(sha, n) for n, sha in enumerate(commits)],
            "head_commit": {"id": head, "timestamp": iso(pushed)},
            "pusher": {"name": author.login, "email": author.email},
            "repository": repo,
            "sender": author.github_user(),
        }
        thread = [self.delivery("github", "push", push, pushed)]
        ci_done = pushed + timedelta(minutes=self.rng.randint(6, 14))
        thread.append(self.workflow_run(repo, branch, head, author, pushed, ci_done))

        def pr(action: str, at: datetime) -> dict[str, Any]:
            is_merged = merged is not None and action == "closed"
            return {
                "action": action,
                "number": number,
                "pull_request": {
                    "id": 5_000_000 + number,
                    "number": number,
                    "html_url": f"{repo['html_url']}/pull/{number}",
                    "title": f"{key}: {title}",
                    "user": author.github_user(),
                    "state": "closed" if is_merged else "open",
                    "draft": False,
                    "labels": [],
                    "created_at": iso(opened),
                    "updated_at": iso(at),
                    "closed_at": iso(at) if is_merged else None,
                    "merged_at": iso(at) if is_merged else None,
                    "merged": is_merged,
                    "merge_commit_sha": self.sha(key, "merge") if is_merged else None,
                    "merged_by": author.github_user() if is_merged else None,
                    "head": {"ref": branch, "sha": head},
                    "base": {"ref": "main", "sha": self.sha(key, "base")},
                },
                "repository": repo,
                "sender": author.github_user(),
            }

        thread.append(self.delivery("github", "pull_request", pr("opened", opened), opened))
        reviewed = in_review + (((merged or in_review + timedelta(hours=3)) - in_review) * 0.6)
        if reviewed <= self.now:
            review = pr("submitted", reviewed) | {
                "review": {
                    "id": 8_000_000 + number,
                    "user": reviewer.github_user(),
                    "state": "approved" if merged else "changes_requested",
                    "submitted_at": iso(reviewed),
                    "commit_id": head,
                }
            }
            thread.append(self.delivery("github", "pull_request_review", review, reviewed))
        if merged is not None:
            merge_at = merged - timedelta(minutes=20)
            thread.append(self.delivery("github", "pull_request", pr("closed", merge_at), merge_at))
            merge_sha = self.sha(key, "merge")
            main_push = {
                "ref": "refs/heads/main",
                "before": self.sha(key, "base"),
                "after": merge_sha,
                "created": False,
                "deleted": False,
                "forced": False,
                "compare": f"{repo['html_url']}/compare/main",
                "commits": [
                    {
                        "id": merge_sha,
                        "message": f"Merge pull request #{number} from {branch}",
                        "timestamp": iso(merge_at),
                        "author": author.git_person(),
                        "committer": author.git_person(),
                    }
                ],
                "head_commit": {"id": merge_sha, "timestamp": iso(merge_at)},
                "pusher": {"name": author.login, "email": author.email},
                "repository": repo,
                "sender": author.github_user(),
            }
            thread.append(self.delivery("github", "push", main_push, merge_at))
            self.merges.append((merge_at, repo, merge_sha))
        self.history.threads.append(thread)

    def workflow_run(
        self,
        repo: dict[str, Any],
        branch: str,
        sha: str,
        actor: Member,
        started: datetime,
        finished: datetime,
    ) -> Delivery:
        self.next_run += 1
        run_id = 30_000_000 + self.next_run
        conclusion = "success" if self.rng.random() < 0.9 else "failure"
        body = {
            "action": "completed",
            "workflow_run": {
                "id": run_id,
                "name": "CI",
                "head_branch": branch,
                "head_sha": sha,
                "run_attempt": 1,
                "status": "completed",
                "conclusion": conclusion,
                "html_url": f"{repo['html_url']}/actions/runs/{run_id}",
                "run_started_at": iso(started),
                "updated_at": iso(finished),
                "actor": actor.github_user(),
                "triggering_actor": actor.github_user(),
            },
            "workflow": {"name": "CI"},
            "repository": repo,
            "sender": actor.github_user(),
        }
        return self.delivery("github", "workflow_run", body, finished)

    def deployments(self) -> None:
        """Each weekday at 15:00 that has merges since the last deploy of a repository,
        its newest merge goes to production; about one in twelve fails."""
        deployer = self.history.team[0]
        day = self.start.replace(hour=15, minute=0, second=0)
        last: dict[int, datetime] = {}
        number = 0
        while day <= self.now:
            if day.weekday() < 5:
                for repo in REPOSITORIES:
                    merged = [
                        (at, r, sha)
                        for at, r, sha in self.merges
                        if r["id"] == repo["id"] and last.get(repo["id"], self.start) < at <= day
                    ]
                    if not merged:
                        continue
                    finished = day + timedelta(minutes=self.rng.randint(4, 12))
                    if finished > self.now:
                        continue  # today's is still rolling out
                    _, full_repo, sha = max(merged, key=lambda m: m[0])
                    last[repo["id"]] = day
                    number += 1
                    state = "failure" if self.rng.random() < 1 / 12 else "success"
                    deployment_id = 145_000_000 + number
                    body = {
                        "action": "created",
                        "deployment_status": {
                            "id": 2_000_000 + number,
                            "state": state,
                            "environment": "production",
                            "target_url": f"{full_repo['html_url']}/deployments/{deployment_id}",
                            "created_at": iso(finished),
                            "updated_at": iso(finished),
                        },
                        "deployment": {
                            "id": deployment_id,
                            "sha": sha,
                            "ref": "main",
                            "environment": "production",
                            "created_at": iso(day),
                            "creator": deployer.github_user(),
                        },
                        "repository": full_repo,
                        "sender": deployer.github_user(),
                    }
                    self.history.threads.append(
                        [self.delivery("github", "deployment_status", body, finished)]
                    )
            day += timedelta(days=1)
        self.history.deployments = number

    # the team's weeks -------------------------------------------------------------------

    def hours(self, low: float, high: float) -> timedelta:
        """A duration between ``low`` and ``high`` hours, skewed short (log-uniform)."""
        return timedelta(hours=low * (high / low) ** self.rng.random())

    def generate(self, stale: int, backlog: int) -> DemoHistory:
        self.sprints()
        for owner in self.history.team:
            # each person starts within the first two days, then works one issue at a time
            started = self.start + self.hours(1, 48)
            while True:
                created = max(started - self.hours(2, 24 * 10), self.start - timedelta(days=14))
                in_review = started + self.hours(20, 24 * 6)
                done = in_review + self.hours(3, 48)
                self.work_item(owner, created, started, in_review, done)
                if done > self.now:
                    break  # their current issue: still in progress or in review
                # between issues at ``now``, they have just picked up the next one
                started = min(done + self.hours(2, 40), done + (self.now - done) / 2)
        for n in range(min(stale, len(self.history.team))):
            owner = self.history.team[n]
            started = self.now - timedelta(days=18 + 5 * n) - self.hours(1, 8)
            key = self.work_item(owner, started - timedelta(days=2), started, None, None)
            self.history.stale_keys.append(key)
            self.history.in_progress_keys.remove(key)
        for n in range(backlog):
            # the newest filed minutes ago: the history reaches today whatever the seed
            created = self.now - (timedelta(minutes=15) if n == 0 else self.hours(1, 24 * 21))
            self.work_item(self.rng.choice(self.history.team), created, None, None, None)
        self.deployments()
        return self.history


def generate(
    now: datetime,
    *,
    seed: int = 0,
    weeks: int = 12,
    team_size: int = 8,
    stale: int = 3,
    backlog: int = 12,
) -> DemoHistory:
    """``weeks`` of a team of ``team_size`` ending at ``now``: every delivery is at or
    before ``now``, and the same arguments give the same deliveries."""
    return _Generator(now, seed, weeks, team_size).generate(stale, backlog)
