"""Gate results posted back to the tools: a fake GitHub API and a fake GitLab API on
loopback receive what ingest sends for a ``sextant.gates`` evaluation of a repository
their source's credentials list. On GitHub the check run is created once (its first try
answered 500, so retried) and a later re-evaluation (fail turned pass) PATCHes the same
check run; on GitLab the commit status is set, then set again. A repository no source lists is not
posted anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sextant.contracts import uuid7
from sextant.contracts.events.platform import GateEvaluated, GateOverridden, GateRuleResult
from sextant.runtime.testing.apps import served
from sextant.runtime.testing.plugin import InternalKeys

from .conftest import TENANT, WORKSPACE, Ingest, running_ingest

CHECK_RUN_ID = 4242


@dataclass
class FakeForge:
    """GitHub's check-runs and GitLab's commit-status endpoints; records every call.
    GitHub's first create answers 500."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    fail_first_post: bool = True

    async def github_create(self, request: Request) -> JSONResponse:
        await self._record(request)
        if self.fail_first_post:
            self.fail_first_post = False
            return JSONResponse({"message": "Server Error"}, status_code=500)
        return JSONResponse({"id": CHECK_RUN_ID}, status_code=201)

    async def github_update(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"id": int(request.path_params["check_run_id"])})

    async def gitlab_status(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"id": 1}, status_code=201)

    async def _record(self, request: Request) -> None:
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "auth": request.headers.get("authorization")
                or request.headers.get("private-token"),
                "body": await request.json(),
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/repos/{owner}/{repo}/check-runs", self.github_create, methods=["POST"]),
                Route(
                    "/repos/{owner}/{repo}/check-runs/{check_run_id}",
                    self.github_update,
                    methods=["PATCH"],
                ),
                Route(
                    "/projects/{project:path}/statuses/{sha}", self.gitlab_status, methods=["POST"]
                ),
            ]
        )


@pytest.fixture
async def ingest(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Ingest]:
    """Ingest letting its posts reach the fakes on 127.0.0.1 over plain http; retries
    fast. The fallback look is a minute away, beyond every wait here: a check run is
    posted because the commit that queued it woke the poster, and a retry because its
    due time did (a draw of up to 0.3 s: later, nearly always, than the poster's next
    look for due check runs)."""
    monkeypatch.setenv("SEXTANT_INGEST_CHECK_RUN_POLL_SECONDS", "60")
    monkeypatch.setenv("SEXTANT_INGEST_CHECK_RUN_BACKOFF_SECONDS", "0.3")
    async with running_ingest(
        database_url, internal_keys, tmp_path, egress_allow=["127.0.0.1"], egress_allow_http=True
    ) as trusting:
        yield trusting


async def evaluated(
    ingest: Ingest, verdict: str, at: datetime, repository: str = "acme/web"
) -> UUID:
    """A gate evaluation on the bus, as insights publishes it: its evaluation id."""
    gate = GateEvaluated(
        evaluation_id=uuid7(),
        scope=f"workspace:{WORKSPACE}",
        repository=repository,
        sha="f" * 40,
        environment="production",
        policy_version=1,
        verdict=verdict,  # type: ignore[arg-type]
        rules=[
            GateRuleResult(
                rule="reviews",
                outcome=verdict,  # type: ignore[arg-type]
                enforcement="block",
                reason="1 approving review, 1 needed" if verdict == "pass" else "no review",
            )
        ],
        requested_by="ci",
        evaluated_at=at,
    )
    async with ingest.state.db.transaction(TENANT) as session:
        await ingest.state.outbox.add(
            session,
            gate,
            tenant_id=TENANT,
            workspace_id=WORKSPACE,
            entity=f"gate_evaluation:{gate.evaluation_id}",
        )
    return gate.evaluation_id


