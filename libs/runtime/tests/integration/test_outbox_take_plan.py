"""The relay's take statement reaches a busy outbox's rows through its primary key."""

import json

import asyncpg

from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import take_statement

OUTBOX = (
    "CREATE TABLE outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " event_id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(), topic text NOT NULL,"
    " key text NOT NULL, envelope jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


def scans(plan: dict) -> list[tuple[str, str | None]]:
    """Every (node type, relation) under ``plan``."""
    found = [(plan["Node Type"], plan.get("Relation Name"))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


async def test_a_churned_outbox_is_taken_through_its_primary_key_not_scanned(database_url):
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(OUTBOX)
        insert = "INSERT INTO outbox (topic, key, envelope) SELECT 't', 'k', $1::jsonb FROM generate_series(1, $2)"
        envelope = json.dumps({"id": "x", "data": {"n": 1}})
        await conn.execute(insert, envelope, 5000)
        await conn.execute("DELETE FROM outbox")  # relayed, not yet vacuumed: dead rows
        await conn.execute(insert, envelope, 3)
        [[explained]] = await conn.fetch(f"EXPLAIN (FORMAT JSON) {take_statement('outbox')}", 500)
        [plan] = json.loads(explained)
        delete = plan["Plan"]
        assert delete["Node Type"] == "ModifyTable"
        # The rows deleted come from an index probe; only the LIMIT's own ordered read
        # (an initplan) may touch the table otherwise.
        outer = [p for p in delete["Plans"] if p.get("Parent Relationship") != "InitPlan"]
        assert ("Seq Scan", "outbox") not in [s for p in outer for s in scans(p)]
        taken = await conn.fetch(take_statement("outbox"), 2)
        assert [r["data"] for r in taken] == ['{"n": 1}'] * 2
        assert [r["attributes"] for r in taken] == ['{"id": "x"}'] * 2
        assert all(0 <= r["waited"] < 60 for r in taken)  # seconds since committed
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await conn.close()
