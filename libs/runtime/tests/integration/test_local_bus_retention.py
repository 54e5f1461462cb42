"""The local bus drops records past retention and keeps the rest."""

import asyncpg

from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.bus.local import SCHEMA, LocalBus
from sextant.runtime.db import plain_dsn


async def test_prune_removes_only_records_older_than_retention(database_url):
    dsn = plain_dsn(database_url)
    bus = LocalBus(dsn, partitions=2, retention_days=7)
    await bus.start()
    try:
        await bus.publish([OutgoingRecord("t", f"k{i}", (), b"{}") for i in range(10)])
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            f"UPDATE {SCHEMA}.records SET appended_at = now() - interval '8 days' WHERE \"offset\" < 2"
        )
        old = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.records WHERE appended_at < now() - interval '7 days'"
        )
        assert old > 0
        assert await bus.prune() == old
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.records") == 10 - old
        await conn.close()
    finally:
        await bus.stop()