async def overridden(ingest: Ingest, evaluation_id: UUID) -> None:
    """A break-glass override on the bus, as insights publishes it."""
    override = GateOverridden(
        evaluation_id=evaluation_id,
        repository="acme/web",
        sha="f" * 40,
        environment="production",
        verdict="fail",
        overridden_by="lead@acme",
        reason="hotfix",
        overridden_at=datetime.now(UTC),
    )
    async with ingest.state.db.transaction(TENANT) as session:
        await ingest.state.outbox.add(
            session,
            override,
            tenant_id=TENANT,
            workspace_id=WORKSPACE,
            entity=f"gate_evaluation:{evaluation_id}",
        )


async def calls(forge: FakeForge, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while len(forge.seen) < count:
            await asyncio.sleep(0.05)
    return forge.seen


async def test_a_gate_is_posted_as_a_check_run_and_a_re_evaluation_updates_the_same_one(
    ingest: Ingest,
) -> None:
    """GitHub and GitLab sources of one workspace, each with its own fake API."""
    forge, lab = FakeForge(), FakeForge()
    async with served(forge.app()) as url, served(lab.app()) as lab_url:
        await ingest.source(
            "github",
            credentials={"token": "gh-token", "repositories": ["acme/web"], "api_url": url},
        )
        await ingest.source(
            "gitlab",
            credentials={"token": "gl-token", "projects": ["acme/web"], "api_url": lab_url},
        )
        first_at = datetime.now(UTC)
        failed = await evaluated(ingest, "fail", first_at)
        created = await calls(forge, 2)  # a 500, then the retry
        assert [c["method"] for c in created] == ["POST", "POST"]
        [status, *_] = await calls(lab, 1)
        assert status["method"] == "POST"
        assert status["path"] == "/projects/acme/web/statuses/" + "f" * 40
        assert status["auth"] == "gl-token"
        assert status["body"]["state"] == "failed"
        assert status["body"]["name"] == "Sextant gate (production)"
        posted = created[1]
        assert posted["path"] == "/repos/acme/web/check-runs"
        assert posted["auth"] == "Bearer gh-token"
        assert posted["body"]["head_sha"] == "f" * 40
        assert posted["body"]["name"] == "Sextant gate (production)"
        assert posted["body"]["status"] == "completed"
        assert posted["body"]["conclusion"] == "failure"
        assert posted["body"]["external_id"] == str(failed)
        assert "no review" in posted["body"]["output"]["summary"]

        passed = await evaluated(ingest, "pass", first_at + timedelta(seconds=5))
        [*_, updated] = await calls(forge, 3)
        [*_, passed_status] = await calls(lab, 2)
        assert passed_status["body"]["state"] == "success"
        assert updated["method"] == "PATCH"
        assert updated["path"] == f"/repos/acme/web/check-runs/{CHECK_RUN_ID}"
        assert updated["body"]["conclusion"] == "success"
        assert updated["body"]["external_id"] == str(passed)

        # Break-glass on the first (failed) evaluation: nothing holds it any more (the
        # pass replaced it), so nothing is posted; on the current one it is flagged.
        await overridden(ingest, failed)
        await overridden(ingest, passed)
        [*_, flagged] = await calls(forge, 4)
        assert flagged["method"] == "PATCH" and flagged["body"]["conclusion"] == "success"
        assert flagged["body"]["output"]["title"] == "Gate overridden (break-glass)"
        assert "by lead@acme (was fail): hotfix" in flagged["body"]["output"]["summary"]
        await calls(lab, 3)

        # A repository the credentials do not list is nobody's to post to.
        await evaluated(ingest, "fail", first_at, repository="acme/other")
        await asyncio.sleep(0.5)
        assert len(forge.seen) == 4 and len(lab.seen) == 3
    [row] = await ingest.sql(
        "SELECT c.status, c.attempts, c.external_ref FROM ingest.check_runs c"
        " JOIN ingest.sources s ON s.id = c.source_id"
        " WHERE c.repository = 'acme/web' AND s.kind = 'github'"
    )
    assert (row["status"], row["attempts"], row["external_ref"]) == ("posted", 1, str(CHECK_RUN_ID))
