"""A soft-deleted tenant's scope purge reaches identity: every row of every identity table
of the tenant goes (developers, aliases, match keys, the name population, teams…), another
tenant's stay, a workspace's purge keeps them (developers are the tenant's), and the
answer counts the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeRequested
from sextant.contracts.topics import LIFECYCLE
from sextant.identity.db import metadata, spine
from sextant.identity.main import SPEC

from .conftest import Identity, person

SPINE = (spine.outbox, spine.inbox, spine.purged_tenants, spine.purged_workspaces)
OWN_TABLES = [t.name for t in metadata.sorted_tables if t not in SPINE]


async def rows_of(identity: Identity, tenant: UUID) -> dict[str, int]:
    """The tenant's row count in each of identity's own tables (not the spine's)."""
    conn = await asyncpg.connect(identity.dsn)
    try:
        return {
            name: await conn.fetchval(
                f"SELECT count(*) FROM identity.{name} WHERE tenant_id = $1", tenant
            )
            for name in OWN_TABLES
        }
    finally:
        await conn.close()


def purge(tenant: UUID, scope: str, workspace: UUID | None = None) -> Envelope:
    request = PurgeRequested(
        manifest_id=uuid7(),
        older_than=datetime(2026, 12, 1, tzinfo=UTC),
        scope=scope,
        workspace_id=workspace,
    )
    return Envelope.wrap(request, source="/sextant/archive", tenantid=tenant, subject="scope")


async def test_a_purged_tenant_leaves_no_row_in_identity(identity: Identity) -> None:
    other = uuid7()
    for tenant in (identity.tenant, other):
        await identity.attribute(
            person("Ada Lovelace", "ada@example.org"),
            person("Bob Dobbs", "bob@example.org"),
            tenant=tenant,
        )
    ada = (await identity.attribute(person("Ada Lovelace", "ada@example.org")))[0]
    team = await identity.client.post(
        "/v1/teams", json={"name": "Platform"}, headers=identity.admin
    )
    assert team.status_code == 201, team.text
    joined = await identity.client.post(
        f"/v1/teams/{team.json()['id']}/members",
        json={"developer_id": str(ada), "starts_on": "2026-03-01"},
        headers=identity.admin,
    )
    assert joined.status_code == 201, joined.text
    before = await rows_of(identity, identity.tenant)
    kept = await rows_of(identity, other)
    filled = {name for name, count in before.items() if count}
    assert {
        "developers",
        "aliases",
        "alias_keys",
        "address_names",
        "names_seen",
        "name_tokens",
        "teams",
        "team_memberships",
    } <= filled

    handler = SPEC.handlers[LIFECYCLE.name]
    async with identity.state.db.transaction(identity.tenant) as session:
        await handler(session, purge(identity.tenant, "workspace", uuid7()))
    assert await rows_of(identity, identity.tenant) == before  # no table has a workspace

    async with identity.state.db.transaction(identity.tenant) as session:
        await handler(session, purge(identity.tenant, "tenant"))
    assert await rows_of(identity, identity.tenant) == dict.fromkeys(OWN_TABLES, 0)
    assert await rows_of(identity, other) == kept
    done = await identity.events("sextant.lifecycle.purge.done.v1")
    assert {d.data["scope"]: d.data["rows_deleted"] for d in done} == {
        "workspace": 0,
        "tenant": sum(before.values()),
    }
