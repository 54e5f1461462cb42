"""Which deployment shipped which change request, from the SHAs the events carry.

A deployment names one SHA; a merged change names its merge SHA and its commit SHAs; a
push names the commits it added to a branch, oldest first, after ``before_sha``. The
pushes give the commit ancestry: each pushed commit's parent is the commit listed before
it (the first one's is ``before_sha``, unless the push was forced). A merge commit's push
lists the merged branch's new commits too, so chaining the list keeps everything it made
reachable reachable (the set is what counts here, not the shape of the graph).

The rule, per repository and environment, over successful deployments in the order they
succeeded: a deployment ships the changes whose merge SHA or one of whose commit SHAs is
reachable from its SHA and from no earlier deployment's — ``git rev-list prev..this``
with every earlier deployment as ``prev``, so a rollback and a redeploy ship nothing new.
The first deployment seen has no previous one: what it reaches was shipped before we
looked, so its changes are recorded as inherited, not counted (a year-old change must not
get a year of lead time). A deployment whose SHA no push has shown yet reaches only that
SHA; the linkage is computed again when the push arrives, so arrival order does not
matter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Push:
    """Commits added to a branch, oldest first, on top of ``before_sha``."""

    before_sha: str | None
    commit_shas: Sequence[str]
    forced: bool = False


@dataclass(frozen=True)
class Deployment:
    """A successful deployment of a repository to an environment."""

    id: UUID
    environment: str
    sha: str
    succeeded_at: datetime


@dataclass(frozen=True)
class Change:
    """A merged change request: the SHA its merge left on the branch, and its commits."""

    id: UUID
    merge_sha: str
    commit_shas: Sequence[str] = ()


@dataclass(frozen=True)
class Shipped:
    """``change_id`` went out with ``deployment_id``; ``counted`` is False for what the
    first deployment seen of its environment inherited."""

    deployment_id: UUID
    change_id: UUID
    counted: bool


def parent_edges(pushes: Iterable[Push]) -> dict[str, set[str]]:
    """Each commit's parents as the pushes show them (a commit pushed to two branches,
    or in a merge commit's push, can have several)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for push in pushes:
        previous = None if push.forced else push.before_sha
        for sha in push.commit_shas:
            if previous is not None and previous != sha:
                parents[sha].add(previous)
            previous = sha
    return parents


def _newly_reachable(sha: str, parents: dict[str, set[str]], seen: set[str]) -> set[str]:
    """The commits reachable from ``sha`` that are not in ``seen`` (the walk stops there:
    whatever an earlier deployment reached, its ancestors were reached too)."""
    found: set[str] = set()
    stack = [sha]
    while stack:
        current = stack.pop()
        if current in seen or current in found:
            continue
        found.add(current)
        stack.extend(parents.get(current, ()))
    return found


def link_deployments(
    deployments: Iterable[Deployment], changes: Iterable[Change], pushes: Iterable[Push]
) -> list[Shipped]:
    """The changes each deployment shipped, by the rule in the module's docstring; every
    environment on its own. Deterministic: ties in time are broken by deployment id."""
    parents = parent_edges(pushes)
    by_sha: dict[str, list[UUID]] = defaultdict(list)
    for change in changes:
        for sha in dict.fromkeys([change.merge_sha, *change.commit_shas]):
            by_sha[sha].append(change.id)
    per_environment: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        per_environment[deployment.environment].append(deployment)
    shipped: list[Shipped] = []
    for environment in sorted(per_environment):
        ordered = sorted(per_environment[environment], key=lambda d: (d.succeeded_at, d.id))
        seen: set[str] = set()
        claimed: set[UUID] = set()
        for index, deployment in enumerate(ordered):
            reached = _newly_reachable(deployment.sha, parents, seen)
            seen |= reached
            for change_id in sorted({c for sha in reached for c in by_sha.get(sha, ())}):
                if change_id not in claimed:
                    claimed.add(change_id)
                    shipped.append(Shipped(deployment.id, change_id, counted=index > 0))
    return shipped
