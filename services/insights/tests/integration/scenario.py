"""A small repository's history as attributed events, worked by hand (the README's example).

main:  A ── S1 ── M2 ── r1' ── r2'      #0 merged as A, long ago
       │     │    └ merge commit of #2 (c1, c2, by a bot)
       │     └ squash of #1 (b1, b2 on feature/1, by Alice, reviewed by Bob and a bot)
       └ #3 rebased as r1', r2'
Production: D1 at A (first seen: #0 inherited), D2 at S1 (#1), D3 at r2' (#2, #3).
Staging: its first deployment at S1 inherits #0 and #1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from sextant.contracts import Envelope, uuid5, uuid7
from sextant.contracts.events.activity import (
    BuildFinished,
    ChangeRequest,
    ChangeRequestMerged,
    ChangeRequestOpened,
    Commit,
    CommitsPushed,
    DeploymentStatusChanged,
    IncidentOpened,
    IncidentResolved,
    ReviewSubmitted,
)
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.contracts.events.platform import (
    ActivityAttributed,
    Attribution,
    DeveloperCreated,
    DevelopersMerged,
)
from sextant.contracts.registry import type_of
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, IDENTITY, entity_key
from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.outbox import record_for

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SOURCE = UUID("0190f5c2-aaaa-7000-8000-000000000001")
REPO = Repository(external_id="r1", full_name="octo-org/octo-repo")

ALICE, ALICE_OLD, BOB, BOT, CAROL, DAVE = (
    UUID(f"0190f5c2-dddd-7000-8000-00000000000{i}") for i in range(6)
)
ACTORS = {
    ALICE: Actor(kind="github", login="alice"),
    ALICE_OLD: Actor(kind="github", login="alice-old"),
    BOB: Actor(kind="github", login="bob"),
    BOT: Actor(kind="github", login="dependabot[bot]", is_bot=True),
    CAROL: Actor(kind="github", login="carol"),
    DAVE: Actor(kind="github", login="dave"),
}
ALIASES = {developer: uuid5(SOURCE, f"alias/{developer}") for developer in ACTORS}
"""Identity's alias of each actor (what a split or an alias move names)."""


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


