"""What insights projected is read through the gateway as a user would: a tenant member's
bearer token, a workspace scope the gateway checks, the list paged and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sextant.cli.testing import eventually, running_platform
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import DeploymentStatusChanged
from sextant.contracts.events.common import Repository, SourceRef
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.plugin import InternalKeys

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def deployed(tenant: UUID, workspace: UUID, n: int) -> Any:
    event = DeploymentStatusChanged(
        source=SourceRef(kind="github", source_id=uuid7(), external_id=f"dep-{n}"),
        repository=Repository(external_id="r1", full_name="octo-org/octo-repo"),
        environment="production",
        is_production=True,
        sha=f"sha{n}",
        status="success",
        finished_at=T0 + timedelta(hours=n),
        occurred_at=T0 + timedelta(hours=n),
    )
    data = ActivityAttributed(
        original_id=uuid7(),
        original_type="sextant.activity.deployment.status_changed.v1",
        original=event.model_dump(mode="json"),
    )
    envelope = Envelope.wrap(
        data, source="/sextant/identity", tenantid=tenant, workspaceid=workspace, subject=f"d{n}"
    )
    return record_for(envelope, ACTIVITY_ATTRIBUTED.name, entity_key(tenant, workspace, f"d{n}"))


async def test_deployments_are_listed_through_the_gateway_paged_and_as_csv(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        public = platform.client
        tenant = await platform.tenant("Acme")
        admin, member = platform.headers("tenant_admin", tenant), platform.headers("member", tenant)
        workspace = UUID(
            (await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)).json()["id"]
        )
        bus = platform.apps["insights"].state.service.bus
        await bus.publish([deployed(tenant, workspace, n) for n in range(3)])
        scope = {"scope": f"workspace:{workspace}"}

        async def listed() -> list[dict[str, Any]] | None:
            reply = await public.get("/v1/deployments", params=scope, headers=member)
            assert reply.status_code == 200, reply.text
            items: list[dict[str, Any]] = reply.json()["items"]
            return items if len(items) == 3 else None

        everything = await eventually(listed)
        assert sorted(d["sha"] for d in everything) == ["sha0", "sha1", "sha2"]

        first = await public.get("/v1/deployments", params={**scope, "limit": 2}, headers=member)
        second = await public.get(
            "/v1/deployments",
            params={**scope, "limit": 2, "cursor": first.json()["next_cursor"]},
            headers=member,
        )
        assert [d["id"] for d in first.json()["items"] + second.json()["items"]] == [
            d["id"] for d in everything
        ]
        assert second.json()["next_cursor"] is None

        as_csv = await public.get(
            "/v1/deployments", params=scope, headers={**member, "Accept": "text/csv"}
        )
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert [r["sha"] for r in csv.DictReader(io.StringIO(as_csv.text))] == [
            d["sha"] for d in everything
        ]

        # A workspace of another tenant is refused at the gateway, before insights.
        other = platform.headers("member", await platform.tenant("Other"))
        refused = await public.get("/v1/deployments", params=scope, headers=other)
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
