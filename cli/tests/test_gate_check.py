"""`sextant gate check` against the whole platform, fed through real, signed GitHub
webhooks (gateway → ingest → identity → insights): a pull request merged without review
fails the gate (exit 1, the reason printed), a review webhook makes a new evaluation pass
(exit 0), and another tenant's token cannot evaluate this tenant's repository."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from typer.testing import CliRunner, Result

from sextant.cli.main import app
from sextant.cli.testing import Platform, eventually, running_platform, served_platform
from sextant.cli.webhooks import sign
from sextant.runtime.testing.plugin import InternalKeys

REPO = {
    "id": 1296269,
    "full_name": "octo-org/octo-repo",
    "html_url": "https://github.com/octo-org/octo-repo",
    "default_branch": "main",
}
OCTOCAT = {"id": 583231, "login": "octocat", "type": "User"}
HUBOT = {"id": 9919, "login": "hubot", "type": "User"}
HEAD, MERGE = "6dcb09b5b57875f334f61aebed695e2e4193db5e", "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def pull_request(merged: bool) -> dict[str, Any]:
    return {
        "id": 1042,
        "number": 42,
        "html_url": "https://github.com/octo-org/octo-repo/pull/42",
        "title": "Make the widget faster",
        "user": OCTOCAT,
        "state": "closed" if merged else "open",
        "draft": False,
        "labels": [],
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-04T15:30:00Z",
        "closed_at": "2026-03-04T15:30:00Z" if merged else None,
        "merged_at": "2026-03-04T15:30:00Z" if merged else None,
        "merged": merged,
        "merge_commit_sha": MERGE if merged else None,
        "merged_by": OCTOCAT if merged else None,
        "head": {"ref": "faster-widget", "sha": HEAD},
        "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b"},
    }


def merged_without_review() -> list[tuple[str, dict[str, Any]]]:
    opened = {"action": "opened", "number": 42, "pull_request": pull_request(False)}
    closed = {"action": "closed", "number": 42, "pull_request": pull_request(True)}
    run = {
        "action": "completed",
        "workflow_run": {
            "id": 30433642,
            "name": "CI",
            "conclusion": "success",
            "run_started_at": "2026-03-04T15:31:00Z",
            "updated_at": "2026-03-04T15:39:00Z",
            "head_sha": MERGE,
            "head_branch": "main",
            "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642",
            "actor": OCTOCAT,
        },
    }
    return [
        ("pull_request", opened | {"repository": REPO, "sender": OCTOCAT}),
        ("pull_request", closed | {"repository": REPO, "sender": OCTOCAT}),
        ("workflow_run", run | {"repository": REPO, "sender": OCTOCAT}),
    ]


def approved_by_hubot() -> tuple[str, dict[str, Any]]:
    review = {
        "id": 80,
        "user": HUBOT,
        "state": "approved",
        "submitted_at": "2026-03-04T16:00:00Z",
    }
    body = {"action": "submitted", "review": review, "pull_request": pull_request(True)}
    return "pull_request_review", body | {"repository": REPO, "sender": HUBOT}


async def gate_check(*args: str) -> Result:
    """The command as a pipeline runs it; in a thread, so the platform keeps answering."""
    return await asyncio.to_thread(CliRunner().invoke, app, ["gate", "check", *args])


def bearer(platform: Platform, role: Any, tenant: UUID) -> str:
    return platform.headers(role, tenant)["Authorization"].removeprefix("Bearer ")


async def test_a_pipeline_is_stopped_until_the_change_is_reviewed(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        public = platform.client
        tenant, other = await platform.tenant("Acme"), await platform.tenant("Umbrella")
        admin = platform.headers("tenant_admin", tenant)
        workspace = (
            await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
        ).json()["id"]
        source = (
            await public.post(
                f"/v1/workspaces/{workspace}/sources",
                json={"kind": "github", "name": "octo-org"},
                headers=admin,
            )
        ).json()

        async def deliver(event: str, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            headers = sign("github", source["secret"], body, event=event)
            reply = await public.post(f"/v1/hooks/{source['id']}", content=body, headers=headers)
            assert reply.status_code == 202, reply.text

        for event, payload in merged_without_review():
            await deliver(event, payload)
        scope = {"scope": f"workspace:{workspace}"}
        member = platform.headers("member", tenant)

        async def projected() -> bool:
            changes = await public.get(
                "/v1/change-requests", params={**scope, "state": "merged"}, headers=member
            )
            built = await public.get("/v1/builds", params=scope, headers=member)
            return bool(changes.json()["items"]) and bool(built.json()["items"])

        await eventually(projected, seconds=30)
        async with served_platform(platform) as url:
            ci = ["--repo", "octo-org/octo-repo", "--sha", MERGE, "--env", "production"]
            ci += ["--workspace", workspace, "--url", url]
            token = ["--token", bearer(platform, "member", tenant)]

            stopped = await gate_check(*ci, *token)
            assert stopped.exit_code == 1, stopped.output
            assert "FAIL reviews: 0 approving review(s) of the 1 required" in stopped.output
            assert "pass builds: 1 build(s) green" in stopped.output
            assert "verdict: FAIL (policy v0" in stopped.output

            await deliver(*approved_by_hubot())

            async def reviewed() -> bool:
                changes = await public.get("/v1/change-requests", params=scope, headers=member)
                return changes.json()["items"][0]["first_review_at"] is not None

            await eventually(reviewed, seconds=30)
            going = await gate_check(*ci, *token)
            assert going.exit_code == 0, going.output
            assert "pass reviews: 1 approving review(s) of the 1 required" in going.output
            assert "verdict: pass" in going.output

            stranger = await gate_check(*ci, "--token", bearer(platform, "tenant_admin", other))
            assert stranger.exit_code == 1
            assert "404" in stranger.output
            assert "verdict" not in stranger.output
