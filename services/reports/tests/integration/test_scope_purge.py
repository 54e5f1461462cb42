"""A purged tenant leaves no row in any reports table (a workspace's purge keeps them: none
names a workspace) and none of its files: its rendered reports and cover logo are gone
from the object store, another tenant's stay."""

from pathlib import Path

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.reports.main import SPEC
from sextant.reports.render import logo_key
from sextant.reports.retention import PURGER
from sextant.runtime.app import create_service_app, current_service
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing
from sextant.runtime.wiring import create_bus


async def test_a_purged_tenant_leaves_no_row_and_no_file_in_reports(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = service_settings(database_url, internal_keys)
    objects = FolderObjectStore(tmp_path)
    app = create_service_app(
        SPEC, settings, bus_factory=lambda: create_bus(settings), objects=objects
    )
    tenant, other = uuid7(), uuid7()
    for owner in (tenant, other):
        await objects.put(f"reports/{owner}/{uuid7()}.pdf", b"%PDF-1.7")
        await objects.put(logo_key(owner), b"\x89PNG")
    async with running_app(app):
        entered = current_service.set(app.state.service)  # as the consumer runs handlers
        try:
            await check_scope_purges_leave_nothing(
                app.state.service.db,
                SPEC.handlers[LIFECYCLE.name],
                PURGER,
                tenant=tenant,
                other=other,
                workspace_tables=(),
            )
        finally:
            current_service.reset(entered)
    left = await objects.list()
    assert [k for k in left if str(tenant) in k] == []
    assert len([k for k in left if str(other) in k]) == 2