class Tenant:
    """Builds one tenant's events in one workspace."""

    def __init__(self, tenant: UUID, workspace: UUID) -> None:
        self.tenant, self.workspace = tenant, workspace

    def attributed(
        self, event: BaseModel, subject: str, people: dict[str, UUID] | None = None
    ) -> Envelope:
        attributions = [
            Attribution(
                path=path,
                actor=ACTORS[developer],
                developer_id=developer,
                alias_id=ALIASES[developer],
            )
            for path, developer in (people or {}).items()
        ]
        data = ActivityAttributed(
            original_id=uuid7(),
            original_type=type_of(type(event)),
            original=event.model_dump(mode="json"),
            attributions=attributions,
        )
        return Envelope.wrap(
            data,
            source="/sextant/identity",
            tenantid=self.tenant,
            workspaceid=self.workspace,
            subject=subject,
        )

    def identity(self, event: BaseModel, subject: str) -> Envelope:
        return Envelope.wrap(
            event, source="/sextant/identity", tenantid=self.tenant, subject=subject
        )

    def record(self, envelope: Envelope) -> OutgoingRecord:
        topic = (
            ACTIVITY_ATTRIBUTED.name
            if envelope.type.startswith("sextant.activity")
            else IDENTITY.name
        )
        return record_for(
            envelope, topic, entity_key(self.tenant, self.workspace, envelope.subject or "")
        )

    # change requests ---------------------------------------------------------------------

    def change(self, number: int, author: UUID, head: str, opened: datetime) -> ChangeRequest:
        return ChangeRequest(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=f"pr-{number}"),
            repository=REPO,
            number=number,
            title=f"Change {number}",
            author=ACTORS[author],
            base_branch="main",
            head_branch=head,
            created_at=opened,
        )

    def opened(self, number: int, author: UUID, head: str, at: datetime) -> Envelope:
        cr = self.change(number, author, head, at)
        return self.attributed(
            ChangeRequestOpened(change_request=cr, occurred_at=at),
            f"pr-{number}",
            {"change_request.author": author},
        )

    def reviewed(
        self, number: int, author: UUID, head: str, opened: datetime, reviewer: UUID, at: datetime
    ) -> Envelope:
        cr = self.change(number, author, head, opened)
        event = ReviewSubmitted(
            change_request=cr,
            review_id=f"rev-{number}-{reviewer}",
            reviewer=ACTORS[reviewer],
            state="approved",
            occurred_at=at,
        )
        return self.attributed(
            event, f"pr-{number}", {"change_request.author": author, "reviewer": reviewer}
        )

    def merged(
        self,
        number: int,
        author: UUID,
        head: str,
        opened: datetime,
        merge_sha: str,
        commit_shas: list[str],
        at: datetime,
        commits_source: Literal["listed", "pending", "head_only"] | None = None,
    ) -> Envelope:
        cr = self.change(number, author, head, opened)
        event = ChangeRequestMerged(
            change_request=cr,
            merge_sha=merge_sha,
            commit_shas=commit_shas,
            commits_source=commits_source,
            merged_at=at,
        )
        return self.attributed(event, f"pr-{number}", {"change_request.author": author})

    # pushes, deployments, builds, incidents ------------------------------------------------------

    def pushed(
        self, branch: str, before: str | None, shas: list[str], author: UUID, at: datetime
    ) -> Envelope:
        commits = [
            Commit(
                sha=sha,
                title=f"commit {sha}",
                author=ACTORS[author],
                authored_at=at - timedelta(minutes=len(shas) - i),
            )
            for i, sha in enumerate(shas)
        ]
        event = CommitsPushed(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=f"push-{shas[-1]}"),
            repository=REPO,
            branch=branch,
            before_sha=before,
            after_sha=shas[-1],
            commits=commits,
            occurred_at=at,
        )
        people = {f"commits[{i}].author": author for i in range(len(shas))}
        return self.attributed(event, f"repo-r1-{branch}", people)

    def deployed(
        self, name: str, sha: str, at: datetime, environment: str = "production"
    ) -> Envelope:
        event = DeploymentStatusChanged(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=name),
            repository=REPO,
            environment=environment,
            is_production=environment == "production",
            sha=sha,
            status="success",
            started_at=at - timedelta(minutes=10),
            finished_at=at,
            occurred_at=at,
        )
        return self.attributed(event, f"deployment-{name}")

    def built(self, name: str, by: UUID, status: str, at: datetime) -> Envelope:
        event = BuildFinished(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=name),
            repository=REPO,
            name=name,
            status=status,
            sha="S1",
            branch="main",
            started_at=at - timedelta(minutes=8),
            finished_at=at,
            duration_seconds=480,
            triggered_by=ACTORS[by],
        )
        return self.attributed(event, f"build-{name}", {"triggered_by": by})

    def incident(self, sha: str, opened: datetime, resolved: datetime) -> list[Envelope]:
        source = SourceRef(kind="generic", source_id=SOURCE, external_id="inc-1")
        return [
            self.attributed(
                IncidentOpened(
                    source=source,
                    title="Checkout errors",
                    severity="SEV2",
                    service="checkout",
                    deployment_sha=sha,
                    opened_at=opened,
                ),
                "incident-inc-1",
            ),
            self.attributed(
                IncidentResolved(
                    source=source,
                    title="Checkout errors",
                    severity="SEV2",
                    service="checkout",
                    opened_at=opened,
                    resolved_at=resolved,
                ),
                "incident-inc-1",
            ),
        ]

    # the whole history -----------------------------------------------------------------------

    def first_phase(self) -> list[Envelope]:
        """Everything but main's pushes of #2 and #3 (D3 arrives before them)."""
        old = T0 - timedelta(days=30)
        return [
            self.identity(DeveloperCreated(developer_id=ALICE), "dev-alice"),
            self.identity(DeveloperCreated(developer_id=BOB), "dev-bob"),
            self.identity(DeveloperCreated(developer_id=BOT, is_bot=True), "dev-bot"),
            self.identity(DeveloperCreated(developer_id=ALICE_OLD), "dev-alice-old"),
            self.identity(
                DevelopersMerged(survivor_id=ALICE, merged_ids=[ALICE_OLD], rule="manual"),
                "dev-alice",
            ),
            self.pushed("main", None, ["A"], ALICE_OLD, old),
            self.opened(0, ALICE_OLD, "feature/0", old - timedelta(days=1)),
            self.merged(0, ALICE_OLD, "feature/0", old - timedelta(days=1), "A", [], old),
            self.deployed("D1", "A", hours(0.5)),
            # #1: squash-merged; first commit at 1h, reviewed by a bot at 3h and Bob at 5h
            self.pushed("feature/1", "A", ["b1", "b2"], ALICE, hours(2)),
            self.opened(1, ALICE, "feature/1", hours(2.5)),
            self.reviewed(1, ALICE, "feature/1", hours(2.5), BOT, hours(3)),
            self.reviewed(1, ALICE, "feature/1", hours(2.5), BOB, hours(5)),
            self.merged(1, ALICE, "feature/1", hours(2.5), "S1", ["b1", "b2"], hours(6)),
            self.pushed("main", "A", ["S1"], ALICE, hours(6)),
            self.deployed("D2", "S1", hours(7)),
            self.deployed("STG1", "S1", hours(7), environment="staging"),
            # #2: a bot's, merged with a merge commit; #3: rebased
            self.pushed("deps", "S1", ["c1", "c2"], BOT, hours(8)),
            self.opened(2, BOT, "deps", hours(8)),
            self.merged(2, BOT, "deps", hours(8), "M2", ["c1", "c2"], hours(9)),
            self.opened(3, BOB, "feature/3", hours(8)),
            self.merged(3, BOB, "feature/3", hours(8), "r2'", ["r1", "r2"], hours(10)),
            self.deployed("D3", "r2'", hours(11)),
            self.built("ci-alice", ALICE, "success", hours(6.2)),
            self.built("ci-bot", BOT, "failed", hours(9.1)),
            *self.incident("S1", hours(7.5), hours(8.5)),
        ]

    def second_phase(self) -> list[Envelope]:
        return [
            self.pushed("main", "S1", ["c1", "c2", "M2"], BOT, hours(9)),
            self.pushed("main", "M2", ["r1'", "r2'"], BOB, hours(10)),
        ]
