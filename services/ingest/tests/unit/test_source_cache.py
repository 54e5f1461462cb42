"""The webhook path's source cache: a source change drops what it names, and a lookup
begun before the change is neither kept nor shared with deliveries that come after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

from sextant.ingest.db.repository import SourceRow
from sextant.ingest.service import SourceCache, _forget_changed, source_change

TENANT, OTHER = UUID(int=1), UUID(int=2)
WORKSPACE, OTHER_WORKSPACE = UUID(int=10), UUID(int=11)


def row(source: int, tenant: UUID = TENANT, workspace: UUID = WORKSPACE) -> SourceRow:
    return SourceRow(
        id=UUID(int=source), tenant_id=tenant, workspace_id=workspace, kind="github",
        name="s", secret_sealed=b"", credentials_sealed=None, mapping={},
        signature_failures=0, created_at=datetime(2026, 1, 1, tzinfo=UTC),
        disabled_at=None, deleted_at=None,
    )  # fmt: skip


def test_a_workspace_change_drops_its_sources_and_no_other() -> None:
    cache = SourceCache(10.0)
    for source in (row(100), row(101, workspace=OTHER_WORKSPACE), row(102, tenant=OTHER)):
        cache.put(source, "secret")
    _forget_changed(cache, source_change(TENANT, workspace_id=WORKSPACE))
    assert cache.get(UUID(int=100)) is None
    assert cache.get(UUID(int=101)) is not None and cache.get(UUID(int=102)) is not None
    _forget_changed(cache, source_change(TENANT))  # the whole tenant
    assert cache.get(UUID(int=101)) is None and cache.get(UUID(int=102)) is not None


async def test_a_lookup_begun_before_a_change_is_not_kept_nor_awaited_by_later_deliveries() -> None:
    cache = SourceCache(10.0)
    epoch = cache.epoch
    lookup = asyncio.create_task(asyncio.sleep(10))  # a lookup under way
    cache.loading[UUID(int=100)] = lookup  # type: ignore[assignment]
    _forget_changed(cache, source_change(TENANT, workspace_id=WORKSPACE))
    assert UUID(int=100) not in cache.loading  # a delivery from now on looks it up again
    cache.put(row(100), "secret", epoch=epoch)  # the old lookup's answer: not kept
    assert cache.get(UUID(int=100)) is None
    lookup.cancel()


def test_nothing_cached_is_believed_while_source_changes_cannot_be_heard() -> None:
    cache = SourceCache(10.0)
    cache.put(row(100), "secret")
    cache.trusted = lambda: False
    assert cache.get(UUID(int=100)) is None
