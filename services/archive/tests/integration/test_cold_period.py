"""The end of the cold period on the folder store: an object no hold covers is deleted,
its manifest entry stays as a tombstone and the chain still verifies; a restore finds
nothing left to publish from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sextant.archive import coldstore, purging
from sextant.contracts import uuid7
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.testing.plugin import InternalKeys

from .test_cold_store import LATER, SETTINGS, admin_of, archive, change, publish, staged

# audit_log (sextant.config) is kept cold 2555 days by default: the last event, 2026-03-01
# 09:02, until 2033-02-27 09:02 (seven years to 2033-03-01 are 2557 days, with 2028-02-29
# and 2032-02-29), so a minute before is not past it and 2034 is
BEFORE_COLD_END = datetime(2033, 2, 27, 9, 1, tzinfo=UTC)
PAST_COLD = datetime(2034, 1, 1, tzinfo=UTC)


async def test_an_object_past_its_cold_period_is_deleted_unless_held_and_leaves_a_tombstone(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant = uuid7()
    nine = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    store = FolderObjectStore(tmp_path / "objects")
    async with archive(database_url, internal_keys, store) as (client, state):
        await publish(state, [change(tenant, nine + timedelta(minutes=n), n) for n in range(3)])
        await staged(database_url, 3)
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 1
        headers = admin_of(internal_keys, tenant)
        key = f"tenant={tenant}/topic=sextant.config/day=2026-03-01/part-00001.parquet"

        assert (await purging.request_purges(state, tenant, BEFORE_COLD_END)).deleted == 0
        hold = await client.post(
            "/v1/legal-holds", json={"scope": "tenant", "reason": "audit"}, headers=headers
        )
        assert (await purging.request_purges(state, tenant, PAST_COLD)).deleted == 0
        assert await store.list(f"tenant={tenant}/") == [key]
        await client.post(f"/v1/legal-holds/{hold.json()['id']}/release", headers=headers)

        run = await purging.request_purges(state, tenant, PAST_COLD)
        assert run.deleted == 1
        assert await store.list(f"tenant={tenant}/") == []
        entry = (await client.get("/v1/archive/manifests", headers=headers)).json()["items"][0]
        assert entry["object_key"] == key and entry["deleted_at"] == "2034-01-01T00:00:00Z"
        verified = (await client.post("/v1/archive/verify", headers=headers)).json()
        assert (verified["intact"], verified["objects"], verified["tombstones"]) == (True, 0, 1)
        assert (await purging.request_purges(state, tenant, PAST_COLD)).deleted == 0
