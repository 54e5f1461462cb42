"""The database stopped mid-load: no delivery that got a 2xx is lost, and while it is
down deliveries get 503 (retryable), never a 2xx and never a 500."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import httpx
import pytest

from sextant.contracts import uuid7
from sextant.ingest.main import SPEC
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from ..fixtures import payloads
from ..fixtures.signing import sign

TENANT = uuid7()
WARM_UP = 80  # deliveries before the database stops


@pytest.fixture
async def own_postgres(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A PostgreSQL this test may stop and start (the shared one must stay up)."""
    server = EmbeddedPostgres(tmp_path / "pg")
    url = await asyncio.to_thread(server.start)
    try:
        yield server, url
    finally:
        await asyncio.to_thread(server.stop)


async def test_no_accepted_delivery_is_lost_when_the_database_stops(
    own_postgres,
    internal_keys: InternalKeys,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server, url = own_postgres
    settings = service_settings(url, internal_keys, data_dir=tmp_path, db_pool_size=4)
    async with running_service(SPEC, settings) as (client, _):
        token = internal_keys.signer.mint(
            service="ingest", subject="admin", role="tenant_admin", tenant_id=TENANT
        )
        created = await client.post(
            f"/v1/workspaces/{TENANT}/sources",
            json={"kind": "jira", "name": "jira"},
            headers={"Authorization": f"Bearer {token}"},
        )
        source = created.json()
        outcomes: dict[str, int] = {}
        refusals: list[httpx.Response] = []

        async def deliver(n: int) -> None:
            body = json.dumps(payloads.jira_created(key=f"ENG-{n}")).encode()
            headers = sign("jira", source["secret"], body, delivery=f"jira-{n}")
            try:
                response = await client.post(
                    f"/v1/hooks/{source['id']}",
                    content=body,
                    headers={"content-type": "application/json", **headers},
                )
                outcomes[f"jira-{n}"] = response.status_code
                if response.status_code == 503:
                    refusals.append(response)
            except Exception:
                outcomes[f"jira-{n}"] = 0

        restarted = asyncio.Event()
        after_restart: list[str] = []

        async def load() -> None:
            """Batches of 8 concurrent deliveries, until 10 batches after the restart."""
            n = 0
            while len(after_restart) < 80:
                batch = range(n, n + 8)
                await asyncio.gather(*(deliver(i) for i in batch))
                if restarted.is_set():
                    after_restart.extend(f"jira-{i}" for i in batch)
                n += 8
                await asyncio.sleep(0.01)

        async def outage() -> None:
            while len(outcomes) < WARM_UP:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(server.stop, "immediate")  # a crash: no clean shutdown
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            restarted.set()

        await asyncio.wait_for(asyncio.gather(load(), outage()), timeout=120)

    accepted = {d for d, status in outcomes.items() if status in (200, 202)}
    refused = {d: status for d, status in outcomes.items() if status not in (200, 202)}
    assert set(refused.values()) <= {503}, refused
    assert refused, "the outage did not reach any delivery; the test proved nothing"
    for refusal in refusals:  # a problem a sender can act on: retry later, nothing stored
        assert refusal.headers["content-type"] == "application/problem+json"
        assert int(refusal.headers["retry-after"]) > 0
        assert "nothing was changed" in refusal.json()["detail"]
    assert len(accepted) >= WARM_UP
    assert accepted & set(after_restart), "nothing was accepted after the restart"
    conn = await asyncpg.connect(url)
    try:
        stored = {
            r["delivery_id"] for r in await conn.fetch("SELECT delivery_id FROM ingest.deliveries")
        }
    finally:
        await conn.close()
    assert accepted <= stored, f"lost after a 2xx: {sorted(accepted - stored)[:5]}"
